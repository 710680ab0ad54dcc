"""The httpx transport: each request becomes an ASGI call of the app on a portal's loop."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal

from stellina.types import ASGIApp, Scope

from .calls import PortalFactory
from .exchange import HTTPExchange

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def connection_scope(
    request: httpx.Request, root_path: str, client: tuple[str, int] | None, state: dict[str, Any]
) -> Scope:
    """What a server puts in every HTTP or WebSocket scope for `request`."""
    url = request.url
    port = _DEFAULT_PORTS.get(url.scheme, 80) if url.port is None else url.port
    # Header names lower-cased, Host first (as servers list it), the others in order.
    headers = sorted(
        ((name.lower(), value) for name, value in request.headers.raw),
        key=lambda header: header[0] != b"host",
    )
    path_bytes, _, _ = url.raw_path.partition(b"?")
    return {
        "asgi": {"version": "3.0"},
        "scheme": url.scheme,
        "server": [url.host, port],
        "client": client,
        "root_path": root_path,
        "path": url.path,
        "raw_path": path_bytes,
        "query_string": url.query,
        "headers": headers,
        "state": dict(state),
    }


def websocket_scope(request: httpx.Request, base: Scope) -> Scope:
    """The WebSocket scope for `request`, given its connection scope."""
    offered = request.headers.get("sec-websocket-protocol")
    base["type"] = "websocket"
    base["subprotocols"] = [] if offered is None else [p.strip() for p in offered.split(",")]
    base["extensions"] = {"websocket.http.response": {}}
    return base


@dataclass(eq=False)
class _ResponseBody(httpx.SyncByteStream):
    """The response body, pulled chunk by chunk; closing it settles the app's call."""

    exchange: HTTPExchange
    portal: BlockingPortal
    release_portal: Callable[[], object]
    raise_errors: bool
    transport: TestClientTransport
    response: httpx.Response | None = None
    closed: bool = field(default=False)

    def __iter__(self) -> Iterator[bytes]:
        while not self.exchange.done:
            chunk = self.portal.call(self.exchange.next_chunk)
            if chunk is None:
                break
            yield chunk

    def close(self) -> None:
        """End the call: wait for an app that has answered in full, hang up on any other."""
        if self._shut(self.exchange.settle_after_response):
            _expose_debug_info(self.response, self.exchange)
            if self.raise_errors:
                self.exchange.raise_unreported()

    def abandon(self) -> None:
        """The client is closing: cancel the app, whatever state it is in."""
        self._shut(self.exchange.hang_up)

    def _shut(self, finish: Callable[[], Any]) -> bool:
        if self.closed:
            return False
        self.closed = True
        self.transport.forget(self)
        try:
            if not self.exchange.done:
                self.portal.call(finish)
        finally:
            self.release_portal()
        return True


def _expose_debug_info(response: httpx.Response | None, exchange: HTTPExchange) -> None:
    """Templates report their template and context: make them response attributes."""
    info = exchange.debug_info
    if response is not None and info is not None and "template" in info:
        response.template = info["template"]  # type: ignore[attr-defined]
        response.context = info.get("context")  # type: ignore[attr-defined]


@dataclass(eq=False)
class TestClientTransport(httpx.BaseTransport):
    """Serves httpx requests by calling the app; keeps track of unfinished responses."""

    __test__ = False

    app: ASGIApp
    portal_factory: PortalFactory
    raise_server_exceptions: bool
    root_path: str
    client: tuple[str, int] | None
    app_state: dict[str, Any]
    _open: set[_ResponseBody] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def scope_for(self, request: httpx.Request) -> Scope:
        """The connection part of the scope of `request`."""
        return connection_scope(request, self.root_path, self.client, self.app_state)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme in ("ws", "wss"):
            raise ValueError("Use TestClient.websocket_connect() for WebSocket URLs.")
        scope = self.scope_for(request)
        scope.update(
            type="http",
            http_version="1.1",
            method=request.method,
        )
        try:
            body = request.read()
        except httpx.StreamConsumed:
            body = b""
        exchange = HTTPExchange(self.app, scope, body)
        scope["extensions"] = {"http.response.debug": {}, "http.response.trailers": {}}

        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(self.portal_factory())
            portal.start_task_soon(exchange.run)
            portal.call(exchange.response_started)
            if not exchange.started:
                return self._unanswered(request, exchange)
            release = stack.pop_all().close
        stream = _ResponseBody(exchange, portal, release, self.raise_server_exceptions, self)
        with self._lock:
            self._open.add(stream)
        stream.response = httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=stream,
            request=request,
            extensions=exchange.extensions,
        )
        return stream.response

    def _unanswered(self, request: httpx.Request, exchange: HTTPExchange) -> httpx.Response:
        """The app returned (or raised) without starting a response."""
        if self.raise_server_exceptions:
            exchange.raise_unreported()
            raise AssertionError("TestClient did not receive any response.")
        return httpx.Response(500, request=request, extensions=exchange.extensions)

    def forget(self, stream: _ResponseBody) -> None:
        with self._lock:
            self._open.discard(stream)

    def close(self) -> None:
        with self._lock:
            unfinished = list(self._open)
        for stream in unfinished:
            stream.abandon()
