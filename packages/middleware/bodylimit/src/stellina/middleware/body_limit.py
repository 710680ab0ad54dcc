"""Request body size limit middleware for any ASGI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TOO_LARGE = b"Content Too Large"


class RequestBodyTooLarge(Exception):
    """Raised by ``receive()`` once the request body has crossed the limit.

    The middleware answers 413 itself when the response has not started; the application
    should simply let this exception propagate.
    """

    def __init__(self, max_body_size: int) -> None:
        super().__init__(f"request body exceeds {max_body_size} bytes")
        self.max_body_size = max_body_size


async def _send_too_large(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-length", str(len(_TOO_LARGE)).encode()),
                (b"content-type", b"text/plain; charset=utf-8"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _TOO_LARGE})


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length of the request, or None when absent or malformed."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit():
                return None
            # Longer than any real limit; int() of thousands of digits is slow.
            return int(value) if len(value) <= 18 else 10**18
    return None


class RequestBodyLimitMiddleware:
    """Answer 413 to HTTP requests whose body is larger than ``max_body_size`` bytes.

    A declared ``Content-Length`` over the limit is refused before the application runs. A
    body without one (chunked) is counted as it is read: once it crosses the limit,
    ``receive()`` raises :class:`RequestBodyTooLarge`, nothing more is read, whatever the
    application sends afterwards is dropped, and the client gets a 413 unless the response
    had already started.
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
        declared = _declared_length(scope)
        if declared is not None:
            if declared > self.max_body_size:
                await _send_too_large(send)
            else:  # the server holds the body to its declared length
                await self.app(scope, receive, send)
            return
        guard = _Guard(receive, send, self.max_body_size)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.exceeded:
                raise
        if guard.exceeded and not guard.started:
            await _send_too_large(send)


class _Guard:
    """Counts the body bytes received; after the limit, refuses to read or send more."""

    __slots__ = ("exceeded", "limit", "received", "started", "target_receive", "target_send")

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self.target_receive = receive
        self.target_send = send
        self.limit = limit
        self.received = 0
        self.started = False
        self.exceeded = False

    async def receive(self) -> Message:
        if self.exceeded:
            raise RequestBodyTooLarge(self.limit)
        message = await self.target_receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.exceeded = True
                raise RequestBodyTooLarge(self.limit)
        return message

    def send(self, message: Message) -> Awaitable[None]:
        if self.exceeded:
            return _dropped()
        if message["type"] == "http.response.start":
            self.started = True
        return self.target_send(message)


async def _dropped() -> None:
    """What sending looks like once the limit is crossed: nothing reaches the client."""
