"""A WebSocket session with the app, driven synchronously from the test thread."""

from __future__ import annotations

import contextlib
import json
from types import TracebackType
from typing import Any, Literal, NoReturn

import httpx

from stellina.types import ASGIApp, Message, Scope
from stellina.websockets import WebSocketDisconnect

from .calls import Conversation, PortalFactory

_APP_MESSAGES = frozenset(
    {
        "websocket.accept",
        "websocket.send",
        "websocket.close",
        "websocket.http.response.start",
        "websocket.http.response.body",
    }
)


class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """Raised when the app refuses a WebSocket with an HTTP response; it is that response."""


def _frame(payload: str | bytes) -> Message:
    """The ``websocket.receive`` message carrying `payload` as a text or binary frame."""
    key = "text" if isinstance(payload, str) else "bytes"
    return {"type": "websocket.receive", key: payload}


class _Channel(Conversation):
    """The app's side of the session: checks what the app sends and explains silences."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        super().__init__(app, scope)
        self.handshake_done = False
        self.closed = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind not in _APP_MESSAGES:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} sent on a WebSocket.")
        self.handshake_done = self.handshake_done or kind == "websocket.accept"
        self.closed = self.closed or kind == "websocket.close"
        await super().send(message)

    def deliver(self, message: Message) -> None:
        if self.done:
            self.raise_unreported()
        super().deliver(message)

    async def message(self) -> Message:
        """The app's next message; raises its error, or explains why none will come."""
        message = await self.next_message("a message from the WebSocket application")
        if message is not None:
            return message
        self.raise_unreported()
        if self.closed:
            reason = "The WebSocket is closed: the application sends no more messages."
        elif self.handshake_done:
            reason = "The WebSocket application returned without sending a message."
        else:
            reason = (
                "The WebSocket application returned without accepting or closing the connection."
            )
        raise RuntimeError(reason)

    async def payload(self, key: str) -> Any:
        """The next frame's `key` ("text" or "bytes"); raises if the app closes or refuses."""
        message = await self.message()
        if message["type"] in ("websocket.close", "websocket.http.response.start"):
            await self.refuse(message)
        return message[key]

    async def accept(self) -> Message:
        """Connect; the app's accept message, unless it closes or refuses instead."""
        self.deliver({"type": "websocket.connect"})
        message = await self.message()
        if message["type"] != "websocket.accept":
            await self.refuse(message)
        return message

    async def refuse(self, message: Message) -> NoReturn:
        """Raise what a close or a denial response means for the client."""
        kind = message["type"]
        if kind == "websocket.close":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason", ""))
        if kind != "websocket.http.response.start":
            raise RuntimeError(f"Expected ASGI message 'websocket.accept', but got {kind!r}.")
        body = bytearray()
        more = True
        while more:
            part = await self.message()
            if part["type"] != "websocket.http.response.body":
                raise RuntimeError(
                    'Expected ASGI message "websocket.http.response.body", '
                    f"but got {part['type']!r}."
                )
            body += part.get("body", b"")
            more = bool(part.get("more_body", False))
        raise WebSocketDenialResponse(
            status_code=message["status"], headers=message.get("headers", []), content=bytes(body)
        )

    async def finish(self) -> None:
        """The client leaves: tell a running app, let it wind down, then cancel it."""
        if not self.done:
            self.deliver({"type": "websocket.disconnect", "code": 1000, "reason": None})
            await self.settle()
        self.raise_unreported()


class WebSocketTestSession:
    """A WebSocket connection to the app, driven synchronously from the test."""

    def __init__(self, app: ASGIApp, scope: Scope, portal_factory: PortalFactory) -> None:
        self.app = app
        self.scope = scope
        self.portal_factory = portal_factory
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> WebSocketTestSession:
        with contextlib.ExitStack() as stack:
            self.portal = stack.enter_context(self.portal_factory())
            self._channel = _Channel(self.app, self.scope)
            self.portal.start_task_soon(self._channel.run)
            stack.callback(self.portal.call, self._channel.finish)
            accepted = self.portal.call(self._channel.accept)
            self.accepted_subprotocol = accepted.get("subprotocol")
            self.extra_headers = accepted.get("headers")
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return self._stack.__exit__(exc_type, exc_value, traceback)

    def send(self, message: Message) -> None:
        """Send a raw ASGI message to the app."""
        self.portal.call(self._channel.deliver, message)

    def send_text(self, data: str) -> None:
        """Send a text frame."""
        self.send(_frame(data))

    def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        self.send(_frame(data))

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send `data` as compact JSON in a text (or, with mode="binary", binary) frame."""
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self.send(_frame(text if mode == "text" else text.encode()))

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Disconnect from the app with `code` and `reason`."""
        self.send({"type": "websocket.disconnect", "code": code, "reason": reason})

    def receive(self) -> Message:
        """The next raw ASGI message the app sent."""
        return self.portal.call(self._channel.message)

    def receive_text(self) -> str:
        """The next text frame; raises WebSocketDisconnect if the app closed instead."""
        text: str = self.portal.call(self._channel.payload, "text")
        return text

    def receive_bytes(self) -> bytes:
        """The next binary frame; raises WebSocketDisconnect if the app closed instead."""
        data: bytes = self.portal.call(self._channel.payload, "bytes")
        return data

    def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        """The next frame (text, or binary with mode="binary") decoded as JSON."""
        return json.loads(self.portal.call(self._channel.payload, _PAYLOAD_KEYS[mode]))


_PAYLOAD_KEYS = {"text": "text", "binary": "bytes"}
