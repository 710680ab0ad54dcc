"""Exception handling below a route's, mount's or router's own middleware.

An application's exception handlers live in its ExceptionMiddleware, outside the router. When
a route, mount or router has middleware of its own, the response to an exception raised
inside must still pass through that middleware: `handled` answers the exception where it is
raised, with the handlers the ExceptionMiddleware published in the scope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stellina.asgi import TrackedSend, find_exception_handler
from stellina.concurrency import is_async_callable, run_in_threadpool
from stellina.requests import HTTPConnection, Request
from stellina.types import ASGIApp, Receive, Scope, Send
from stellina.websockets import WebSocket

__all__ = ["HANDLERS_SCOPE_KEY", "handled"]

#: Where ExceptionMiddleware publishes `(handlers by exception class, handlers by status)`.
HANDLERS_SCOPE_KEY = "stellina.exception_handlers"

_Handlers = tuple[
    Mapping[type[BaseException], Callable[..., Any]], Mapping[int, Callable[..., Any]]
]


def handled(app: ASGIApp) -> ASGIApp:
    """`app`, with the exceptions it raises answered by the scope's exception handlers."""

    async def answering(scope: Scope, receive: Receive, send: Send) -> None:
        handlers: _Handlers | None = scope.get(HANDLERS_SCOPE_KEY)
        if handlers is None:
            await app(scope, receive, send)
            return
        tracked = TrackedSend.around(send)
        try:
            await app(scope, receive, tracked.forward)
        except Exception as exc:
            handler = find_exception_handler(*handlers, exc)
            if handler is None:
                raise
            if tracked.started:
                raise RuntimeError(
                    "Caught handled exception, but response already started."
                ) from exc
            conn: HTTPConnection = (
                Request(scope, receive, send)
                if scope["type"] == "http"
                else WebSocket(scope, receive, send)
            )
            if is_async_callable(handler):
                response = await handler(conn, exc)
            else:
                response = await run_in_threadpool(handler, conn, exc)
            if response is not None:
                await response(scope, receive, send)

    return answering
