"""An httpx client that drives an ASGI application in-process, on an anyio portal thread."""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypedDict, cast
from urllib.parse import urljoin

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import httpx
from anyio.from_thread import BlockingPortal

from stellina.types import ASGIApp, Message, Receive, Scope, Send
from stellina.websockets import WebSocketDisconnect

if TYPE_CHECKING:
    from httpx._types import CookieTypes

__all__ = ["TestClient", "WebSocketDenialResponse", "WebSocketTestSession"]

_PortalFactory = Callable[[], contextlib.AbstractContextManager[BlockingPortal]]

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
# Loop turns a finishing app gets to return on its own before it is cancelled.
_GRACE_TURNS = 100
# Response bytes buffered ahead of the reader before the app waits for it to catch up.
_BUFFER_LIMIT = 1 << 20
_WEBSOCKET_SEND_TYPES = frozenset(
    {
        "websocket.accept",
        "websocket.send",
        "websocket.close",
        "websocket.http.response.start",
        "websocket.http.response.body",
    }
)


class _AsyncBackend(TypedDict):
    backend: str
    backend_options: dict[str, Any]


class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """Raised when the app refuses a WebSocket with an HTTP response; it is that response."""


class _Upgrade(Exception):
    """Carries a WebSocket session out of the transport, which only speaks HTTP."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session


def _is_asgi3(app: object) -> bool:
    if inspect.isclass(app):
        return hasattr(app, "__await__")
    while isinstance(app, functools.partial):
        app = app.func
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(
        getattr(app, "__call__", None)  # noqa: B004
    )


class _ASGI2Adapter:
    """Presents a two-step (ASGI 2) application as an ASGI 3 callable."""

    __slots__ = ("app",)

    def __init__(self, app: Callable[[Scope], Callable[[Receive, Send], Any]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope)(receive, send)


class _AppTask:
    """One ASGI call running on the portal's event loop, observed from the test thread.

    The loop side mutates the state; the test thread reads it only through `portal.call`.
    """

    __slots__ = ("_cancel_requested", "_cancel_scope", "_waiter", "app", "done", "error", "scope")

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.done = False
        self.error: Exception | None = None
        self._waiter: anyio.Event | None = None
        self._cancel_scope: anyio.CancelScope | None = None
        self._cancel_requested = False

    # The ASGI `receive` and `send` callables each kind of call provides.
    receive: Receive
    send: Send

    async def run(self) -> None:
        """Run the app to its end, recording the exception it raised (if any)."""
        try:
            with anyio.CancelScope() as cancel_scope:
                self._cancel_scope = cancel_scope
                if self._cancel_requested:
                    cancel_scope.cancel()
                try:
                    await self.app(self.scope, self.receive, self.send)
                except Exception as exc:
                    self.error = exc
        finally:
            self.done = True
            self._wake()

    def _wake(self) -> None:
        """Wake the test thread's pending call, if one waits for progress."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set()

    async def _sleep(self) -> None:
        """Wait (on behalf of the test thread) until the app makes progress."""
        waiter = self._waiter = anyio.Event()
        await waiter.wait()

    def _idle(self) -> bool:
        """Whether the app waits for input that will never come."""
        return False

    async def cancel(self) -> None:
        """Cancel the app and wait until it has unwound."""
        self._cancel_requested = True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()
        while not self.done:
            await self._sleep()

    async def settle(self) -> None:
        """Give the app a few loop turns to return by itself, then cancel it."""
        for _ in range(_GRACE_TURNS):
            if self.done or self._idle():
                break
            await anyio.lowlevel.checkpoint()
        if not self.done:
            await self.cancel()


