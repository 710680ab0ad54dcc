"""The test harness every package's tests share (unpublished): client factory, scopes, recorders.

The root ``conftest.py`` provides the fixtures (``anyio_backend`` runs every async test on
asyncio and trio; ``test_client_factory`` builds a TestClient on that backend); tests import
the helpers below for their types and for driving bare ASGI apps without a client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from stellina.requests import Request
    from stellina.responses import Response
    from stellina.testclient import TestClient
    from stellina.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ClientFactory",
    "HeldApp",
    "Recorder",
    "http_scope",
    "read_body",
    "request_app",
    "websocket_scope",
]


class ClientFactory(Protocol):
    """The ``test_client_factory`` fixture: a TestClient on the test's anyio backend."""

    def __call__(self, app: ASGIApp, *args: Any, **kwargs: Any) -> TestClient: ...


class HeldApp:
    """An app that starts its answer, then waits until it is cancelled.

    It sends a 200 response start (or accepts the WebSocket) and sleeps; each time the caller
    cancels it, "cancelled" is appended to ``events``.
    """

    def __init__(self) -> None:
        self.events: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        import anyio

        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.events.append("cancelled")
            raise


def http_scope(**overrides: Any) -> Scope:
    """An HTTP scope for ``GET /`` from a client at 127.0.0.1, with ``overrides`` applied."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    scope.update(overrides)
    return scope


def websocket_scope(**overrides: Any) -> Scope:
    """A WebSocket scope for ``/`` (scheme ``ws``), with ``overrides`` applied."""
    scope = http_scope(type="websocket", scheme="ws", subprotocols=[])
    del scope["method"]
    scope.update(overrides)
    return scope


def request_app(handler: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    """A bare ASGI app answering each request with the Response of ``await handler(request)``."""
    from stellina.requests import Request

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


async def read_body(receive: Receive) -> bytes:
    """Read a request body from ``receive`` to its end, as a bare app does; the bytes joined."""
    parts = []
    more = True
    while more:
        message = await receive()
        parts.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(parts)


class Recorder:
    """Both ends of a bare ASGI call: ``receive`` replays messages, ``send`` records them.

    After the given messages, ``receive`` answers ``http.disconnect`` (or the ``last`` given).
    """

    def __init__(self, incoming: Iterable[Message] = (), last: Message | None = None) -> None:
        self.incoming = list(incoming)
        self.last: Message = {"type": "http.disconnect"} if last is None else last
        self.sent: list[Message] = []

    @classmethod
    def with_body(cls, *chunks: bytes) -> Recorder:
        """A recorder whose ``receive`` yields ``chunks`` as the request body."""
        messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
        if messages:
            messages[-1]["more_body"] = False
        else:
            messages.append({"type": "http.request", "body": b"", "more_body": False})
        return cls(messages)

    async def receive(self) -> Message:
        return self.incoming.pop(0) if self.incoming else self.last

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    async def run(self, app: ASGIApp, scope: Scope) -> list[Message]:
        """Call ``app`` with ``scope`` and this recorder's ends; the messages it sent."""
        await app(scope, self.receive, self.send)
        return self.sent

    async def answer(self, app: ASGIApp, scope: Scope) -> list[Message]:
        """Like ``run``, but an ``HTTPException`` the app raises is answered, as by an application.

        The answer is plain text, with the exception's status and headers.
        """
        from stellina.exceptions import HTTPException
        from stellina.responses import PlainTextResponse

        try:
            await app(scope, self.receive, self.send)
        except HTTPException as exc:
            await PlainTextResponse(exc.detail, exc.status_code, exc.headers)(
                scope, self.receive, self.send
            )
        return self.sent

    @property
    def status(self) -> int:
        """The status of the response start sent."""
        return int(next(m for m in self.sent if m["type"].endswith("response.start"))["status"])

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The raw headers of the response start sent."""
        start = next(m for m in self.sent if m["type"].endswith("response.start"))
        return list(start.get("headers", []))

    @property
    def body(self) -> bytes:
        """The response body sent, all chunks joined."""
        return b"".join(
            m.get("body", b"") for m in self.sent if m["type"].endswith("response.body")
        )
