"""Router dispatch: stellina's indexed Router against Starlette's route-by-route scan.

Two tables: a 120-route REST table (30 resources x 4 routes) and a 20-route one (5 x 4).
Per table: a static hit on the first route, a static and a parameterised hit on the last
routes, a miss (404 after the redirect_slashes probe) and a 405. Every endpoint returns the
same prebuilt tiny response, so the difference is the routing; "bare" is a plain ASGI function
sending the same status, the physical limit.

Nothing here ever waits (the endpoints never read the body), so each call is driven by stepping
its coroutine once instead of through the `driver` fixture's event loop, whose fixed cost
(several microseconds) would otherwise hide the routing cost being measured.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from benchlib import resource_routes

IMPLS = ("bare", "stellina", "starlette")

# case -> (method, path for the table of `resources` resources)
CASES: dict[str, Callable[[int], tuple[str, str]]] = {
    "first-static": lambda n: ("GET", "/r0"),
    "last-static": lambda n: ("GET", f"/r{n - 1}"),
    "last-param": lambda n: ("GET", f"/r{n - 1}/42/items/abc"),
    "miss": lambda n: ("GET", "/nothing/here"),
    "405": lambda n: ("POST", f"/r{n - 1}/42"),
}


def build_router(impl: str, resources: int) -> Any:
    """A Router with `resources` x ("/r{i}", "/r{i}/{id:int}", ".../items", ".../items/{item}")."""
    routing = importlib.import_module(f"{impl}.routing")
    response = importlib.import_module(f"{impl}.responses").PlainTextResponse("ok")

    async def endpoint(request: Any) -> Any:
        return response

    routes = resource_routes(routing, resources, endpoint)
    return routing.Router(routes)


EXPECTED = {"first-static": 200, "last-static": 200, "last-param": 200, "miss": 404, "405": 405}


def bare_app(status: int) -> Any:
    """A plain ASGI app sending prebuilt messages with `status`."""
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-length", b"2")],
    }
    body = {"type": "http.response.body", "body": b"ok"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start)
        await send(body)

    return app


def step(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one ASGI call that never suspends; return the messages it sent."""
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the benchmarked endpoints never read the request body")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    coroutine = app(dict(scope), receive, send)
    try:
        coroutine.send(None)
    except StopIteration:
        return messages
    coroutine.close()
    raise AssertionError("the app suspended")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("resources", [30, 5], ids=["120-routes", "20-routes"])
def test_dispatch(benchmark: Any, make_scope: Any, impl: str, case: str, resources: int) -> None:
    benchmark.group = f"routing {resources * 4} routes: {case}"
    app = bare_app(EXPECTED[case]) if impl == "bare" else build_router(impl, resources)
    method, path = CASES[case](resources)
    scope = make_scope(path=path, method=method)
    messages = benchmark(step, app, scope)
    assert messages[0]["status"] == EXPECTED[case]
