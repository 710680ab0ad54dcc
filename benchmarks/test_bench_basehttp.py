"""BaseHTTPMiddleware: a dispatch that adds a header, against Starlette and bare."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from benchlib import OK, TEXT_PLAIN

hello = OK
HEADERS = [(b"content-length", b"2"), (b"content-type", TEXT_PLAIN)]


async def bare_with_header(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [*HEADERS, (b"x-a", b"1")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def build(impl: str, app: Any) -> Any:
    base = importlib.import_module(f"{impl}.middleware.base").BaseHTTPMiddleware

    async def dispatch(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-a"] = "1"
        return response

    return base(app, dispatch=dispatch)


@pytest.mark.parametrize("impl", ["bare", "stellina", "starlette"])
def test_basehttp_add_header(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "BaseHTTPMiddleware: add a header"
    app = bare_with_header if impl == "bare" else build(impl, hello)
    scope = make_scope("/")
    sent = driver.call(app, scope)
    assert (b"x-a", b"1") in sent[0]["headers"]
    benchmark(driver.call, app, scope)


@pytest.mark.parametrize("impl", ["stellina", "starlette"])
def test_basehttp_body_replay(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "BaseHTTPMiddleware: body read in dispatch and app, 64 KiB"
    requests = importlib.import_module(f"{impl}.requests")
    responses = importlib.import_module(f"{impl}.responses")
    base = importlib.import_module(f"{impl}.middleware.base").BaseHTTPMiddleware

    async def echo_size(scope: Any, receive: Any, send: Any) -> None:
        body = await requests.Request(scope, receive).body()
        await responses.PlainTextResponse(str(len(body)))(scope, receive, send)

    async def dispatch(request: Any, call_next: Any) -> Any:
        await request.body()
        return await call_next(request)

    app = base(echo_size, dispatch=dispatch)
    scope = make_scope("/", method="POST")
    chunks = [b"x" * 4096] * 16
    assert driver.call(app, scope, chunks)[1]["body"] == b"65536"
    benchmark(driver.call, app, scope, chunks)
