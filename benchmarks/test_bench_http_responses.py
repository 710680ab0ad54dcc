"""Sending responses (plain, JSON, streaming, file) against Starlette and a bare ASGI callable."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from benchlib import json_items

KIB = 1024
MIB = 1024 * KIB

HELLO = b"Hello, world!"
HELLO_HEADERS = [(b"content-length", b"13"), (b"content-type", b"text/plain; charset=utf-8")]


async def bare_hello(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HELLO_HEADERS})
    await send({"type": "http.response.body", "body": HELLO})


def responses(impl: str) -> Any:
    return importlib.import_module(f"{impl}.responses")


PREBUILT = {
    impl: responses(impl).Response(HELLO, media_type="text/plain")
    for impl in ("stellina", "starlette")
}


def build_constructed(impl: str) -> Any:
    response_class = responses(impl).Response

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await response_class(HELLO, media_type="text/plain")(scope, receive, send)

    return app


@pytest.mark.parametrize("impl", ["bare", "stellina", "starlette"])
@pytest.mark.parametrize("case", ["prebuilt", "constructed"])
def test_hello(benchmark: Any, driver: Any, make_scope: Any, case: str, impl: str) -> None:
    benchmark.group = f"hello: {case} Response"
    if impl == "bare":
        app = bare_hello
    elif case == "prebuilt":
        app = PREBUILT[impl]
    else:
        app = build_constructed(impl)
    scope = make_scope("/")
    sent = driver.call(app, scope)
    assert sent[0]["headers"] == HELLO_HEADERS
    assert sent[1]["body"] == HELLO
    benchmark(driver.call, app, scope)


@pytest.mark.parametrize("impl", ["stellina", "starlette"])
@pytest.mark.parametrize("size", ["1KiB", "1MiB"])
def test_json(benchmark: Any, driver: Any, make_scope: Any, size: str, impl: str) -> None:
    benchmark.group = f"JSONResponse {size}"
    document = json_items(KIB if size == "1KiB" else MIB)
    response_class = responses(impl).JSONResponse

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await response_class(document)(scope, receive, send)

    scope = make_scope("/")
    assert json.loads(driver.call(app, scope)[1]["body"]) == document
    benchmark(driver.call, app, scope)


CHUNK = b"x" * KIB


async def kib_chunks() -> AsyncIterator[bytes]:
    for _ in range(1024):
        yield CHUNK


def sync_kib_chunks() -> Iterator[bytes]:
    for _ in range(1024):
        yield CHUNK


@pytest.mark.parametrize("impl", ["stellina", "starlette"])
def test_streaming(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "StreamingResponse 1 MiB in 1 KiB chunks"
    response_class = responses(impl).StreamingResponse

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await response_class(kib_chunks(), media_type="application/octet-stream")(
            scope, receive, send
        )

    scope = make_scope("/")
    sent = driver.call(app, scope)
    assert sum(len(message.get("body", b"")) for message in sent) == MIB
    benchmark(driver.call, app, scope)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "big.bin"
    path.write_bytes(bytes(range(256)) * (40 * KIB))
    return path


@pytest.mark.parametrize("impl", ["stellina", "starlette"])
@pytest.mark.parametrize("mode", ["reads", "pathsend"])
def test_file(
    benchmark: Any, driver: Any, make_scope: Any, big_file: Path, mode: str, impl: str
) -> None:
    benchmark.group = f"FileResponse 10 MiB by {mode}"
    response_class = responses(impl).FileResponse

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await response_class(big_file)(scope, receive, send)

    extensions: dict[str, Any] = {"http.response.pathsend": {}} if mode == "pathsend" else {}
    scope = make_scope("/", extensions=extensions)
    sent = driver.call(app, scope)
    if mode == "reads":
        assert sum(len(message.get("body", b"")) for message in sent) == 10 * MIB
    else:
        assert sent[-1]["type"] == "http.response.pathsend"
    benchmark(driver.call, app, scope)
