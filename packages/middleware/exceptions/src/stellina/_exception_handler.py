"""The machinery behind ExceptionMiddleware: calling and feeding exception handlers.

Private to stellina-exceptions. A handler gets its own Request, built after the app raised;
`BodyRecorder` keeps a copy of the body the app already read so that Request can read it again
instead of waiting on a `receive` that has nothing left to give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stellina.concurrency import is_async_callable, run_in_threadpool
from stellina.types import Message, Receive

__all__ = ["BODY_COPY_LIMIT", "BodyRecorder", "Handler", "call_handler"]

Handler = Callable[..., Any]

#: The most body bytes `BodyRecorder` keeps; past it a handler cannot read the body again.
BODY_COPY_LIMIT = 1 << 20


async def call_handler(handler: Handler, conn: Any, exc: Exception) -> Any:
    """Await an async handler in place; run a plain function in a worker thread."""
    if is_async_callable(handler):
        return await handler(conn, exc)
    return await run_in_threadpool(handler, conn, exc)


class BodyRecorder:
    """A `receive` that passes messages on and keeps a copy of the request body it saw.

    `replay()` is a fresh `receive` for the exception handler's Request: first the body read so
    far (one message), then the live channel.
    """

    __slots__ = ("_chunks", "_complete", "_disconnected", "_dropped", "_receive", "_size")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._chunks: list[bytes] = []
        self._size = 0
        self._complete = False
        self._disconnected = False
        self._dropped = False

    async def __call__(self) -> Message:
        message = await self._receive()
        kind = message["type"]
        if kind == "http.request":
            if not message.get("more_body", False):
                self._complete = True
            chunk = message.get("body", b"")
            if chunk and not self._dropped:
                self._size += len(chunk)
                if self._size > BODY_COPY_LIMIT:
                    self._dropped = True
                    self._chunks.clear()
                else:
                    self._chunks.append(bytes(chunk))
        elif kind == "http.disconnect":
            self._disconnected = True
        return message

    @property
    def touched(self) -> bool:
        """Whether the app read anything from the channel."""
        return self._complete or self._disconnected or self._size > 0

    def replay(self) -> Receive:
        """A `receive` that gives the body read so far again, then the live messages."""
        if not self.touched:
            return self._receive
        if self._dropped:

            async def consumed() -> Message:
                raise RuntimeError("Stream consumed")

            return consumed
        pending: list[Message] = []
        if self._chunks or self._complete:
            body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            pending.append({"type": "http.request", "body": body, "more_body": not self._complete})
        if self._disconnected:
            pending.append({"type": "http.disconnect"})
        live = self._receive

        async def replaying() -> Message:
            if pending:
                return pending.pop(0)
            return await live()

        return replaying
