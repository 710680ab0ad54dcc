"""Class-based endpoints: HTTP handlers per method, and WebSocket sessions by callbacks."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, Literal

from stellina import status
from stellina.concurrency import is_async_callable, run_in_threadpool
from stellina.exceptions import HTTPException
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.types import Message, Receive, Scope, Send
from stellina.websockets import WebSocket

__all__ = ["HTTPEndpoint", "WebSocketEndpoint"]

_STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class HTTPEndpoint:
    """An ASGI app answering each request with the method named after its HTTP method.

    Define `async def get(self, request)` (or a sync one, run in a thread), `post`, ...;
    HEAD falls back to `get`. Other methods get a 405 listing the allowed ones.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.scope = scope
        self.receive = receive
        self.send = send

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        """Call the handler for the request's method and send its response."""
        request = Request(self.scope, receive=self.receive)
        name = request.method.lower()
        if name == "head" and not hasattr(self, "head"):
            name = "get"
        # A method may only reach a handler, never this class's own machinery.
        handler = None if name.startswith("_") or name in _RESERVED else getattr(self, name, None)
        if not callable(handler):
            handler = self.method_not_allowed
        if is_async_callable(handler):
            response = await handler(request)
        else:
            response = await run_in_threadpool(handler, request)
        await response(self.scope, self.receive, self.send)

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
        self.scope = scope
        self.receive = receive
        self.send = send

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        """Accept (via `on_connect`), feed each message to `on_receive` until disconnect."""
        websocket = WebSocket(self.scope, receive=self.receive, send=self.send)
        await self.on_connect(websocket)
        close_code = status.WS_1000_NORMAL_CLOSURE
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.receive":
                    data = await self.decode(websocket, message)
                    await self.on_receive(websocket, data)
                elif message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or status.WS_1000_NORMAL_CLOSURE)
                    break
        except Exception:
            close_code = status.WS_1011_INTERNAL_ERROR
            raise
        finally:
            await self.on_disconnect(websocket, close_code)

    async def decode(self, websocket: WebSocket, message: Message) -> Any:
        """The message's data per `encoding`; closes with 1003 and raises on a mismatch."""
        text = message.get("text")
        if self.encoding == "text":
            if text is None:
                await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA)
                raise RuntimeError("Expected text websocket messages, but got bytes")
            return text
        if self.encoding == "bytes":
            data = message.get("bytes")
            if data is None:
                await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA)
                raise RuntimeError("Expected bytes websocket messages, but got text")
            return data
        if self.encoding == "json":
            try:
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8")
                return json.loads(text)
            except (ValueError, RecursionError):  # invalid UTF-8 or JSON, or absurd nesting
                await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA)
                raise RuntimeError("Malformed JSON data received.") from None
        assert self.encoding is None, f"Unsupported 'encoding' attribute {self.encoding}"
        return text if text is not None else message.get("bytes")

    async def on_connect(self, websocket: WebSocket) -> None:
        """Called first; accepts the connection. Override to check or choose a subprotocol."""
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        """Called with each decoded message."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        """Called once the session ends, with the close code."""
