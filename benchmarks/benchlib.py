"""Builders the benchmark suites share: sizes, the package under test, bare ASGI apps, bodies.

``conftest.py`` puts this folder on ``sys.path``, so every suite can ``import benchlib``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the Starlette variants import this module too: no stellina at run time
    from stellina.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
MIB = 1024 * KIB
CHUNK = 64 * KIB
IMPLS = ("bare", "stellina", "starlette")
PEERS = ("stellina", "starlette")
TEXT_PLAIN = b"text/plain; charset=utf-8"


def module(impl: str, name: str) -> Any:
    """``stellina.<name>`` or ``starlette.<name>``."""
    return importlib.import_module(f"{impl}.{name}")


def app_class(impl: str) -> Any:
    """The application class: ``Stellina`` or ``Starlette``."""
    return getattr(module(impl, "applications"), impl.capitalize())


def fixed_app(body: bytes, content_type: bytes = TEXT_PLAIN, status: int = 200) -> ASGIApp:
    """A bare ASGI callable that answers every request with the same bytes: the physical limit."""
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", content_type)]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    return app


OK = fixed_app(b"ok")


def resource_routes(routing: Any, resources: int, endpoint: Any, item: Any = None) -> list[Any]:
    """``resources`` x ("/r{i}", "/r{i}/{id:int}", ".../items", ".../items/{item}") routes.

    ``item`` (default ``endpoint``) serves the last, most parameterised path of each resource.
    """
    paths = (
        "/r{i}",
        "/r{i}/{{id:int}}",
        "/r{i}/{{id:int}}/items",
        "/r{i}/{{id:int}}/items/{{item}}",
    )
    return [
        routing.Route(path.format(i=i), item if item is not None and "{item}" in path else endpoint)
        for i in range(resources)
        for path in paths
    ]


def split(payload: bytes, size: int = CHUNK) -> list[bytes]:
    """``payload`` as the request-body chunks a server would deliver (at least one)."""
    return [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]


def json_items(size: int) -> dict[str, Any]:
    """A JSON document of about ``size`` bytes: a list of small records, some non-ASCII."""
    items = []
    total = 0
    while total < size:
        index = len(items)
        item = {"id": index, "name": f"item-{index}", "tags": ["a", "ü"], "price": index * 1.5}
        items.append(item)
        total += len(json.dumps(item)) + 2
    return {"items": items}


def body_size(messages: Iterable[Message]) -> int:
    """How many body bytes the response messages carry."""
    return sum(len(m.get("body", b"")) for m in messages if m["type"] == "http.response.body")
