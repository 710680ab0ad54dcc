"""BaseHTTPMiddleware: write HTTP middleware as ``async dispatch(request, call_next)``."""

from __future__ import annotations

__version__ = "0.1.0"

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from stellina.requests import Request
from stellina.responses import Response
from stellina.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BaseHTTPMiddleware", "DispatchFunction", "RequestResponseEndpoint"]

RequestResponseEndpoint = Callable[[Request], Awaitable[Response]]
DispatchFunction = Callable[[Request, RequestResponseEndpoint], Awaitable[Response]]


def _disconnect() -> Message:
    return {"type": "http.disconnect"}


class _SharedBody:
    """One request body read in turns by ``dispatch``'s Request and by the wrapped app.

    Both read the server's messages as they come and nothing streamed is kept, so a large
    upload streamed in dispatch costs no memory here. A body dispatch read whole with
    ``body()`` (``whole``) is what the app receives; one dispatch streamed to its end leaves
    the app an empty body. Once the app has read to the end, dispatch can read no more.
    """

    __slots__ = ("_app_ended", "_disconnected", "_dispatch_ended", "_receive", "whole")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._dispatch_ended = False
        self._app_ended = False
        self._disconnected = False
        self.whole = b""

    async def _from_server(self) -> tuple[Message, bool]:
        """The server's next message, and whether it ends the body."""
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._disconnected = True
            return message, False
        return message, message["type"] == "http.request" and not message.get("more_body")

    async def for_dispatch(self) -> Message:
        """The receive channel of the Request given to ``dispatch``."""
        if self._disconnected:
            return _disconnect()
        if self._app_ended:
            await anyio.lowlevel.checkpoint()
            raise RuntimeError("Stream consumed")
        message, ended = await self._from_server()
        self._dispatch_ended |= ended
        return message

    async def for_app(self) -> Message:
        """The receive channel of the wrapped app: what dispatch kept, else the server."""
        if self._dispatch_ended and not self._app_ended:
            self._app_ended = True
            return {"type": "http.request", "body": self.whole, "more_body": False}
        if self._disconnected:
            return _disconnect()
        message, ended = await self._from_server()
        self._app_ended |= ended
        return message


class _DispatchRequest(Request):
    """The Request ``dispatch`` gets: a body it reads whole is kept for the app as well."""

    __slots__ = ("_shared",)

    def __init__(self, scope: Scope, shared: _SharedBody, send: Send) -> None:
        super().__init__(scope, shared.for_dispatch, send)
        self._shared = shared

    async def body(self) -> bytes:
        """The whole body, read once and kept (for the wrapped app too)."""
        body = await super().body()
        self._shared.whole = body
        return body


class _Handoff:
    """A one-message slot from the app task to the response: the app waits while it is full.

    Cheaper than a memory object stream: no checkpoint when nobody has to wait.
    """

    __slots__ = ("_closed", "_dropped", "_emptied", "_filled", "_message", "_sent")

    def __init__(self) -> None:
        self._message: Message | None = None
        self._filled: anyio.Event | None = None
        self._emptied: anyio.Event | None = None
        self._closed = False  # the app has returned
        self._dropped = False  # the response is out: messages are discarded
        self._sent: anyio.Event | None = None  # the app's last put waits on it

    async def put(self, message: Message) -> None:
        while self._message is not None and not self._dropped:
            if self._emptied is None:
                self._emptied = anyio.Event()
            await self._emptied.wait()
        if self._dropped:
            # Still a checkpoint: an app sending into a dropped response can be cancelled.
            await anyio.lowlevel.checkpoint()
            return
        self._message = message
        if self._filled is not None:
            self._filled.set()
            self._filled = None
        if not message.get("more_body", False) and message["type"] == "http.response.body":
            # The last body message returns once the response is out, as a server's send
            # would, so the app's background tasks run after the client has it all.
            self._sent = sent = anyio.Event()
            await sent.wait()

    async def get(self) -> Message | None:
        """The next message, or None once the app has returned."""
        while self._message is None:
            if self._closed:
                return None
            if self._filled is None:
                self._filled = anyio.Event()
            await self._filled.wait()
        message = self._message
        self._message = None
        if self._emptied is not None:
            self._emptied.set()
            self._emptied = None
        return message

    def close(self) -> None:
        self._closed = True
        if self._filled is not None:
            self._filled.set()
            self._filled = None

    def drop(self) -> None:
        self._dropped = True
        if self._sent is not None:
            self._sent.set()
        self._message = None
        if self._emptied is not None:
            self._emptied.set()
            self._emptied = None


class _StreamingResponse(Response):
    """The response ``call_next`` returns: relays the wrapped app's body as it comes."""

    def __init__(
        self, start: Message, body: AsyncIterable[bytes | str | Message], info: Any = None
    ) -> None:
        # Status and headers as the app's start message has them; dispatch may change both.
        self.status_code: int = start["status"]
        self.raw_headers = list(start.get("headers", ()))
        self.body_iterator = body
        self.info = info
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.info is not None:
            await send({"type": "http.response.debug", "info": self.info})
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        ended = False
        async for chunk in self.body_iterator:
            if isinstance(chunk, str):
                chunk = chunk.encode(self.charset)
            if isinstance(chunk, bytes | memoryview):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            else:  # an ASGI message that ends the response, such as http.response.pathsend
                await send(chunk)
                ended = True
        if not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        if self.background is not None:
            await self.background()


