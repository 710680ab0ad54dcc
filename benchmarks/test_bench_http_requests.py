"""Reading the request body: Request.body(), stream() and json() against Starlette and bare."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

IMPLS = ("bare", "stellina", "starlette")
KIB = 1024
MIB = 1024 * KIB
CHUNK = 64 * KIB

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
END = {"type": "http.response.body", "body": b""}


async def bare_body(scope: Any, receive: Any, send: Any) -> None:
    parts = []
    more = True
    while more:
        message = await receive()
        parts.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(parts)
    await send(START)
    await send({**END, "body": body[:0]})


async def bare_stream(scope: Any, receive: Any, send: Any) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(START)
    await send(END)


async def bare_json(scope: Any, receive: Any, send: Any) -> None:
    parts = []
    more = True
    while more:
        message = await receive()
        parts.append(message.get("body", b""))
        more = message.get("more_body", False)
    json.loads(b"".join(parts))
    await send(START)
    await send(END)


BARE = {"body": bare_body, "stream": bare_stream, "json": bare_json}


def build_app(impl: str, operation: str) -> Any:
    if impl == "bare":
        return BARE[operation]
    request_class = importlib.import_module(f"{impl}.requests").Request

    if operation == "body":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await request_class(scope, receive).body()
            await send(START)
            await send(END)

    elif operation == "stream":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            async for _ in request_class(scope, receive).stream():
                pass
            await send(START)
            await send(END)

    else:

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await request_class(scope, receive).json()
            await send(START)
            await send(END)

    return app


def split(payload: bytes, chunked: bool) -> list[bytes]:
    if not chunked:
        return [payload]
    return [payload[index : index + CHUNK] for index in range(0, len(payload), CHUNK)]


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
    body = split(b"x" * SIZES[size], chunked)
    app = build_app(impl, operation)
    scope = make_scope("/", method="POST")
    assert driver.call(app, scope, body)[0]["status"] == 200
    benchmark(driver.call, app, scope, body)


def json_payload(size: int) -> bytes:
    items = []
    total = 0
    index = 0
    while total < size:
        item = {"id": index, "name": f"item-{index}", "tags": ["a", "b"], "price": index * 1.5}
        items.append(item)
        total += len(json.dumps(item)) + 2
        index += 1
    return json.dumps({"items": items}).encode()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("size", ["1KiB", "1MiB"])
def test_request_json(benchmark: Any, driver: Any, make_scope: Any, size: str, impl: str) -> None:
    benchmark.group = f"request.json() {size}"
    body = split(json_payload(SIZES[size]), chunked=size != "1KiB")
    app = build_app(impl, "json")
    scope = make_scope("/", method="POST", headers=[(b"content-type", b"application/json")])
    assert driver.call(app, scope, body)[0]["status"] == 200
    benchmark(driver.call, app, scope, body)