class _HTTPExchange(_AppTask):
    """One HTTP request and the response the app sends back, chunk by chunk."""

    __slots__ = (
        "_body",
        "_buffered",
        "_disconnect",
        "_group",
        "_space",
        "aborted",
        "chunks",
        "complete",
        "context",
        "head",
        "head_only",
        "headers",
        "started",
        "status",
        "template",
    )

    def __init__(self, app: ASGIApp, scope: Scope, body: bytes) -> None:
        super().__init__(app, scope)
        self._body: bytes | None = body
        self.head_only = scope["method"] == "HEAD"
        self.started = False
        self.complete = False
        self.aborted = False
        self.status = 500
        self.headers: Sequence[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.template: Any = None
        self.context: Any = None
        self._buffered = 0
        self._disconnect: anyio.Event | None = None
        self._space: anyio.Event | None = None
        self._group: anyio.abc.TaskGroup | None = None
        # Resolved once the app has returned, or has started the response and then waits.
        self.head: Future[tuple[list[bytes], bool]] = Future()

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                await super().run()
        finally:
            self._announce()

    def _announce(self) -> None:
        """Hand the response head and the body so far to the test thread (once)."""
        if not self.head.done():
            self.head.set_result(self.take())

    async def _announce_soon(self) -> None:
        self._announce()

    async def receive(self) -> Message:
        body = self._body
        if body is not None:
            self._body = None
            return {"type": "http.request", "body": body, "more_body": False}
        if not (self.complete or self.aborted):
            if self._disconnect is None:
                self._disconnect = anyio.Event()
            await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self.aborted:
            await anyio.lowlevel.checkpoint()
        elif kind == "http.response.body":
            if not self.started:
                raise AssertionError('Received "http.response.body" without "http.response.start".')
            if self.complete:
                raise AssertionError('Received "http.response.body" after response completed.')
            body = message.get("body", b"")
            if not isinstance(body, bytes | bytearray | memoryview):
                raise TypeError(f"The response body must be bytes, not {type(body).__name__}.")
            if body and not self.head_only:
                self.chunks.append(bytes(body))
                self._buffered += len(body)
            if not message.get("more_body", False):
                self.complete = True
                if self._disconnect is not None:
                    self._disconnect.set()
            self._wake()
            while self._buffered > _BUFFER_LIMIT and not self.aborted:
                space = self._space = anyio.Event()
                await space.wait()
        elif kind == "http.response.start":
            if self.started:
                raise AssertionError('Received multiple "http.response.start" messages.')
            self.status = message["status"]
            self.headers = message.get("headers", [])
            self.started = True
            if self._group is not None:
                # Runs once the app awaits something; if it returns first, `run` announces.
                self._group.start_soon(self._announce_soon)
        elif kind == "http.response.debug":
            info = message["info"]
            self.template = info["template"]
            self.context = info["context"]
        else:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} sent on an HTTP connection.")

    async def next_chunks(self) -> tuple[list[bytes], bool]:
        """Wait for more body (or the app's end); take what is buffered."""
        while not (self.chunks or self.done):
            await self._sleep()
        return self.take()

    def take(self) -> tuple[list[bytes], bool]:
        chunks = self.chunks
        self.chunks = []
        self._buffered = 0
        space = self._space
        if space is not None:
            self._space = None
            space.set()
        return chunks, self.done

    async def abort(self) -> None:
        """The client went away: report a disconnect and cancel the app."""
        self.aborted = True
        if self._disconnect is not None:
            self._disconnect.set()
        if self._space is not None:
            self._space.set()
        await self.cancel()


class _ResponseStream(httpx.SyncByteStream):
    """The response body, pulled from the app as the test reads it."""

    def __init__(
        self,
        exchange: _HTTPExchange,
        portal: BlockingPortal,
        stack: contextlib.ExitStack,
        chunks: list[bytes],
        raise_server_exceptions: bool,
    ) -> None:
        self._exchange = exchange
        self._portal = portal
        self._stack = stack
        self._chunks = chunks
        self._raise = raise_server_exceptions
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        chunks, self._chunks = self._chunks, []
        done = False
        while True:
            yield from chunks
            if done:
                break
            chunks, done = self._portal.call(self._exchange.next_chunks)
        self._closed = True
        self._stack.close()
        error = self._exchange.error
        if error is not None and self._raise:
            raise error

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            # The app is done here if the client's `with` block already cancelled it.
            if not self._exchange.done:
                self._portal.call(self._exchange.abort)
        finally:
            self._stack.close()


