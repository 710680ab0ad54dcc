"""A whole application with one route returning a 2-byte response, against Starlette and bare."""

from __future__ import annotations

from typing import Any

import pytest
from benchlib import IMPLS, OK, app_class, module


def build_app(impl: str) -> Any:
    if impl == "bare":
        return OK
    responses = module(impl, "responses")
    routing = module(impl, "routing")

    async def endpoint(request: Any) -> Any:
        return responses.PlainTextResponse("ok")

    return app_class(impl)(routes=[routing.Route("/", endpoint)])


@pytest.mark.parametrize("impl", IMPLS)
def test_app_hello(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "app: one route, 2-byte response"
    app = build_app(impl)
    scope = make_scope("/")
    messages = driver.call(app, scope)
    assert messages[0]["status"] == 200
    assert messages[-1]["body"] == b"ok"
    benchmark(driver.call, app, scope)
