"""Builders the benchmark suites share: sizes, the package under test, bare ASGI apps, bodies.

``conftest.py`` puts this folder on ``sys.path``, so every suite can ``import benchlib``.
"""

from __future__ import annotations

import asyncio
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


# --- compression: bodies, and a tiny request beside a big one -------------------------------

HELLO = fixed_app(b'{"hello": "world"}', b"application/json")


def json_body(size: int) -> bytes:
    """Realistic, moderately compressible JSON of about ``size`` bytes."""
    items, length, index = [], 2, 0
    while length < size:
        item = {"id": index, "name": f"user-{index * 7919 % 100003}", "score": index * 31 % 977}
        items.append(item)
        length += len(json.dumps(item)) + 2
        index += 1
    return json.dumps(items).encode()[:size]


PROSE = (
    b"The quick brown fox jumps over the lazy dog while the committee reviews the minutes "
    b"of its previous meeting, finds them accurate, and adjourns until the next full moon. "
)


BIG_JSON = json_body(10 * MIB)


async def sink(message: Message) -> None:
    pass


async def tiny_request_beside(big: asyncio.Task[None], tiny: ASGIApp, scope: Scope) -> None:
    """Answer one tiny request on a loop that is also compressing ``big``'s 10 MiB body."""
    await asyncio.sleep(0)  # ``big`` starts first: the tiny request arrives mid-compression
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await tiny(dict(scope), receive, send)
    assert sent[0]["status"] == 200


def time_tiny_beside_big(
    benchmark: Any, loop: asyncio.AbstractEventLoop, big_app: ASGIApp, tiny: ASGIApp, scope: Scope
) -> None:
    """Time a tiny request to ``tiny`` while ``big_app`` answers with a big body on ``loop``.

    Each round starts the big response first, outside the timing, then times the tiny one.
    """
    pending: list[asyncio.Task[None]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    def finish_big() -> None:
        while pending:
            loop.run_until_complete(pending.pop())

    def start_big() -> tuple[tuple[Any, ...], dict[str, Any]]:
        finish_big()  # the previous round's big response finishes outside the timing
        task = loop.create_task(big_app(dict(scope), receive, sink))
        pending.append(task)
        return (task,), {}

    def tiny_request(task: asyncio.Task[None]) -> None:
        loop.run_until_complete(tiny_request_beside(task, tiny, scope))

    benchmark.pedantic(tiny_request, setup=start_big, rounds=10, warmup_rounds=1)
    finish_big()