class _TestClientTransport(httpx.BaseTransport):
    """Turns each httpx request into an ASGI call of the app."""

    def __init__(
        self,
        app: ASGIApp,
        portal_factory: _PortalFactory,
        raise_server_exceptions: bool = True,
        root_path: str = "",
        *,
        client: tuple[str, int] | None,
        app_state: dict[str, Any],
    ) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        self.portal_factory = portal_factory
        self.app_state = app_state
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        host = url.host
        port = url.port or _DEFAULT_PORTS.get(scheme, 80)
        headers = [(key.lower(), value) for key, value in request.headers.raw]
        if not headers or headers[0][0] != b"host":
            # Servers list the Host header first; a caller-given one lands elsewhere.
            given = [item for item in headers if item[0] == b"host"]
            if given:
                headers = given + [item for item in headers if item[0] != b"host"]
            else:
                default = port == _DEFAULT_PORTS.get(scheme)
                headers.insert(0, (b"host", (host if default else f"{host}:{port}").encode()))

        scope: Scope = {
            "asgi": {"version": "3.0"},
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": self.root_path,
            "scheme": scheme,
            "query_string": url.query,
            "headers": headers,
            "client": self.client,
            "server": [host, port],
            "state": self.app_state.copy(),
        }
        if scheme == "ws" or scheme == "wss":
            protocols = request.headers.get("sec-websocket-protocol")
            scope["type"] = "websocket"
            scope["subprotocols"] = (
                [] if protocols is None else [item.strip() for item in protocols.split(",")]
            )
            scope["extensions"] = {"websocket.http.response": {}}
            raise _Upgrade(WebSocketTestSession(self.app, scope, self.portal_factory))

        scope["type"] = "http"
        scope["http_version"] = "1.1"
        scope["method"] = request.method
        scope["extensions"] = {"http.response.debug": {}}
        try:
            body = request.read()
        except httpx.StreamConsumed:
            body = b""
        exchange = _HTTPExchange(self.app, scope, body)

        stack = contextlib.ExitStack()
        with stack:
            portal = stack.enter_context(self.portal_factory())
            portal.start_task_soon(exchange.run)
            chunks, done = exchange.head.result()
            if done:
                return self._finished_response(request, exchange, chunks)
            stack = stack.pop_all()
        stream = _ResponseStream(exchange, portal, stack, chunks, self.raise_server_exceptions)
        return self._response(request, exchange, stream)

    def _finished_response(
        self, request: httpx.Request, exchange: _HTTPExchange, chunks: list[bytes]
    ) -> httpx.Response:
        """The response of an app that already returned (or raised)."""
        error = exchange.error
        if self.raise_server_exceptions:
            if error is not None:
                raise error
            if not exchange.started:
                raise AssertionError("TestClient did not receive any response.")
        elif not exchange.started:
            return httpx.Response(500, headers=[], stream=httpx.ByteStream(b""), request=request)
        return self._response(request, exchange, httpx.ByteStream(b"".join(chunks)))

    @staticmethod
    def _response(
        request: httpx.Request, exchange: _HTTPExchange, stream: httpx.SyncByteStream
    ) -> httpx.Response:
        response = httpx.Response(
            exchange.status, headers=exchange.headers, stream=stream, request=request
        )
        if exchange.template is not None:
            response.template = exchange.template  # type: ignore[attr-defined]
            response.context = exchange.context  # type: ignore[attr-defined]
        return response


class _Conversation(_AppTask):
    """An ASGI call that exchanges discrete messages with the test (lifespan, WebSocket)."""

    __slots__ = ("_app_waiter", "inbox", "outbox", "reported")

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        super().__init__(app, scope)
        self.inbox: deque[Message] = deque()
        self.outbox: deque[Message] = deque()
        self.reported = False
        self._app_waiter: anyio.Event | None = None

    async def receive(self) -> Message:
        inbox = self.inbox
        while not inbox:
            waiter = self._app_waiter = anyio.Event()
            await waiter.wait()
        return inbox.popleft()

    async def send(self, message: Message) -> None:
        self.outbox.append(message)
        self._wake()

    def _idle(self) -> bool:
        return self._app_waiter is not None and not self.inbox

    def deliver(self, message: Message) -> None:
        """Queue a message for the app (runs on the loop)."""
        self.inbox.append(message)
        waiter = self._app_waiter
        if waiter is not None:
            self._app_waiter = None
            waiter.set()

    async def next_message(self) -> Message | None:
        """The app's next message, or None once it has returned and sent everything."""
        while not self.outbox:
            if self.done:
                return None
            await self._sleep()
        return self.outbox.popleft()

    def raise_unreported(self) -> None:
        """Raise the app's exception, unless the test has already seen it."""
        error = self.error
        if error is not None and not self.reported:
            self.reported = True
            raise error


