"""ExceptionMiddleware: pass-through cost and an HTTPException answered, against Starlette."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from benchlib import OK

hello = OK


async def bare_404(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-length", b"9"), (b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": b"Not Found"})


def build(impl: str, case: str) -> Any:
    if impl == "bare":
        return hello if case == "pass-through" else bare_404
    exceptions = importlib.import_module(f"{impl}.exceptions")
    middleware = importlib.import_module(f"{impl}.middleware.exceptions").ExceptionMiddleware
    if case == "pass-through":
        return middleware(hello)

    async def not_found(scope: Any, receive: Any, send: Any) -> None:
        raise exceptions.HTTPException(404)

    return middleware(not_found)


@pytest.mark.parametrize("impl", ["bare", "stellina", "starlette"])
@pytest.mark.parametrize("case", ["pass-through", "HTTPException 404"])
def test_exceptions(benchmark: Any, driver: Any, make_scope: Any, case: str, impl: str) -> None:
    benchmark.group = f"ExceptionMiddleware: {case}"
    app = build(impl, case)
    scope = make_scope("/")
    sent = driver.call(app, scope)
    assert sent[0]["status"] == (200 if case == "pass-through" else 404)
    benchmark(driver.call, app, scope)
