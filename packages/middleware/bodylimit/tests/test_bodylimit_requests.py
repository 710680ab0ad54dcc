"""Request body limits: declared lengths, streamed bodies, and what the app sees."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stellina.middleware import Middleware
from stellina.middleware.body_limit import RequestBodyLimitMiddleware, RequestBodyTooLarge
from stellina.testclient import TestClient
from stellina.types import Message, Receive, Scope, Send

ClientFactory = Callable[..., TestClient]


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with the size of the body it read."""
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def chunks(count: int, size: int = 1000) -> Iterator[bytes]:
    for _ in range(count):
        yield b"x" * size


def test_bodies_within_the_limit(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(echo, max_body_size=5000))
    assert client.post("/", content=b"x" * 5000).text == "5000"
    assert client.post("/", content=chunks(5)).text == "5000"
    assert client.get("/").text == "0"


def test_declared_length_over_the_limit(test_client_factory: ClientFactory) -> None:
    called: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(True)  # pragma: no cover

    client = test_client_factory(RequestBodyLimitMiddleware(app, max_body_size=10))
    response = client.post("/", content=b"x" * 11)
    assert response.status_code == 413
    assert response.text == "Content Too Large"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    response = client.post("/", content=b"", headers={"Content-Length": "9" * 5000})
    assert response.status_code == 413
    assert called == []


def test_streamed_body_over_the_limit(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(echo, max_body_size=2500))
    response = client.post("/", content=chunks(1000))
    assert response.status_code == 413
    assert response.text == "Content Too Large"


def test_app_that_swallows_the_error_still_gets_413(test_client_factory: ClientFactory) -> None:
    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await echo(scope, receive, send)
        except RequestBodyTooLarge as exc:
            assert exc.max_body_size == 100
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"oops"})

    client = test_client_factory(RequestBodyLimitMiddleware(stubborn, max_body_size=100))
    response = client.post("/", content=chunks(3))
    assert response.status_code == 413


def test_other_errors_propagate(test_client_factory: ClientFactory) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    client = test_client_factory(RequestBodyLimitMiddleware(broken, max_body_size=100))
    with pytest.raises(RuntimeError, match="boom"):
        client.post("/", content=chunks(1, 10))


@pytest.mark.anyio
async def test_reading_stops_at_the_limit() -> None:
    pulled: list[int] = []

    async def receive() -> Message:
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def greedy(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(1000):
            with contextlib.suppress(RequestBodyTooLarge):
                await receive()

    scope: dict[str, Any] = {"type": "http", "headers": [(b"content-length", b"bogus")]}
    await RequestBodyLimitMiddleware(greedy, max_body_size=250)(scope, receive, send)
    assert len(pulled) == 3  # never read past the chunk that crossed the limit
    assert sent[0]["status"] == 413
    assert sent[1]["body"] == b"Content Too Large"


@pytest.mark.anyio
async def test_limit_crossed_after_the_response_started() -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()
        await receive()
        await send({"type": "http.response.body", "body": b"never"})  # pragma: no cover

    scope: dict[str, Any] = {"type": "http", "headers": []}
    await RequestBodyLimitMiddleware(streaming, max_body_size=150)(scope, receive, send)
    assert sent == [{"type": "http.response.start", "status": 200, "headers": []}]


@pytest.mark.anyio
async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        raise AssertionError  # pragma: no cover

    async def send(message: Message) -> None:
        raise AssertionError  # pragma: no cover

    middleware = RequestBodyLimitMiddleware(app, max_body_size=0)
    await middleware({"type": "websocket", "headers": []}, receive, send)
    await middleware({"type": "lifespan"}, receive, send)
    assert seen == ["websocket", "lifespan"]


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_invalid_limits(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        RequestBodyLimitMiddleware(echo, max_body_size=value)


def test_usable_as_a_middleware_spec(test_client_factory: ClientFactory) -> None:
    cls, args, kwargs = Middleware(RequestBodyLimitMiddleware, max_body_size=1)
    response = test_client_factory(cls(echo, *args, **kwargs)).post("/", content=b"ab")
    assert response.status_code == 413
