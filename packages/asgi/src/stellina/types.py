"""The ASGI type aliases every stellina piece speaks.

An ASGI application is an async callable of a connection ``Scope``, a ``Receive`` callable
that yields the client's messages and a ``Send`` callable that takes the application's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from stellina.requests import Request
    from stellina.responses import Response
    from stellina.websockets import WebSocket

AppType = TypeVar("AppType")
"""The application a lifespan function receives."""

Scope: TypeAlias = MutableMapping[str, Any]
"""What the server tells about one connection: type, path, headers, ..."""
Message: TypeAlias = MutableMapping[str, Any]
"""One event of the connection, in either direction; its ``type`` says which."""

Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application, or middleware wrapping one."""

StatelessLifespan: TypeAlias = Callable[[AppType], AbstractAsyncContextManager[None]]
"""A lifespan that yields nothing."""
StatefulLifespan: TypeAlias = Callable[[AppType], AbstractAsyncContextManager[Mapping[str, Any]]]
"""A lifespan that yields the state every request's ``state`` starts from."""
Lifespan: TypeAlias = StatelessLifespan[AppType] | StatefulLifespan[AppType]

HTTPExceptionHandler: TypeAlias = Callable[["Request", Exception], "Response | Awaitable[Response]"]
"""Turns an exception raised by an HTTP endpoint into the response to send."""
WebSocketExceptionHandler: TypeAlias = Callable[["WebSocket", Exception], Awaitable[None]]
"""Ends a WebSocket session after an exception, usually by closing it."""
ExceptionHandler: TypeAlias = HTTPExceptionHandler | WebSocketExceptionHandler
