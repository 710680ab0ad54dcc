"""Shared harness: drive ASGI apps in-process and print stellina's ratios per group.

Each benchmark is parametrized over ``impl`` ("bare", "stellina", "starlette") and sets
``benchmark.group``; at the end of the run the median of every implementation is compared
with stellina's.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import IMPLS

from stellina.types import ASGIApp, Message, Scope


def http_scope(
    path: str = "/",
    method: str = "GET",
    headers: Iterable[tuple[bytes, bytes]] = (),
    query_string: bytes = b"",
    extensions: dict[str, Any] | None = None,
    scheme: str = "http",
) -> Scope:
    """An HTTP scope as uvicorn would send it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "extensions": extensions if extensions is not None else {},
        "state": {},
    }


class ASGIDriver:
    """Runs one ASGI call to completion on a long-lived event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.close()

    def call(self, app: ASGIApp, scope: Scope, body: Iterable[bytes] = (b"",)) -> list[Message]:
        """Call ``app`` with a fresh copy of ``scope``; return what it sent."""
        chunks = list(body)
        messages: list[Message] = []
        index = 0

        async def receive() -> Message:
            nonlocal index
            if index < len(chunks):
                chunk = chunks[index]
                index += 1
                return {"type": "http.request", "body": chunk, "more_body": index < len(chunks)}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            messages.append(message)

        self.loop.run_until_complete(app(dict(scope), receive, send))
        return messages


@pytest.fixture(scope="session")
def driver() -> Iterable[ASGIDriver]:
    asgi = ASGIDriver()
    yield asgi
    asgi.close()


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, dict[str, float]] = {}
    for bench in session.benchmarks:
        impl = bench.param or bench.name
        impl = next((name for name in IMPLS if name in str(impl)), str(impl))
        groups.setdefault(bench.group or bench.name, {})[impl] = bench.stats.median
    write = terminalreporter.write_line
    write("")
    write("stellina ratios (median time; < 1.00 means stellina is faster)")
    write(f"{'group':<48} {'stellina/starlette':>19} {'stellina/bare':>14}")
    for group, medians in sorted(groups.items()):
        ours = medians.get("stellina")
        if ours is None:
            continue
        vs_peer = f"{ours / medians['starlette']:.2f}" if "starlette" in medians else "-"
        vs_bare = f"{ours / medians['bare']:.2f}" if "bare" in medians else "-"
        write(f"{group:<48} {vs_peer:>19} {vs_bare:>14}")


@pytest.fixture(scope="session")
def make_scope() -> Callable[..., Scope]:
    """The ``http_scope`` builder, for benchmark modules (they cannot import conftest)."""
    return http_scope
