"""ServerErrorMiddleware: pass-through cost and the default 500, against Starlette and bare."""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

import pytest
from benchlib import OK

hello = OK


async def failing(scope: Any, receive: Any, send: Any) -> None:
    raise ValueError("boom")


async def bare_500(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-length", b"21"), (b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": b"Internal Server Error"})
    raise ValueError("boom")


def middleware(impl: str, app: Any) -> Any:
    return importlib.import_module(f"{impl}.middleware.errors").ServerErrorMiddleware(app)


def call_catching(driver: Any, app: Any, scope: Any) -> None:
    with contextlib.suppress(ValueError):
        driver.call(app, scope)


@pytest.mark.parametrize("impl", ["bare", "stellina", "starlette"])
def test_errors_pass_through(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "ServerErrorMiddleware: pass-through"
    app = hello if impl == "bare" else middleware(impl, hello)
    scope = make_scope("/")
    assert driver.call(app, scope)[1]["body"] == b"ok"
    benchmark(driver.call, app, scope)


@pytest.mark.parametrize("impl", ["bare", "stellina", "starlette"])
def test_errors_default_500(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "ServerErrorMiddleware: exception -> 500"
    app = bare_500 if impl == "bare" else middleware(impl, failing)
    scope = make_scope("/")
    benchmark(call_catching, driver, app, scope)
