"""AuthenticationMiddleware: fill ``scope["auth"]`` and ``scope["user"]`` from a backend."""

from __future__ import annotations

__version__ = "0.1.0"

from collections.abc import Callable

from stellina.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    UnauthenticatedUser,
)
from stellina.requests import HTTPConnection
from stellina.responses import PlainTextResponse, Response
from stellina.types import ASGIApp, Receive, Scope, Send

__all__ = ["AuthenticationMiddleware"]

ErrorHandler = Callable[[HTTPConnection, AuthenticationError], Response]

_AUTHENTICATED = frozenset({"http", "websocket"})


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
        if scope["type"] in _AUTHENTICATED:
            conn = HTTPConnection(scope)
            identity = await self._identify(conn)
            if isinstance(identity, AuthenticationError):
                await self._refuse(conn, identity, receive, send)
                return
            scope["auth"], scope["user"] = identity
        await self.app(scope, receive, send)

    async def _identify(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, BaseUser] | AuthenticationError:
        """The backend's credentials and user (anonymous ones for None), or its error."""
        try:
            found = await self.backend.authenticate(conn)
        except AuthenticationError as exc:
            return exc
        return (AuthCredentials(), UnauthenticatedUser()) if found is None else found

    async def _refuse(
        self, conn: HTTPConnection, exc: AuthenticationError, receive: Receive, send: Send
    ) -> None:
        """Answer a failed authentication: on_error's response, or a closed WebSocket."""
        response = self.on_error(conn, exc)
        if conn.scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
        else:
            await response(conn.scope, receive, send)

    @staticmethod
    def default_on_error(conn: HTTPConnection, exc: Exception) -> Response:
        """The default error response: the exception message, 400 Bad Request."""
        return PlainTextResponse(str(exc), status_code=400)