class _Exchange:
    """The state of one request passing through a BaseHTTPMiddleware."""

    __slots__ = (
        "app",
        "app_exc",
        "body",
        "exc_raised",
        "group",
        "handoff",
        "receiving",
        "response_sent",
        "scope",
        "send",
    )

    group: TaskGroup

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self.send = send
        self.body = _SharedBody(receive)
        self.app_exc: Exception | None = None
        self.exc_raised = False
        self.response_sent = False
        self.receiving: set[anyio.CancelScope] = set()
        self.handoff = _Handoff()

    async def app_receive(self) -> Message:
        # Once the response is out, the app only ever hears that the client is gone.
        if self.response_sent:
            return _disconnect()
        with anyio.CancelScope() as waiting:
            self.receiving.add(waiting)
            try:
                message = await self.body.for_app()
            finally:
                self.receiving.discard(waiting)
        if waiting.cancel_called:
            return _disconnect()
        return message

    async def run_app(self) -> None:
        try:
            await self.app(self.scope, self.app_receive, self.handoff.put)
        except Exception as exc:
            self.app_exc = exc
        finally:
            self.handoff.close()

    def reraise(self) -> NoReturn:
        exc = self.app_exc
        assert exc is not None
        self.exc_raised = True
        raise exc

    async def call_next(self, request: Request) -> Response:
        """Run the wrapped app; its response, streamed, once it has started one."""
        self.group.start_soon(self.run_app)
        get = self.handoff.get
        info = None
        message = await get()
        while message is not None and message["type"] != "http.response.start":
            if message["type"] == "http.response.debug":
                info = message.get("info")
            elif message["type"] == "http.response.early_hint":
                await self.send(message)  # early hints go straight to the client
            else:
                break
            message = await get()
        if message is None:
            if self.app_exc is not None:
                self.reraise()
            raise RuntimeError("No response returned.")
        if message["type"] != "http.response.start":
            raise RuntimeError(f"Unexpected message: {message['type']!r}")
        return _StreamingResponse(message, self.relay_body(), info)

    async def relay_body(self) -> AsyncIterator[bytes | Message]:
        get = self.handoff.get
        try:
            while (message := await get()) is not None:
                message_type = message["type"]
                if message_type == "http.response.pathsend":
                    yield message
                    return
                if message_type != "http.response.body":
                    raise RuntimeError(f"Unexpected message: {message_type!r}")
                body: bytes = message.get("body", b"")
                if body:
                    yield body
                if not message.get("more_body", False):
                    return
        except GeneratorExit:  # dispatch closed the body: the app now sends into nothing
            self.finish()
            raise
        if self.app_exc is not None:  # the app failed halfway through its body
            self.reraise()

    async def run(self, dispatch: DispatchFunction) -> None:
        """Answer the request: ``dispatch`` with its Request, then the response it returns."""
        scope, send = self.scope, self.send
        raised: BaseException | None = None
        try:
            async with anyio.create_task_group() as group:
                self.group = group
                try:
                    response = await dispatch(
                        _DispatchRequest(scope, self.body, send), self.call_next
                    )
                    await response(scope, self.body.for_app, send)
                except BaseException as exc:
                    raised = exc
                    raise
                self.finish()
        except BaseExceptionGroup as group_error:
            if group_error is not raised:  # a group of the task group's, not of dispatch or app
                _raise_sole(group_error)
            raise
        if self.app_exc is not None and not self.exc_raised:
            raise self.app_exc

    def finish(self) -> None:
        """The response is sent: drop whatever the app still sends, end its receives."""
        self.response_sent = True
        self.handoff.drop()
        for waiting in self.receiving:
            waiting.cancel()


def _raise_sole(group: BaseExceptionGroup[Any]) -> None:
    """Re-raise the only exception of a task group's ``group``, without the group."""
    if len(group.exceptions) != 1:
        return
    exc = group.exceptions[0]
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context


class BaseHTTPMiddleware:
    """Middleware written as ``dispatch(request, call_next)``.

    ``call_next(request)`` runs the wrapped app and returns its response, whose body is
    streamed; exceptions from the app are raised from ``call_next``. A body ``dispatch`` reads
    whole with ``request.body()`` reaches the app too; streamed chunks are not kept.
    Subclass and override ``dispatch``, or pass ``dispatch=``.
    """

    def __init__(self, app: ASGIApp, dispatch: DispatchFunction | None = None) -> None:
        self.app = app
        self.dispatch_func = self.dispatch if dispatch is None else dispatch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _Exchange(self.app, scope, receive, send).run(self.dispatch_func)
        else:
            await self.app(scope, receive, send)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Override to handle ``request``; ``await call_next(request)`` runs the app."""
        raise NotImplementedError()