class _Lifespan(_Conversation):
    """The lifespan protocol: startup before the `with` block, shutdown after it."""

    __slots__ = ()

    async def startup(self) -> None:
        self.deliver({"type": "lifespan.startup"})
        await self._expect("startup")

    async def shutdown(self) -> None:
        if self.done:
            self.raise_unreported()
            return
        self.deliver({"type": "lifespan.shutdown"})
        await self._expect("shutdown")

    async def _expect(self, phase: str) -> None:
        message = await self.next_message()
        if message is None:
            # The app returned without taking part: it does not support lifespan.
            self.raise_unreported()
            return
        kind = message["type"]
        if kind == f"lifespan.{phase}.complete":
            if phase == "shutdown":
                await self.settle()
                self.raise_unreported()
            return
        if kind == f"lifespan.{phase}.failed":
            await self.settle()
            self.raise_unreported()
            raise RuntimeError(message.get("message") or f"Lifespan {phase} failed.")
        raise RuntimeError(
            f"Expected ASGI message 'lifespan.{phase}.complete' or "
            f"'lifespan.{phase}.failed', but got {kind!r}."
        )


class _WebSocketChannel(_Conversation):
    """The app side of a test WebSocket session."""

    __slots__ = ("accepted", "closed")

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        super().__init__(app, scope)
        self.accepted = False
        self.closed = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind not in _WEBSOCKET_SEND_TYPES:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} sent on a WebSocket.")
        if kind == "websocket.accept":
            self.accepted = True
        elif kind == "websocket.close":
            self.closed = True
        self.outbox.append(message)
        self._wake()

    def deliver(self, message: Message) -> None:
        if self.done:
            self.raise_unreported()
        super().deliver(message)

    async def receive_message(self) -> Message:
        """The app's next message; raises the app's error or explains why none will come."""
        message = await self.next_message()
        if message is not None:
            return message
        self.raise_unreported()
        if self.closed:
            raise RuntimeError("The WebSocket is closed: the application sends no more messages.")
        if self.accepted:
            raise RuntimeError("The WebSocket application returned without sending a message.")
        raise RuntimeError(
            "The WebSocket application returned without accepting or closing the connection."
        )

    async def finish(self) -> None:
        """Tell a running app the client left, let it wind down, then cancel it."""
        if not self.done:
            self.deliver({"type": "websocket.disconnect", "code": 1000, "reason": None})
            await self.settle()
        self.raise_unreported()


