"""TestClient.stream: the response arrives before the app finishes; closing cancels the app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest
from stellina_testing import ClientFactory, HeldApp

from stellina.types import ASGIApp, Receive, Scope, Send

# The shapes of the fixtures of this folder's conftest.
Hold = Callable[[list[str]], Awaitable[None]]
WithLifespan = Callable[..., ASGIApp]


def test_stream_returns_before_the_app_finishes(
    test_client_factory: ClientFactory, hold: Hold
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await hold(events)

    client = test_client_factory(app)
    with client.stream("GET", "/") as response:
        assert response.status_code == 200
        assert next(response.iter_raw()) == b"first"
        assert events == []
    assert events == ["cancelled"]


def test_stream_inside_lifespan_block_cancels_too(
    test_client_factory: ClientFactory, with_lifespan: WithLifespan
) -> None:
    app = HeldApp()
    with test_client_factory(with_lifespan(app)) as client:
        with client.stream("GET", "/") as response:
            assert response.status_code == 200
        assert app.events == ["cancelled"]
        with client.stream("GET", "/") as response:
            assert response.status_code == 200
    assert app.events == ["cancelled", "cancelled"]


def test_stream_reads_chunks_as_they_are_sent(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(5):
            await anyio.sleep(0)
            await send({"type": "http.response.body", "body": b"%d," % index, "more_body": True})
        await send({"type": "http.response.body", "body": b"end"})

    client = test_client_factory(app)
    with client.stream("GET", "/") as response:
        assert b"".join(response.iter_raw()) == b"0,1,2,3,4,end"
    assert client.get("/").content == b"0,1,2,3,4,end"


def test_endless_stream_without_checkpoints_can_be_closed(
    test_client_factory: ClientFactory,
) -> None:
    chunk = b"x" * 65536

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

    with test_client_factory(app).stream("GET", "/") as response:
        received = 0
        for part in response.iter_raw():
            received += len(part)
            if received >= 4 * len(chunk):
                break
    assert received >= 4 * len(chunk)


def test_stream_raises_the_app_error_when_read(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await anyio.sleep(0.01)
        raise ZeroDivisionError("while streaming")

    with test_client_factory(app).stream("GET", "/") as response:
        assert response.status_code == 200
        with pytest.raises(ZeroDivisionError, match="while streaming"):
            response.read()


def test_large_body_arrives_whole(test_client_factory: ClientFactory) -> None:
    chunk = bytes(range(256)) * 1024

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(16):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    assert test_client_factory(app).get("/").content == chunk * 16


def test_unclosed_stream_is_cancelled_when_the_client_block_ends(
    test_client_factory: ClientFactory, with_lifespan: WithLifespan
) -> None:
    app = HeldApp()
    with test_client_factory(with_lifespan(app)) as client:
        response = client.send(client.build_request("GET", "/"), stream=True)
        assert response.status_code == 200
    assert app.events == ["cancelled"]
    response.close()
    assert response.is_closed
