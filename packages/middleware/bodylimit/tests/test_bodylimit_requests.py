"""Request body limits: declared lengths, streamed bodies, and what the app sees."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.asgi import BodyLimit, HTTPException
from stellina.middleware import Middleware
from stellina.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY, RequestBodyLimitMiddleware
from stellina.types import ASGIApp, Message, Receive, Scope, Send


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


def test_a_lying_content_length_is_counted(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(echo, max_body_size=5))
    response = client.post("/", content=b"123456", headers={"Content-Length": "1"})
    assert response.status_code == 413
    response = client.post("/", content=b"12345", headers={"Content-Length": "nonsense"})
    assert response.text == "5"


@pytest.mark.anyio
async def test_declared_length_is_refused_before_the_app_runs() -> None:
    async def never(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not run")  # pragma: no cover

    recorder = Recorder()
    scope = http_scope(method="POST", headers=[(b"content-length", b"9" * 4000)])
    await recorder.run(RequestBodyLimitMiddleware(never, max_body_size=5), scope)
    assert recorder.status == 413
    assert recorder.body == b"Content Too Large"
    assert recorder.incoming == []  # nothing was read


def test_app_that_swallows_the_error_and_answers_nothing_gets_413(
    test_client_factory: ClientFactory,
) -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(HTTPException):
            await echo(scope, receive, send)

    client = test_client_factory(RequestBodyLimitMiddleware(silent, max_body_size=100))
    response = client.post("/", content=chunks(3))
    assert response.status_code == 413


def test_app_that_handles_the_error_answers_itself(test_client_factory: ClientFactory) -> None:
    async def handling(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await echo(scope, receive, send)
        except HTTPException as exc:
            assert (exc.status_code, exc.detail) == (413, "Content Too Large")
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"too much"})

    client = test_client_factory(RequestBodyLimitMiddleware(handling, max_body_size=100))
    response = client.post("/", content=chunks(3))
    assert (response.status_code, response.text) == (400, "too much")


def test_other_errors_propagate(test_client_factory: ClientFactory) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    client = test_client_factory(RequestBodyLimitMiddleware(broken, max_body_size=100))
    with pytest.raises(RuntimeError, match="boom"):
        client.post("/", content=chunks(1, 10))


@pytest.mark.anyio
async def test_an_unrelated_413_propagates() -> None:
    async def refusing(scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(413, "not this one")

    with pytest.raises(HTTPException, match="not this one"):
        await Recorder().run(RequestBodyLimitMiddleware(refusing, max_body_size=100), http_scope())


@pytest.mark.anyio
async def test_reading_stops_at_the_limit() -> None:
    pulled: list[int] = []

    async def receive() -> Message:
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    recorder = Recorder()

    async def greedy(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(1000):
            with contextlib.suppress(HTTPException):
                await receive()

    scope = http_scope(headers=[(b"content-length", b"bogus")])
    await RequestBodyLimitMiddleware(greedy, max_body_size=250)(scope, receive, recorder.send)
    assert len(pulled) == 3  # never read past the chunk that crossed the limit
    assert recorder.status == 413
    assert recorder.body == b"Content Too Large"


@pytest.mark.anyio
async def test_limit_crossed_after_the_response_started_raises() -> None:
    recorder = Recorder.with_body(b"x" * 100, b"x" * 100)

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()
        await receive()

    with pytest.raises(HTTPException) as caught:
        await recorder.run(RequestBodyLimitMiddleware(streaming, max_body_size=150), http_scope())
    assert caught.value.status_code == 413
    assert recorder.sent == [{"type": "http.response.start", "status": 200, "headers": []}]


@pytest.mark.anyio
async def test_other_messages_pass_through_untouched() -> None:
    disconnect: Message = {"type": "http.disconnect"}
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await receive())

    recorder = Recorder(last=disconnect)
    await recorder.run(RequestBodyLimitMiddleware(app, max_body_size=0), http_scope())
    assert seen[0] is disconnect


@pytest.mark.anyio
@pytest.mark.parametrize("before", [None, 10, 2])
async def test_scope_key_holds_the_limit_during_the_call(before: int | None) -> None:
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope[MAX_BODY_SIZE_SCOPE_KEY])

    scope = http_scope()
    if before is not None:
        scope[MAX_BODY_SIZE_SCOPE_KEY] = before
    await Recorder().run(RequestBodyLimitMiddleware(app, max_body_size=5), scope)
    assert seen == [5]
    assert scope.get(MAX_BODY_SIZE_SCOPE_KEY) == before


@pytest.mark.anyio
async def test_inner_layers_share_the_limit() -> None:
    """An inner layer (a route, a mount) may raise the limit through the same counter."""

    def raising_to(limit: int) -> Any:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await echo(scope, BodyLimit.apply(scope, receive, limit), send)

        return app

    recorder = Recorder.with_body(b"x" * 8)
    await recorder.run(RequestBodyLimitMiddleware(raising_to(10), max_body_size=5), http_scope())
    assert recorder.body == b"8"
    recorder = Recorder.with_body(b"x" * 8)
    await recorder.run(RequestBodyLimitMiddleware(raising_to(3), max_body_size=50), http_scope())
    assert recorder.status == 413


@pytest.mark.anyio
async def test_outer_limit_is_restored_afterwards() -> None:
    scope = http_scope()
    receive = BodyLimit.apply(scope, Recorder.with_body(b"abc").receive, 100)
    await Recorder().run(RequestBodyLimitMiddleware(echo, max_body_size=5), scope)
    limiter = BodyLimit.of(scope)
    assert limiter is not None
    assert limiter is receive
    assert limiter.limit == 100
    assert scope[MAX_BODY_SIZE_SCOPE_KEY] == 100


@pytest.mark.anyio
async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    recorder = Recorder()
    middleware = RequestBodyLimitMiddleware(app, max_body_size=0)
    lifespan: Scope = {"type": "lifespan"}
    await middleware({"type": "websocket", "headers": []}, recorder.receive, recorder.send)
    await middleware(lifespan, recorder.receive, recorder.send)
    assert seen == ["websocket", "lifespan"]
    assert lifespan == {"type": "lifespan"}


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


def framework_app(fail_first: bool = False) -> ASGIApp:
    """Like another framework's app: an exception while serving becomes its own 500, then
    propagates (here, the 413 raised from ``receive``)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if fail_first:
                raise RuntimeError("the app's own bug")
            more = True
            while more:
                more = (await receive()).get("more_body", False)
        except Exception:
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"Internal Server Error"})
            raise
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def test_a_framework_answering_the_crossed_limit_with_a_500_gives_a_413(
    test_client_factory: ClientFactory,
) -> None:
    middleware = RequestBodyLimitMiddleware(framework_app(), max_body_size=10)
    client = test_client_factory(middleware)
    # No Content-Length: the limit is crossed while the app reads.
    response = client.post("/", content=iter([b"x" * 6, b"x" * 6]))
    assert (response.status_code, response.text) == (413, "Content Too Large")
    assert client.post("/", content=iter([b"x" * 10])).status_code == 204


def test_a_500_of_the_app_s_own_stays_a_500(test_client_factory: ClientFactory) -> None:
    middleware = RequestBodyLimitMiddleware(framework_app(fail_first=True), max_body_size=10)
    client = test_client_factory(middleware, raise_server_exceptions=False)
    assert client.post("/", content=iter([b"x" * 6, b"x" * 6])).status_code == 500
