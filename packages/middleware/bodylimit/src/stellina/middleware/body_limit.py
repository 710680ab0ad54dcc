"""Request body size limit middleware for any ASGI application."""

from __future__ import annotations

__version__ = "0.1.0"

from stellina.asgi import CONTENT_TOO_LARGE, MAX_BODY_SIZE_SCOPE_KEY, BodyLimit, declared_length
from stellina.types import ASGIApp, Receive, Scope, Send

__all__ = ["MAX_BODY_SIZE_SCOPE_KEY", "RequestBodyLimitMiddleware"]

_ABSENT = object()


class RequestBodyLimitMiddleware:
    """Answer 413 to HTTP requests whose body is larger than ``max_body_size`` bytes.

    A declared ``Content-Length`` over the limit is refused before the application runs.
    Whatever the header says, the body is counted as it is read (`stellina.asgi.BodyLimit`,
    the mechanism the application-level ``max_body_size`` shares, so inner layers may
    change the limit): once it crosses the limit, ``receive()`` raises ``HTTPException``
    413. The client then gets 413 "Content Too Large" unless the response had started; in
    that case the exception propagates. For the duration of the call the scope's
    ``MAX_BODY_SIZE_SCOPE_KEY`` holds the limit; the previous value is restored afterwards.
    """

    __slots__ = ("app", "max_body_size")

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int):
            raise TypeError("max_body_size must be an int")
        if max_body_size < 0:
            raise ValueError("max_body_size must be >= 0")
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_body_size:
            await CONTENT_TOO_LARGE.send(send)
            return
        previous = scope.get(MAX_BODY_SIZE_SCOPE_KEY, _ABSENT)
        outer = BodyLimit.of(scope)
        outer_limit = None if outer is None else outer.limit
        try:
            await BodyLimit.run(
                self.app, self.max_body_size, scope, receive, send, always_answer=True
            )
        finally:
            if previous is _ABSENT:
                scope.pop(MAX_BODY_SIZE_SCOPE_KEY, None)
            else:
                scope[MAX_BODY_SIZE_SCOPE_KEY] = previous
            if outer is not None:
                outer.limit = outer_limit
