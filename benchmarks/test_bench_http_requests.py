"""Reading the request body: Request.body(), stream() and json() against Starlette and bare."""

from __future__ import annotations

import json
from typing import Any

import pytest
from benchlib import IMPLS, KIB, MIB, json_items, module, split
from stellina_testing import read_body as drain

EMPTY = b""


async def bare_read(scope: Any, receive: Any, send: Any) -> None:
    """The physical limit of body() and json(): join the chunks (and decode the JSON)."""
    body = await drain(receive)
    if scope["headers"][-1][1] == b"application/json":
        json.loads(body)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": EMPTY})


async def bare_discard(scope: Any, receive: Any, send: Any) -> None:
    """The physical limit of stream(): look at each chunk once, keep none."""
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": EMPTY})


async def read_body(request: Any) -> None:
    await request.body()


async def read_stream(request: Any) -> None:
    async for _ in request.stream():
        pass


async def read_json(request: Any) -> None:
    await request.json()


READERS = {"body": read_body, "stream": read_stream, "json": read_json}


def build_app(impl: str, operation: str) -> Any:
    if impl == "bare":
        return bare_discard if operation == "stream" else bare_read
    request_class = module(impl, "requests").Request
    read = READERS[operation]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read(request_class(scope, receive))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": EMPTY})

    return app


SIZES = {"1KiB": KIB, "1MiB": MIB, "10MiB": 10 * MIB}
# 1 KiB fits in one 64 KiB chunk, so it only has the one-message case.
BODY_CASES = [("1KiB", False), ("1MiB", False), ("1MiB", True), ("10MiB", False), ("10MiB", True)]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("size", "chunked"),
    BODY_CASES,
    ids=[f"{size}-{'64KiB-chunks' if chunked else 'one-message'}" for size, chunked in BODY_CASES],
)
@pytest.mark.parametrize("operation", ["body", "stream"])
def test_request_body(
    benchmark: Any,
    driver: Any,
    make_scope: Any,
    operation: str,
    size: str,
    chunked: bool,
    impl: str,
) -> None:
    label = "64 KiB chunks" if chunked else "one message"
    benchmark.group = f"request.{operation}() {size}, {label}"
    payload = b"x" * SIZES[size]
    body = split(payload) if chunked else [payload]
    app = build_app(impl, operation)
    messages = benchmark(driver.call, app, make_scope("/", method="POST"), body)
    assert messages[0]["status"] == 200


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("size", ["1KiB", "1MiB"])
def test_request_json(benchmark: Any, driver: Any, make_scope: Any, size: str, impl: str) -> None:
    benchmark.group = f"request.json() {size}"
    body = split(json.dumps(json_items(SIZES[size])).encode())
    app = build_app(impl, "json")
    scope = make_scope("/", method="POST", headers=[(b"content-type", b"application/json")])
    messages = benchmark(driver.call, app, scope, body)
    assert messages[0]["status"] == 200
