"""Class-based endpoints: HTTP handlers per method, and WebSocket sessions by callbacks."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Literal, NoReturn

from stellina import status
from stellina.asgi import load_json
from stellina.concurrency import is_async_callable, run_in_threadpool
from stellina.exceptions import HTTPException
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.types import Message, Receive, Scope, Send
from stellina.websockets import WebSocket

__all__ = ["HTTPEndpoint", "WebSocketEndpoint"]

_STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY")


class HTTPEndpoint:
    """An ASGI app answering each request with the method named after its HTTP method.

    Define `async def get(self, request)` (or a sync one, run in a thread), `post`, ...;
    HEAD falls back to `get`. Other methods get a 405 listing the allowed ones.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.scope, self.receive, self.send = scope, receive, send

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        """Call the handler for the request's method and send its response."""
        request = Request(self.scope, receive=self.receive, send=self.send)
        handler = self._handler(request.method)
        call = (
            handler(request) if is_async_callable(handler) else run_in_threadpool(handler, request)
        )
        response = await call
        await response(self.scope, self.receive, self.send)

    def _handler(self, method: str) -> Callable[[Request], Any]:
        """The handler of `method`: the method of that name, HEAD falling back to GET."""
        name = method.lower()
        if name == "head" and not hasattr(self, "head"):
            name = "get"
        # A method may only reach a handler, never this class's own machinery.
        found = None if name.startswith("_") or name in _RESERVED else getattr(self, name, None)
        return found if callable(found) else self.method_not_allowed

    async def method_not_allowed(self, request: Request) -> Response:
        """405 with an Allow header (HTTPException inside an application)."""
        allowed = [
            method
            for method in _STANDARD_METHODS
            if getattr(self, method.lower(), None) is not None
            or (method == "HEAD" and getattr(self, "get", None) is not None)
        ]
        headers = {"Allow": ", ".join(allowed)}
        if "app" in self.scope:
            raise HTTPException(status_code=405, headers=headers)
        return PlainTextResponse("Method Not Allowed", status_code=405, headers=headers)


_RESERVED = frozenset(dir(HTTPEndpoint)) | {"scope", "receive", "send"}


class WebSocketEndpoint:
    """An ASGI app running a WebSocket session through `on_connect`, `on_receive`, `on_disconnect`.

    `encoding` decodes each message for `on_receive`: "text", "bytes", "json" or None (as sent).
    """

    encoding: Literal["text", "bytes", "json"] | None = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        self.scope, self.receive, self.send = scope, receive, send

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        """Accept (via `on_connect`), feed each message to `on_receive` until disconnect.

        `on_disconnect` always runs: with the client's close code, or 1011 when an error
        ended the session.
        """
        websocket = WebSocket(self.scope, receive=self.receive, send=self.send)
        await self.on_connect(websocket)
        close_code = status.WS_1011_INTERNAL_ERROR
        try:
            close_code = await self._converse(websocket)
        finally:
            await self.on_disconnect(websocket, close_code)

    async def _converse(self, websocket: WebSocket) -> int:
        """Hand each message to `on_receive`; the close code once the client disconnects."""
        while True:
            message = await websocket.receive()
            kind = message["type"]
            if kind == "websocket.receive":
                await self.on_receive(websocket, await self.decode(websocket, message))
            elif kind == "websocket.disconnect":
                return int(message.get("code") or status.WS_1000_NORMAL_CLOSURE)

    async def decode(self, websocket: WebSocket, message: Message) -> Any:
        """The message's data per `encoding`; closes with 1003 and raises on a mismatch."""
        encoding = self.encoding
        if encoding is None:
            text = message.get("text")
            return text if text is not None else message.get("bytes")
        if encoding == "json":
            return await self._json(websocket, message)
        assert encoding in _RAW, f"Unsupported 'encoding' attribute {encoding}"
        key, other = _RAW[encoding]
        data = message.get(key)
        if data is None:
            await _refuse(websocket, f"Expected {key} websocket messages, but got {other}")
        return data

    async def _json(self, websocket: WebSocket, message: Message) -> Any:
        text = message.get("text")
        try:
            return load_json(text if text is not None else (message.get("bytes") or b"").decode())
        except ValueError:  # invalid UTF-8 or JSON
            await _refuse(websocket, "Malformed JSON data received.")

    async def on_connect(self, websocket: WebSocket) -> None:
        """Called first; accepts the connection. Override to check or choose a subprotocol."""
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        """Called with each decoded message."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        """Called once the session ends, with the close code."""


# For each raw encoding: the message key carrying it, and what a mismatch got instead.
_RAW = {"text": ("text", "bytes"), "bytes": ("bytes", "text")}


async def _refuse(websocket: WebSocket, reason: str) -> NoReturn:
    """Close with 1003 (unsupported data) and raise RuntimeError(`reason`)."""
    await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA)
    raise RuntimeError(reason) from None
