"""Exception handling below a route's, mount's or router's own middleware.

An application's exception handlers live in its ExceptionMiddleware, outside the router. When
a route, mount or router has middleware of its own, the response to an exception raised
inside must still pass through that middleware: `handled` answers the exception where it is
raised, through the ExceptionMiddleware the scope names.
"""

from __future__ import annotations

from typing import Protocol

from stellina.asgi import EXCEPTION_MIDDLEWARE_SCOPE_KEY, TrackedSend
from stellina.types import ASGIApp, Receive, Scope, Send

__all__ = ["handled"]


class _Answering(Protocol):
    """What routing needs of an ExceptionMiddleware (a distribution it does not depend on)."""

    async def answer(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> bool: ...


def handled(app: ASGIApp) -> ASGIApp:
    """`app`, with the exceptions it raises answered by the scope's ExceptionMiddleware."""

    async def answering(scope: Scope, receive: Receive, send: Send) -> None:
        middleware: _Answering | None = scope.get(EXCEPTION_MIDDLEWARE_SCOPE_KEY)
        if middleware is None:
            await app(scope, receive, send)
            return
        tracked = TrackedSend.around(send)
        try:
            await app(scope, receive, tracked.forward)
        except Exception as exc:
            if not await middleware.answer(exc, scope, receive, tracked.forward):
                raise

    return answering
