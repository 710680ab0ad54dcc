"""The Router's lifespan protocol: context managers, state, legacy handlers, failures."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from stellina_testing import Recorder

from stellina.exceptions import StellinaDeprecationWarning
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Route, Router
from stellina.testclient import TestClient
from stellina.types import Message

Messages = list[Message]


async def run_lifespan(
    app: Any, scope_extra: dict[str, Any] | None = None
) -> tuple[Messages, dict[str, Any]]:
    """Drive startup then shutdown; return what the app sent and the scope it saw."""
    recorder = lifespan_recorder()
    scope: dict[str, Any] = {"type": "lifespan", "state": {}, **(scope_extra or {})}
    await app(scope, recorder.receive, recorder.send)
    return recorder.sent, scope


def lifespan_recorder() -> Recorder:
    """A recorder whose `receive` says startup, then shutdown."""
    return Recorder([{"type": "lifespan.startup"}], last={"type": "lifespan.shutdown"})


@pytest.mark.anyio
async def test_context_manager_lifespan_with_state() -> None:
    events = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        events.append(("start", app))
        yield {"db": "connected"}
        events.append(("stop", app))

    app = object()
    sent, scope = await run_lifespan(Router(lifespan=lifespan), {"app": app})
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert scope["state"] == {"db": "connected"}
    assert scope["router"] is not None
    assert events == [("start", app), ("stop", app)]


@pytest.mark.anyio
async def test_state_needs_server_support() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"x": 1}

    router = Router(lifespan=lifespan)
    recorder = lifespan_recorder()
    with pytest.raises(RuntimeError, match='The server does not support "state"'):
        await router({"type": "lifespan"}, recorder.receive, recorder.send)
    assert recorder.sent[0]["type"] == "lifespan.startup.failed"


@pytest.mark.anyio
async def test_startup_failure_reports_traceback() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        raise ValueError("no database")
        yield  # type: ignore[unreachable]

    recorder = lifespan_recorder()
    with pytest.raises(ValueError, match="no database"):
        await Router(lifespan=lifespan)(
            {"type": "lifespan", "state": {}}, recorder.receive, recorder.send
        )
    sent = recorder.sent
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert sent[0]["message"].startswith("Traceback (most recent call last):")
    assert "ValueError: no database" in sent[0]["message"]


@pytest.mark.anyio
async def test_shutdown_failure() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        raise RuntimeError("could not close")

    with pytest.raises(RuntimeError, match="could not close"):
        await run_lifespan(Router(lifespan=lifespan))


@pytest.mark.anyio
async def test_shutdown_failure_message() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        raise RuntimeError("could not close")

    recorder = lifespan_recorder()
    with pytest.raises(RuntimeError):
        await Router(lifespan=lifespan)(
            {"type": "lifespan", "state": {}}, recorder.receive, recorder.send
        )
    sent = recorder.sent
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.failed",
    ]
    assert "RuntimeError: could not close" in sent[1]["message"]


@pytest.mark.anyio
async def test_on_startup_and_on_shutdown_are_deprecated_but_run() -> None:
    events: list[str] = []

    async def async_start() -> None:
        events.append("async start")

    def sync_stop() -> None:
        events.append("sync stop")

    with pytest.warns(DeprecationWarning, match="use the lifespan parameter instead"):
        router = Router(
            on_startup=[async_start, lambda: events.append("sync start")], on_shutdown=[sync_stop]
        )
    sent, _ = await run_lifespan(router)
    assert events == ["async start", "sync start", "sync stop"]
    assert sent[-1]["type"] == "lifespan.shutdown.complete"


@pytest.mark.anyio
async def test_lifespan_wins_over_legacy_handlers() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("lifespan")
        yield

    with (
        pytest.warns(DeprecationWarning, match="deprecated"),
        pytest.warns(UserWarning, match="will be ignored"),
    ):
        router = Router(on_startup=[lambda: events.append("legacy")], lifespan=lifespan)
    await run_lifespan(router)
    assert events == ["lifespan"]


@pytest.mark.anyio
async def test_generator_lifespans_are_deprecated_but_work() -> None:
    events: list[str] = []

    async def async_gen(app: Any) -> AsyncIterator[None]:
        events.append("async up")
        yield
        events.append("async down")

    def sync_gen(app: Any) -> Iterator[None]:
        events.append("sync up")
        yield
        events.append("sync down")

    with pytest.warns(
        StellinaDeprecationWarning, match="async generator function lifespans are deprecated"
    ):
        async_router = Router(lifespan=async_gen)  # type: ignore[arg-type]
    with pytest.warns(
        StellinaDeprecationWarning, match="^generator function lifespans are deprecated"
    ):
        sync_router = Router(lifespan=sync_gen)  # type: ignore[arg-type]
    await run_lifespan(async_router)
    await run_lifespan(sync_router)
    assert events == ["async up", "async down", "sync up", "sync down"]


def test_lifespan_state_reaches_requests(test_client_factory: Callable[..., TestClient]) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"greeting": "hello"}

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(request.state.greeting)

    with test_client_factory(Router([Route("/", endpoint)], lifespan=lifespan)) as client:
        assert client.get("/").text == "hello"


def test_startup_failure_through_the_client(test_client_factory: Callable[..., TestClient]) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        raise KeyError("boom")
        yield  # type: ignore[unreachable]

    with pytest.raises(KeyError), test_client_factory(Router(lifespan=lifespan)):
        pass  # pragma: no cover
