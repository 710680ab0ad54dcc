"""BaseHTTPMiddleware: the request body, read by dispatch and by the app in turns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope, request_app

from stellina.middleware.base import (
    BaseHTTPMiddleware,
    DispatchFunction,
    RequestResponseEndpoint,
)
from stellina.requests import ClientDisconnect, Request
from stellina.responses import PlainTextResponse, Response
from stellina.types import Message, Scope


def post() -> Scope:
    return http_scope(method="POST")


async def serve(
    handler: Callable[[Request], Awaitable[Response]],
    dispatch: DispatchFunction,
    *chunks: bytes,
) -> list[Message]:
    """What BaseHTTPMiddleware(dispatch) over ``handler`` sends for a body of ``chunks``."""
    middleware = BaseHTTPMiddleware(request_app(handler), dispatch=dispatch)
    return await Recorder.with_body(*chunks).run(middleware, post())


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def test_body_readable_in_dispatch_and_downstream(test_client_factory: ClientFactory) -> None:
    seen: dict[str, bytes] = {}

    async def echo(request: Request) -> Response:
        return Response(b"app got " + await request.body())

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        seen["dispatch"] = await request.body()
        return await call_next(request)

    client = test_client_factory(BaseHTTPMiddleware(request_app(echo), dispatch=dispatch))
    assert client.post("/", content=b"payload").text == "app got payload"
    assert seen["dispatch"] == b"payload"
    assert client.post("/", json={"a": 1}).text == 'app got {"a":1}'


@pytest.mark.anyio
async def test_body_read_whole_in_dispatch_reaches_the_app_then_disconnect() -> None:
    received: list[Message] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        received.append(await receive())
        await PlainTextResponse("ok")(scope, receive, send)
        received.append(await receive())

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        assert await request.body() == b"abc"
        return await call_next(request)

    await Recorder.with_body(b"a", b"b", b"c").run(
        BaseHTTPMiddleware(app, dispatch=dispatch), post()
    )
    assert received[0] == {"type": "http.request", "body": b"abc", "more_body": False}
    # Once the response is sent the app hears a disconnect instead of waiting forever.
    assert received[1] == {"type": "http.disconnect"}


@pytest.mark.anyio
async def test_body_streamed_to_the_end_in_dispatch_leaves_the_app_an_empty_body() -> None:
    async def echo(request: Request) -> Response:
        return Response(b"app got [" + await request.body() + b"]")

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        assert [chunk async for chunk in request.stream()] == [b"a", b"b", b""]
        return await call_next(request)

    sent = await serve(echo, dispatch, b"a", b"b")
    assert sent[1]["body"] == b"app got []"


@pytest.mark.anyio
async def test_dispatch_and_app_stream_the_body_in_turns() -> None:
    async def first_chunk(request: Request) -> Response:
        async with aclosing(request.stream()) as stream:
            chunk = await stream.__anext__()
        return Response(b"app got " + chunk)

    seen: list[bytes] = []

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = None
        async for chunk in request.stream():
            seen.append(chunk)
            if response is None:
                response = await call_next(request)
        assert response is not None
        return response

    sent = await serve(first_chunk, dispatch, b"1", b"2", b"3")
    assert sent[1]["body"] == b"app got 2"
    assert seen == [b"1", b"3", b""]


@pytest.mark.anyio
async def test_dispatch_cannot_stream_on_once_the_app_read_to_the_end() -> None:
    async def echo(request: Request) -> Response:
        return Response(await request.body())

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        stream = request.stream()
        assert await stream.__anext__() == b"first-"
        response = await call_next(request)
        with pytest.raises(RuntimeError, match="Stream consumed"):
            await stream.__anext__()
        return response

    sent = await serve(echo, dispatch, b"first-", b"second")
    assert sent[1]["body"] == b"second"


def test_body_read_in_dispatch_after_the_app(test_client_factory: ClientFactory) -> None:
    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        return Response(b"late " + await request.body())

    client = test_client_factory(BaseHTTPMiddleware(request_app(hello), dispatch=dispatch))
    assert client.post("/", content=b"read").text == "late read"


def test_body_consumed_by_app_cannot_be_read_in_dispatch(
    test_client_factory: ClientFactory,
) -> None:
    async def consume(request: Request) -> Response:
        return Response(await request.body())

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        with pytest.raises(RuntimeError, match="Stream consumed"):
            await request.body()
        return response

    client = test_client_factory(BaseHTTPMiddleware(request_app(consume), dispatch=dispatch))
    assert client.post("/", content=b"x" * 10).text == "x" * 10


@pytest.mark.anyio
async def test_disconnect_while_dispatch_reads_reaches_the_app() -> None:
    seen: list[Any] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen.append(await receive())

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        with pytest.raises(ClientDisconnect):
            await request.body()
        assert await request.is_disconnected()
        with pytest.raises(RuntimeError, match="No response returned."):
            await call_next(request)
        return Response(status_code=499)

    sent = await Recorder().run(BaseHTTPMiddleware(app, dispatch=dispatch), post())
    assert seen == [{"type": "http.disconnect"}]
    assert sent[0]["status"] == 499
