"""Helpers shared by the TestClient tests, as fixtures (test modules cannot import each other)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from stellina.types import ASGIApp, Receive, Scope, Send

Hold = Callable[[list[str]], Awaitable[None]]
WithLifespan = Callable[..., ASGIApp]


async def _hold(events: list[str]) -> None:
    try:
        await anyio.sleep_forever()
    except anyio.get_cancelled_exc_class():
        events.append("cancelled")
        raise


@pytest.fixture
def hold() -> Hold:
    """Waits forever; records "cancelled" in the list given when the client cancels it."""
    return _hold


def _with_lifespan(app: ASGIApp, on_startup: Callable[[Scope], Any] | None = None) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        for phase in ("startup", "shutdown"):
            assert (await receive())["type"] == f"lifespan.{phase}"
            if phase == "startup" and on_startup is not None:
                on_startup(scope)
            await send({"type": f"lifespan.{phase}.complete"})

    return wrapped


@pytest.fixture
def with_lifespan() -> WithLifespan:
    """Wraps an app so that startup and shutdown succeed at once (`on_startup(scope)` first)."""
    return _with_lifespan
