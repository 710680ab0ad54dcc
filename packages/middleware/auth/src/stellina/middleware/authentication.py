"""AuthenticationMiddleware: fill ``scope["auth"]`` and ``scope["user"]`` from a backend."""

from __future__ import annotations

from collections.abc import Callable

from stellina.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    UnauthenticatedUser,
)
from stellina.requests import HTTPConnection
from stellina.responses import PlainTextResponse, Response
from stellina.types import ASGIApp, Receive, Scope, Send

__all__ = ["AuthenticationMiddleware"]

ErrorHandler = Callable[[HTTPConnection, AuthenticationError], Response]


class AuthenticationMiddleware:
    """Authenticates every HTTP and WebSocket connection with ``backend``.

    Connections without credentials get ``AuthCredentials()`` and an ``UnauthenticatedUser``.
    When the backend raises AuthenticationError, HTTP requests are answered with
    ``on_error(conn, exc)`` (by default the message as a 400 plain-text response) and
    WebSocket sessions are closed.
    """

    def __init__(
        self,
        app: ASGIApp,
        backend: AuthenticationBackend,
        on_error: ErrorHandler | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.on_error: ErrorHandler = on_error if on_error is not None else self.default_on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        try:
            result = await self.backend.authenticate(conn)
        except AuthenticationError as exc:
            response = self.on_error(conn, exc)
            if scope_type == "websocket":
                await send({"type": "websocket.close", "code": 1000, "reason": ""})
            else:
                await response(scope, receive, send)
            return
        if result is None:
            scope["auth"] = AuthCredentials()
            scope["user"] = UnauthenticatedUser()
        else:
            scope["auth"], scope["user"] = result
        await self.app(scope, receive, send)

    @staticmethod
    def default_on_error(conn: HTTPConnection, exc: Exception) -> Response:
        """The default error response: the exception message, 400 Bad Request."""
        return PlainTextResponse(str(exc), status_code=400)