class WebSocketTestSession:
    """A WebSocket connection to the app, driven synchronously from the test."""

    def __init__(self, app: ASGIApp, scope: Scope, portal_factory: _PortalFactory) -> None:
        self.app = app
        self.scope = scope
        self.accepted_subprotocol: str | None = None
        self.portal_factory = portal_factory
        self.extra_headers: list[tuple[bytes, bytes]] | None = None

    def __enter__(self) -> WebSocketTestSession:
        with contextlib.ExitStack() as stack:
            self.portal = portal = stack.enter_context(self.portal_factory())
            self._channel = channel = _WebSocketChannel(self.app, self.scope)
            portal.start_task_soon(channel.run)
            stack.callback(portal.call, channel.finish)
            self.send({"type": "websocket.connect"})
            message = self.receive()
            self._raise_on_close(message)
            if message["type"] != "websocket.accept":
                raise RuntimeError(
                    f"Expected ASGI message 'websocket.accept', but got {message['type']!r}."
                )
            self.accepted_subprotocol = message.get("subprotocol")
            self.extra_headers = message.get("headers")
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return self._stack.__exit__(exc_type, exc_value, traceback)

    def _raise_on_close(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.close":
            raise WebSocketDisconnect(
                code=message.get("code", 1000), reason=message.get("reason", "")
            )
        if kind == "websocket.http.response.start":
            body: list[bytes] = []
            while True:
                part = self.receive()
                if part["type"] != "websocket.http.response.body":
                    raise RuntimeError(
                        "Expected ASGI message 'websocket.http.response.body', "
                        f"but got {part['type']!r}."
                    )
                body.append(part.get("body", b""))
                if not part.get("more_body", False):
                    break
            raise WebSocketDenialResponse(
                status_code=message["status"],
                headers=message.get("headers", []),
                content=b"".join(body),
            )

    def send(self, message: Message) -> None:
        """Send a raw ASGI message to the app."""
        self.portal.call(self._channel.deliver, message)

    def send_text(self, data: str) -> None:
        """Send a text frame."""
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send `data` as compact JSON in a text (or, with mode="binary", binary) frame."""
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            self.send({"type": "websocket.receive", "text": text})
        else:
            self.send({"type": "websocket.receive", "bytes": text.encode("utf-8")})

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Disconnect from the app with `code` and `reason`."""
        self.send({"type": "websocket.disconnect", "code": code, "reason": reason})

    def receive(self) -> Message:
        """The next raw ASGI message the app sent."""
        return self.portal.call(self._channel.receive_message)

    def receive_text(self) -> str:
        """The next text frame; raises WebSocketDisconnect if the app closed instead."""
        message = self.receive()
        self._raise_on_close(message)
        return cast(str, message["text"])

    def receive_bytes(self) -> bytes:
        """The next binary frame; raises WebSocketDisconnect if the app closed instead."""
        message = self.receive()
        self._raise_on_close(message)
        return cast(bytes, message["bytes"])

    def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        """The next frame (text, or binary with mode="binary") decoded as JSON."""
        message = self.receive()
        self._raise_on_close(message)
        text = message["text"] if mode == "text" else message["bytes"].decode()
        return json.loads(text)


class TestClient(httpx.Client):
    """An httpx client whose requests are served by an ASGI app running in-process."""

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        backend: Literal["asyncio", "trio"] = "asyncio",
        backend_options: dict[str, Any] | None = None,
        cookies: CookieTypes | None = None,
        headers: dict[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.async_backend = _AsyncBackend(backend=backend, backend_options=backend_options or {})
        self.app: ASGIApp = app if _is_asgi3(app) else _ASGI2Adapter(app)  # type: ignore[arg-type]
        self.app_state: dict[str, Any] = {}
        self.portal: BlockingPortal | None = None
        transport = _TestClientTransport(
            self.app,
            portal_factory=self._portal_factory,
            raise_server_exceptions=raise_server_exceptions,
            root_path=root_path,
            app_state=self.app_state,
            client=client,
        )
        default_headers = httpx.Headers(headers)
        default_headers.setdefault("user-agent", "testclient")
        super().__init__(
            base_url=base_url,
            headers=default_headers,
            transport=transport,
            follow_redirects=follow_redirects,
            cookies=cookies,
        )

    @contextlib.contextmanager
    def _portal_factory(self) -> Generator[BlockingPortal, None, None]:
        portal = self.portal
        if portal is not None:
            yield portal
            return
        with anyio.from_thread.start_blocking_portal(**self.async_backend) as portal:
            yield portal

    def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        """Send a request to the app (the `timeout` argument has no effect here)."""
        if kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT) is not httpx.USE_CLIENT_DEFAULT:
            warnings.warn(
                "The 'timeout' argument has no effect on the TestClient: "
                "the application runs in-process.",
                DeprecationWarning,
                stacklevel=2,
            )
        return super().request(method, url, **kwargs)

    def websocket_connect(
        self, url: str, subprotocols: Sequence[str] | None = None, **kwargs: Any
    ) -> WebSocketTestSession:
        """Open a WebSocket to the app; use the result as a context manager."""
        headers = httpx.Headers(kwargs.get("headers"))
        headers.setdefault("connection", "upgrade")
        headers.setdefault("sec-websocket-key", "testserver==")
        headers.setdefault("sec-websocket-version", "13")
        if subprotocols is not None:
            headers.setdefault("sec-websocket-protocol", ", ".join(subprotocols))
        kwargs["headers"] = headers
        try:
            super().request("GET", urljoin("ws://testserver", url), **kwargs)
        except _Upgrade as upgrade:
            return upgrade.session
        raise RuntimeError("Expected WebSocket upgrade")  # pragma: no cover

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            self.portal = portal = stack.enter_context(
                anyio.from_thread.start_blocking_portal(**self.async_backend)
            )
            # Whatever still runs when the block ends (unclosed stream, WebSocket) is cancelled.
            stack.callback(portal.call, portal.stop, True)
            stack.callback(self._reset_portal)
            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.app_state}
            lifespan = _Lifespan(self.app, scope)
            portal.start_task_soon(lifespan.run)
            stack.callback(portal.call, lifespan.cancel)
            portal.call(lifespan.startup)
            stack.callback(portal.call, lifespan.shutdown)
            self.exit_stack = stack.pop_all()
        return self

    def _reset_portal(self) -> None:
        self.portal = None

    def __exit__(self, *args: object) -> None:
        self.exit_stack.close()
