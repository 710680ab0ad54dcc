"""WSGIMiddleware: a small and a streamed WSGI response, against Starlette and bare ASGI."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from benchlib import OK

bare_hello = OK


def wsgi_hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response(
        "200 OK", [("Content-Length", "2"), ("Content-Type", "text/plain; charset=utf-8")]
    )
    return [b"ok"]


def wsgi_stream(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    chunk = b"x" * 16384
    for _ in range(64):
        yield chunk


def middleware(impl: str, app: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette deprecates its WSGIMiddleware
        module = importlib.import_module(f"{impl}.middleware.wsgi")
    return module.WSGIMiddleware(app)


@pytest.mark.parametrize("impl", ["bare", "stellina", "starlette"])
def test_wsgi_hello(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "WSGIMiddleware: 2-byte response"
    app = bare_hello if impl == "bare" else middleware(impl, wsgi_hello)
    scope = make_scope("/")
    assert b"".join(m.get("body", b"") for m in driver.call(app, scope)) == b"ok"
    benchmark(driver.call, app, scope)


@pytest.mark.parametrize("impl", ["stellina", "starlette"])
def test_wsgi_stream(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "WSGIMiddleware: 64 x 16 KiB generator"
    app = middleware(impl, wsgi_stream)
    scope = make_scope("/")
    assert sum(len(m.get("body", b"")) for m in driver.call(app, scope)) == 64 * 16384
    benchmark(driver.call, app, scope)
