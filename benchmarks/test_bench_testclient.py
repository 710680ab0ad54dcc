"""TestClient overhead: one GET or one WebSocket round trip against the same bare ASGI app."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "http":
        await receive()
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"13")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"Hello, world!"})
    else:
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message["text"]})


def client_class(impl: str) -> Any:
    if impl == "stellina":
        from stellina.testclient import TestClient
    else:
        with warnings.catch_warnings():
            # Starlette 1.10 warns that it prefers another httpx distribution.
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient
    return TestClient


@pytest.fixture(params=["stellina", "starlette"])
def impl(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def entered_client(impl: str) -> Iterator[Any]:
    with client_class(impl)(app) as client:
        yield client


def test_get_in_lifespan_block(benchmark: Any, entered_client: Any) -> None:
    benchmark.group = "testclient GET, shared portal"
    response = benchmark(entered_client.get, "/")
    assert response.text == "Hello, world!"


def test_get_portal_per_request(benchmark: Any, impl: str) -> None:
    benchmark.group = "testclient GET, portal per request"
    client = client_class(impl)(app)
    response = benchmark(client.get, "/")
    assert response.text == "Hello, world!"


def test_websocket_round_trip(benchmark: Any, entered_client: Any) -> None:
    benchmark.group = "testclient WebSocket 10 round trips"

    def run() -> str:
        with entered_client.websocket_connect("/") as session:
            for _ in range(10):
                session.send_text("ping")
                text: str = session.receive_text()
        return text

    assert benchmark(run) == "ping"
