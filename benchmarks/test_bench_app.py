"""A whole application with one route returning a 2-byte response, against Starlette and bare."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

IMPLS = ("bare", "stellina", "starlette")


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"2"), (b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


def build_app(impl: str) -> Any:
    if impl == "bare":
        return bare_app
    applications = importlib.import_module(f"{impl}.applications")
    responses = importlib.import_module(f"{impl}.responses")
    routing = importlib.import_module(f"{impl}.routing")

    async def endpoint(request: Any) -> Any:
        return responses.PlainTextResponse("ok")

    app_class = applications.Stellina if impl == "stellina" else applications.Starlette
    return app_class(routes=[routing.Route("/", endpoint)])


@pytest.mark.parametrize("impl", IMPLS)
def test_app_hello(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "app: one route, 2-byte response"
    app = build_app(impl)
    scope = make_scope("/")
    messages = driver.call(app, scope)
    assert messages[0]["status"] == 200
    assert messages[-1]["body"] == b"ok"
    benchmark(driver.call, app, scope)
