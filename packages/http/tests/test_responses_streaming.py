"""StreamingResponse: sync and async bodies, headers, disconnects on old and new ASGI servers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from stellina_testing import Recorder, http_scope, websocket_scope

from stellina.background import BackgroundTask
from stellina.requests import ClientDisconnect
from stellina.responses import StreamingResponse
from stellina.types import Message, Scope


def scope_of(spec_version: str | None = "2.4") -> Scope:
    """An HTTP scope from a server of ``spec_version`` (None: one that does not say)."""
    scope = http_scope(asgi={"version": "3.0", "spec_version": spec_version})
    if spec_version is None:
        del scope["asgi"]
    return scope


async def never_disconnects() -> Message:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


async def call(
    response: StreamingResponse, spec_version: str | None = "2.4", receive: Any = never_disconnects
) -> list[Message]:
    recorder = Recorder()
    await response(scope_of(spec_version), receive, recorder.send)
    return recorder.sent


def bodies(sent: list[Message]) -> list[tuple[bytes, bool]]:
    return [(bytes(message["body"]), message["more_body"]) for message in sent[1:]]


@pytest.mark.anyio
@pytest.mark.parametrize("spec_version", ["2.4", "2.5", "2.3", "2.0", None])
async def test_async_body_of_bytes_str_and_memoryview(spec_version: str | None) -> None:
    async def body() -> AsyncIterator[bytes | str | memoryview]:
        yield b"one,"
        yield "twö,"
        yield memoryview(b"three")

    events: list[str] = []

    async def task() -> None:
        events.append("done")

    response = StreamingResponse(body(), media_type="text/plain", background=BackgroundTask(task))
    sent = await call(response, spec_version)
    assert sent[0] == {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
    }
    assert bodies(sent) == [
        (b"one,", True),
        ("twö,".encode(), True),
        (b"three", True),
        (b"", False),
    ]
    assert events == ["done"]


@pytest.mark.anyio
async def test_sync_iterable_is_iterated_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def body() -> Iterator[str]:
        for part in ("a", "b"):
            threads.add(threading.get_ident())
            yield part

    sent = await call(StreamingResponse(body()))
    assert bodies(sent) == [(b"a", True), (b"b", True), (b"", False)]
    assert threads and loop_thread not in threads
    sent = await call(StreamingResponse([b"x", "y"]))
    assert bodies(sent) == [(b"x", True), (b"y", True), (b"", False)]


def test_headers_status_and_no_content_length() -> None:
    response = StreamingResponse(
        iter([b""]), status_code=201, headers={"X-A": "1"}, media_type="application/x-ndjson"
    )
    assert response.status_code == 201
    assert response.raw_headers == [(b"x-a", b"1"), (b"content-type", b"application/x-ndjson")]
    assert not hasattr(response, "body")
    assert StreamingResponse(iter([])).raw_headers == []


@pytest.mark.anyio
async def test_oserror_from_send_becomes_client_disconnect() -> None:
    produced: list[int] = []
    events: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        for index in range(100):
            produced.append(index)
            yield b"x"

    async def send(message: Message) -> None:
        if message.get("more_body") and len(produced) >= 3:
            raise OSError("connection lost")

    async def task() -> None:
        events.append("ran")

    response = StreamingResponse(body(), background=BackgroundTask(task))
    with pytest.raises(ClientDisconnect):
        await response(scope_of("2.4"), never_disconnects, send)
    assert len(produced) == 3
    assert events == []


@pytest.mark.anyio
@pytest.mark.parametrize("spec_version", ["2.3", "2.0", None])
async def test_old_servers_stop_an_endless_stream_on_disconnect(spec_version: str | None) -> None:
    sent_count = 0
    events: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"tick"
            await anyio.sleep(0)

    messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> Message:
        try:
            return next(messages)
        except StopIteration:
            while sent_count < 5:
                await anyio.sleep(0)
            return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal sent_count
        sent_count += 1

    async def task() -> None:
        events.append("ran")

    response = StreamingResponse(endless(), background=BackgroundTask(task))
    with anyio.fail_after(5):
        await response(scope_of(spec_version), receive, send)
    assert sent_count >= 5
    assert events == ["ran"]


@pytest.mark.anyio
@pytest.mark.parametrize("spec_version", ["2.4", "2.0"])
async def test_errors_from_the_body_propagate_unwrapped(spec_version: str) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"first"
        raise KeyError("broken body")

    with pytest.raises(KeyError, match="broken body"):
        await call(StreamingResponse(failing()), spec_version)


@pytest.mark.anyio
async def test_old_servers_errors_in_receive_propagate() -> None:
    async def body() -> AsyncIterator[bytes]:
        await anyio.sleep_forever()
        yield b""

    async def receive() -> Message:
        raise RuntimeError("receive failed")

    with pytest.raises(RuntimeError, match="receive failed"):
        await call(StreamingResponse(body()), "2.0", receive)


@pytest.mark.anyio
async def test_subclass_can_override_stream_response() -> None:
    class Framed(StreamingResponse):
        async def stream_response(self, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            async for chunk in self.body_iterator:
                assert isinstance(chunk, bytes)
                await send({"type": "http.response.body", "body": b"[" + chunk + b"]"})
            await send({"type": "http.response.body", "body": b""})

    sent = await call(Framed(iter([b"a"])))
    assert [message["body"] for message in sent[1:]] == [b"[a]", b""]


@pytest.mark.anyio
async def test_websocket_scope_gets_a_denial_response_and_runs_the_background() -> None:
    events: list[str] = []

    async def body() -> AsyncIterator[str]:
        yield "no"

    async def receive() -> Message:
        raise AssertionError("a denial response does not listen for disconnects")

    recorder = Recorder()
    response = StreamingResponse(
        body(), status_code=403, background=BackgroundTask(events.append, "ran")
    )
    await response(websocket_scope(), receive, recorder.send)
    assert [message["type"] for message in recorder.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "websocket.http.response.body",
    ]
    assert recorder.status == 403
    assert recorder.body == b"no"
    assert events == ["ran"]
