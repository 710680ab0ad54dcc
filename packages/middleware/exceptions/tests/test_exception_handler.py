"""Handlers read the body the app already read; handled exceptions drop their traceback."""

from __future__ import annotations

from typing import Any

import pytest

from stellina import _exception_handler
from stellina.exceptions import HTTPException
from stellina.middleware.exceptions import ExceptionMiddleware
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.types import Message


class BodyError(Exception):
    pass


async def drive(app: Any, messages: list[Message], path: str = "/") -> list[Message]:
    """Run one HTTP request through `app`; after `messages`, the client is gone."""
    scope: Message = {"type": "http", "method": "POST", "path": path, "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def body_of(sent: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def echo_body(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(await request.body(), status_code=422)


def reading(chunks: int | None) -> Any:
    """An app that reads `chunks` body messages (all of them when None), then raises."""

    async def app(scope: Message, receive: Any, send: Any) -> None:
        if chunks is None:
            await Request(scope, receive).body()
        for _ in range(chunks or 0):
            await receive()
        raise BodyError()

    return app


def request(*chunks: bytes) -> list[Message]:
    last = len(chunks) - 1
    return [
        {"type": "http.request", "body": chunk, "more_body": i < last}
        for i, chunk in enumerate(chunks)
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("chunks", [None, 0, 1, 2])
async def test_handler_reads_the_whole_body_however_much_the_app_read(
    chunks: int | None,
) -> None:
    app = ExceptionMiddleware(reading(chunks), handlers={BodyError: echo_body})
    sent = await drive(app, request(b"one ", b"two ", b"three"))
    assert sent[0]["status"] == 422
    assert body_of(sent) == b"one two three"


@pytest.mark.anyio
async def test_handler_reads_an_empty_body_the_app_already_read() -> None:
    app = ExceptionMiddleware(reading(None), handlers={BodyError: echo_body})
    sent = await drive(app, request(b""))
    assert (sent[0]["status"], body_of(sent)) == (422, b"")


@pytest.mark.anyio
async def test_status_handler_reads_the_body_too() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        await Request(scope, receive).body()
        raise HTTPException(409)

    middleware = ExceptionMiddleware(app, handlers={409: echo_body})
    sent = await drive(middleware, request(b"payload"))
    assert (sent[0]["status"], body_of(sent)) == (422, b"payload")


@pytest.mark.anyio
async def test_handler_sees_a_disconnect_the_app_saw() -> None:
    seen: list[str] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        await receive()
        await receive()  # the disconnect
        raise BodyError()

    async def handler(request: Request, exc: Exception) -> None:
        seen.append((await request.receive())["type"])
        seen.append((await request.receive())["type"])

    await drive(ExceptionMiddleware(app, handlers={BodyError: handler}), request(b"x"))
    assert seen == ["http.request", "http.disconnect"]


@pytest.mark.anyio
async def test_body_past_the_copy_limit_cannot_be_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_exception_handler, "BODY_COPY_LIMIT", 4)
    errors: list[str] = []

    async def handler(request: Request, exc: Exception) -> Response:
        with pytest.raises(RuntimeError) as info:
            await request.body()
        errors.append(str(info.value))
        return PlainTextResponse("gone", status_code=400)

    app = ExceptionMiddleware(reading(None), handlers={BodyError: handler})
    sent = await drive(app, request(b"abc", b"def"))
    assert (sent[0]["status"], errors) == (400, ["Stream consumed"])


@pytest.mark.anyio
async def test_stock_handlers_alone_leave_receive_untouched() -> None:
    channels: list[Any] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        channels.append(receive)
        raise HTTPException(400)

    scope: Message = {"type": "http", "method": "GET", "path": "/", "headers": []}

    async def receive() -> Message:
        raise AssertionError("not read")

    async def send(message: Message) -> None:
        pass

    await ExceptionMiddleware(app)(scope, receive, send)
    assert channels == [receive]


@pytest.mark.anyio
async def test_handled_exception_leaves_without_traceback() -> None:
    shared = HTTPException(401)
    custom = BodyError()

    async def app(scope: Message, receive: Any, send: Any) -> None:
        raise shared if scope["path"] == "/" else custom

    async def handler(request: Request, exc: Exception) -> Response:
        assert exc.__traceback__ is not None  # the handler still sees it
        return PlainTextResponse("custom", status_code=418)

    middleware = ExceptionMiddleware(app, handlers={BodyError: handler})
    for _ in range(3):
        sent = await drive(middleware, [])
        assert sent[0]["status"] == 401
        assert shared.__traceback__ is None
    sent = await drive(middleware, [], "/custom")
    assert sent[0]["status"] == 418
    assert custom.__traceback__ is None


@pytest.mark.anyio
async def test_unhandled_exception_keeps_its_traceback() -> None:
    error = ValueError("nobody handles me")

    async def app(scope: Message, receive: Any, send: Any) -> None:
        raise error

    with pytest.raises(ValueError):
        await drive(ExceptionMiddleware(app, handlers={BodyError: echo_body}), [])
    assert error.__traceback__ is not None


@pytest.mark.anyio
async def test_only_sync_handlers_go_through_the_thread_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Any] = []
    real = _exception_handler.run_in_threadpool

    async def counting(func: Any, *args: Any) -> Any:
        calls.append(func)
        return await real(func, *args)

    monkeypatch.setattr(_exception_handler, "run_in_threadpool", counting)

    def sync_handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("sync", status_code=418)

    async def app(scope: Message, receive: Any, send: Any) -> None:
        raise BodyError() if scope["path"] == "/" else HTTPException(406)

    middleware = ExceptionMiddleware(app, handlers={BodyError: sync_handler})
    sent = await drive(middleware, [])
    assert (sent[0]["status"], calls) == (418, [sync_handler])
    sent = await drive(middleware, [], "/406")
    assert (sent[0]["status"], calls) == (406, [sync_handler])
