"""WebSocket sessions over ASGI, with the state checks of the WebSocket protocol."""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

from stellina.asgi import load_json
from stellina.requests import HTTPConnection, StateT
from stellina.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
]


T = TypeVar("T")


class WebSocketState(enum.Enum):
    """Where one side of a WebSocket session stands."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


_CONNECTING = WebSocketState.CONNECTING
_CONNECTED = WebSocketState.CONNECTED
_DISCONNECTED = WebSocketState.DISCONNECTED
_RESPONSE = WebSocketState.RESPONSE


class WebSocketDisconnect(Exception):
    """The session ended: the client disconnected with `code`, or the send failed."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""


class WebSocketDisconnected(RuntimeError):
    """The application used a session that is not (or no longer) connected."""


# The key of a websocket.send / websocket.receive message carrying each kind of frame.
_FRAME_KEYS = {"text": "text", "binary": "bytes"}


def _check_mode(mode: str) -> None:
    if mode not in _FRAME_KEYS:
        raise RuntimeError('The "mode" argument should be "text" or "binary".')


def _data_frame(mode: str, data: str | bytes) -> Message:
    return {"type": "websocket.send", _FRAME_KEYS[mode]: data}


async def _until_disconnect(receive: Callable[[], Awaitable[T]]) -> AsyncIterator[T]:
    """The messages ``receive`` returns, until it raises WebSocketDisconnect."""
    while True:
        try:
            item = await receive()
        except WebSocketDisconnect:
            return
        yield item


class WebSocket(HTTPConnection[StateT]):
    """A WebSocket session: accept, exchange text/bytes/JSON messages, close."""

    __slots__ = ("_receive", "_send", "application_state", "client_state")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        HTTPConnection.__init__(self, scope)
        self._receive = receive
        self._send = send
        self.client_state = _CONNECTING
        self.application_state = _CONNECTING

    async def receive(self) -> Message:
        """Receive the next ASGI message, checking it fits the client's state."""
        state = self.client_state
        if state is _CONNECTED:
            message = await self._receive()
            message_type = message["type"]
            if message_type == "websocket.disconnect":
                self.client_state = _DISCONNECTED
            elif message_type != "websocket.receive":
                raise RuntimeError(
                    'Expected ASGI message "websocket.receive" or "websocket.disconnect", '
                    f"but got {message_type!r}"
                )
            return message
        if state is _CONNECTING:
            message = await self._receive()
            message_type = message["type"]
            if message_type != "websocket.connect":
                raise RuntimeError(
                    f'Expected ASGI message "websocket.connect", but got {message_type!r}'
                )
            self.client_state = _CONNECTED
            return message
        raise WebSocketDisconnected(
            'Cannot call "receive" once a disconnect message has been received.'
        )

    async def send(self, message: Message) -> None:
        """Send an ASGI message, checking it fits the application's state."""
        state = self.application_state
        if state is _DISCONNECTED:
            raise WebSocketDisconnected('Cannot call "send" once a close message has been sent.')
        message_type = message["type"]
        if state is _CONNECTED:
            if message_type == "websocket.close":
                self.application_state = _DISCONNECTED
            elif message_type != "websocket.send":
                raise RuntimeError(
                    'Expected ASGI message "websocket.send" or "websocket.close", '
                    f"but got {message_type!r}"
                )
            try:
                await self._send(message)
            except OSError:
                self.application_state = _DISCONNECTED
                raise WebSocketDisconnect(code=1006) from None
        elif state is _CONNECTING:
            if message_type == "websocket.accept":
                self.application_state = _CONNECTED
            elif message_type == "websocket.close":
                self.application_state = _DISCONNECTED
            elif message_type == "websocket.http.response.start":
                self.application_state = _RESPONSE
            else:
                raise RuntimeError(
                    'Expected ASGI message "websocket.accept", "websocket.close" or '
                    f'"websocket.http.response.start", but got {message_type!r}'
                )
            await self._send(message)
        else:  # sending the denial response's body
            if message_type != "websocket.http.response.body":
                raise RuntimeError(
                    'Expected ASGI message "websocket.http.response.body", '
                    f"but got {message_type!r}"
                )
            if not message.get("more_body", False):
                self.application_state = _DISCONNECTED
            await self._send(message)

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Accept the session, first waiting for the client's connect message if needed."""
        message: Message = {"type": "websocket.accept", "subprotocol": subprotocol}
        message["headers"] = list(headers) if headers is not None else []
        if self.client_state is _CONNECTING:
            await self.receive()  # the websocket.connect message
        await self.send(message)

    async def _receive_data(self) -> Message:
        """The next data message; WebSocketDisconnect once the client has gone."""
        if self.application_state is not _CONNECTED:
            raise WebSocketDisconnected('WebSocket is not connected. Need to call "accept" first.')
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1005), message.get("reason"))
        return message

    async def receive_text(self) -> str:
        """The next text message; WebSocketDisconnect when the client has gone."""
        text: str = (await self._receive_data())["text"]
        return text

    async def receive_bytes(self) -> bytes:
        """The next binary message; WebSocketDisconnect when the client has gone."""
        data: bytes = (await self._receive_data())["bytes"]
        return data

    async def receive_json(self, mode: str = "text") -> Any:
        """The next message decoded as JSON, from a text or (UTF-8) binary frame."""
        _check_mode(mode)
        payload = (await self._receive_data())[_FRAME_KEYS[mode]]
        return load_json(payload if mode == "text" else payload.decode("utf-8"))

    def iter_text(self) -> AsyncIterator[str]:
        """Yield text messages until the client disconnects."""
        return _until_disconnect(self.receive_text)

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield binary messages until the client disconnects."""
        return _until_disconnect(self.receive_bytes)

    def iter_json(self) -> AsyncIterator[Any]:
        """Yield JSON messages until the client disconnects."""
        return _until_disconnect(self.receive_json)

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        await self.send(_data_frame("text", data))

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        await self.send(_data_frame("binary", data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send `data` as compact JSON, in a text or (UTF-8) binary frame."""
        _check_mode(mode)
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        await self.send(_data_frame(mode, text if mode == "text" else text.encode("utf-8")))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the session (or refuse it, before accept) with `code`."""
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})

    async def send_denial_response(self, response: ASGIApp) -> None:
        """Refuse the handshake with an HTTP response (websocket.http.response extension)."""
        if "websocket.http.response" not in self.scope.get("extensions", {}):
            raise RuntimeError(
                "The server doesn't support the Websocket Denial Response extension."
            )
        await response(self.scope, self.receive, self.send)


class WebSocketClose:
    """An ASGI app that closes the WebSocket session with `code` and `reason`."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.close", "code": self.code, "reason": self.reason})
