"""One HTTP request served by the app: the body goes in whole, the response comes out on demand.

The app's body messages wait for the reader: each ``http.response.body`` send blocks until the
test asks for more, so a streamed response is produced no faster than it is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.lowlevel

from stellina.types import ASGIApp, Message, Scope

from .calls import AppCall

Header = tuple[bytes, bytes]


class HTTPExchange(AppCall):
    """The app's side of one request: what it sent so far, and the reader's demand."""

    def __init__(self, app: ASGIApp, scope: Scope, body: bytes) -> None:
        super().__init__(app, scope)
        self._request_body: bytes | None = body
        self._discard_body = scope["method"] == "HEAD"
        self.status = 500
        self.headers: list[Header] = []
        self.started = False
        self.trailers_declared = False
        self.body_complete = False
        self.trailers_complete = False
        self.client_gone = False
        # Live views handed to the httpx response: filled in as the app sends them.
        self.trailers: list[Header] = []
        self.extensions: dict[str, Any] = {"http.response.trailers": self.trailers}
        self._wanted = False
        self._handed: bytes | None = None

    @property
    def complete(self) -> bool:
        """Whether the app has sent the whole response (trailers included, if declared)."""
        return self.body_complete and (self.trailers_complete or not self.trailers_declared)

    @property
    def debug_info(self) -> dict[str, Any] | None:
        """What the app reported through the ``http.response.debug`` extension."""
        info: dict[str, Any] | None = self.extensions.get("http.response.debug")
        return info

    # The app's `receive` and `send`.

    async def receive(self) -> Message:
        body, self._request_body = self._request_body, None
        if body is not None:
            return {"type": "http.request", "body": body, "more_body": False}
        # A server reports the disconnect once the response is out or the client left.
        await self.park(lambda: self.complete or self.client_gone)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.client_gone:
            await anyio.lowlevel.checkpoint()
            return
        match message["type"]:
            case "http.response.start":
                self._on_start(message)
            case "http.response.body":
                await self._on_body(message)
            case "http.response.trailers":
                self._on_trailers(message)
            case "http.response.debug":
                self.extensions["http.response.debug"] = message["info"]
            case "http.response.push":
                pass  # A push promise is a hint to an HTTP/2 client; there is none here.
            case other:
                raise RuntimeError(f"Unexpected ASGI message {other!r} sent on an HTTP connection.")

    def _on_start(self, message: Message) -> None:
        if self.started:
            raise AssertionError('Received multiple "http.response.start" messages.')
        self.status = message["status"]
        self.headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", [])]
        self.trailers_declared = bool(message.get("trailers", False))
        self.started = True
        self.ping()

    async def _on_body(self, message: Message) -> None:
        if not self.started:
            raise AssertionError('Received "http.response.body" without "http.response.start".')
        if self.body_complete:
            done = "body" if self.trailers_declared else "response"
            raise AssertionError(f'Received "http.response.body" after {done} completed.')
        chunk = message.get("body", b"")
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"The response body must be bytes, not {type(chunk).__name__}.")
        if self._wanted:
            await anyio.lowlevel.checkpoint()
        else:
            await self._until(lambda: self._wanted or self.client_gone)
        if chunk and not self._discard_body and not self.client_gone:
            # Copied: the app may reuse its buffer once `send` returns.
            self._handed = bytes(chunk)
            self._wanted = False
        if not message.get("more_body", False):
            self.body_complete = True
        self.ping()

    def _on_trailers(self, message: Message) -> None:
        if not self.trailers_declared:
            raise AssertionError(
                'Received "http.response.trailers" without declaring trailers in '
                '"http.response.start".'
            )
        if not self.body_complete:
            raise AssertionError('Received "http.response.trailers" before body completed.')
        if self.trailers_complete:
            raise AssertionError('Received "http.response.trailers" after response completed.')
        self.trailers.extend(
            (bytes(name), bytes(value)) for name, value in message.get("headers", [])
        )
        if not message.get("more_trailers", False):
            self.trailers_complete = True
        self.ping()

    async def _until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._next_ping()

    # The reader's side, called through the portal.

    async def response_started(self) -> None:
        """Wait until the app has started the response (or returned without doing so)."""
        await self.wait_for(lambda: self.started, "the response to start")

    async def next_chunk(self) -> bytes | None:
        """The next non-empty body chunk; None once the body is over (or the app returned)."""
        self._wanted = True
        self.ping()
        await self.wait_for(lambda: self._handed is not None or self.body_complete, "the body")
        chunk, self._handed = self._handed, None
        self._wanted = False
        return chunk

    async def hang_up(self) -> None:
        """The client went away: report the disconnect and cancel the app."""
        self.client_gone = True
        self.ping()
        await self.cancel()

    async def settle_after_response(self) -> None:
        """The reader is done: a complete response waits for the app's end (background
        tasks), an unfinished one means the client hung up."""
        if self.complete:
            await self.wait_done()
        else:
            await self.hang_up()
