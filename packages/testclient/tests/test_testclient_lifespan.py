"""TestClient as a context manager: the lifespan protocol and its state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from stellina_testing import ClientFactory

from stellina.types import Message, Receive, Scope, Send


def lifespan_app(
    events: list[str],
    *,
    on_startup: Callable[[Scope], Any] | None = None,
    on_shutdown: Callable[[Scope], Any] | None = None,
) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            try:
                if on_startup is not None:
                    on_startup(scope)
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                raise
            events.append("startup")
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            try:
                if on_shutdown is not None:
                    on_shutdown(scope)
            except Exception as exc:
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                raise
            events.append("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        events.append(f"request {scope['path']}")
        state = repr(sorted(scope["state"].items())).encode()
        scope["state"]["mutated"] = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": state})

    return app


def test_startup_and_shutdown_wrap_the_block(test_client_factory: ClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events))
    with client as entered:
        assert entered is client
        assert events == ["startup"]
        entered.get("/in")
        assert events == ["startup", "request /in"]
    assert events == ["startup", "request /in", "shutdown"]


def test_requests_without_block_skip_lifespan(test_client_factory: ClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events))
    client.get("/plain")
    assert events == ["request /plain"]


def test_client_can_be_entered_again(test_client_factory: ClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events))
    with client:
        pass
    with client:
        client.get("/")
    assert events == ["startup", "shutdown", "startup", "request /", "shutdown"]
    assert client.portal is None


def test_state_reaches_requests_as_a_shallow_copy(test_client_factory: ClientFactory) -> None:
    shared: list[int] = []

    def startup(scope: Scope) -> None:
        scope["state"]["db"] = "connected"
        scope["state"]["items"] = shared

    client = test_client_factory(lifespan_app([], on_startup=startup))
    with client:
        first = client.get("/").text
        second = client.get("/").text
    assert first == second == "[('db', 'connected'), ('items', [])]"
    assert client.app_state == {"db": "connected", "items": shared}


def test_startup_failure_is_raised(test_client_factory: ClientFactory) -> None:
    events: list[str] = []

    def startup(scope: Scope) -> None:
        raise ValueError("no database")

    client = test_client_factory(lifespan_app(events, on_startup=startup))
    with pytest.raises(ValueError, match="no database"), client:
        events.append("body")  # pragma: no cover
    assert events == []
    assert client.portal is None


def test_shutdown_failure_is_raised(test_client_factory: ClientFactory) -> None:
    events: list[str] = []

    def shutdown(scope: Scope) -> None:
        raise ValueError("cannot close")

    client = test_client_factory(lifespan_app(events, on_shutdown=shutdown))
    with pytest.raises(ValueError, match="cannot close"), client:
        events.append("body")
    assert events == ["startup", "body"]


def failing_without_raising(phase: str) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        if phase == "startup":
            await send({"type": "lifespan.startup.failed", "message": "startup broke"})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": ""})

    return app


def test_failed_message_without_exception_is_raised(test_client_factory: ClientFactory) -> None:
    with (
        pytest.raises(RuntimeError, match="startup broke"),
        test_client_factory(failing_without_raising("startup")),
    ):
        pass  # pragma: no cover
    with (
        pytest.raises(RuntimeError, match="Lifespan shutdown failed."),
        test_client_factory(failing_without_raising("shutdown")),
    ):
        pass


def test_app_without_lifespan_support_raising(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http", "http only"

    with pytest.raises(AssertionError, match="http only"), test_client_factory(app):
        pass  # pragma: no cover


def test_app_ignoring_lifespan_is_tolerated(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    with test_client_factory(app) as client:
        assert client.get("/").status_code == 204


def test_unexpected_lifespan_message(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200})

    with (
        pytest.raises(RuntimeError, match="but got 'http.response.start'"),
        test_client_factory(app),
    ):
        pass  # pragma: no cover


def test_lifespan_task_crash_is_raised_at_exit(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        raise OSError("background crash")

    with pytest.raises(OSError, match="background crash"), test_client_factory(app):
        pass


def test_app_that_lingers_after_shutdown_is_cancelled(test_client_factory: ClientFactory) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            events.append("cancelled")
            raise

    with test_client_factory(app):
        pass
    assert events == ["cancelled"]


def test_lifespan_scope(test_client_factory: ClientFactory) -> None:
    scopes: list[Scope] = []
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        messages.append(await receive())
        await send({"type": "lifespan.startup.complete"})
        messages.append(await receive())
        await send({"type": "lifespan.shutdown.complete"})

    client = test_client_factory(app)
    with client:
        pass
    assert scopes[0]["type"] == "lifespan"
    assert scopes[0]["state"] is client.app_state
    assert messages == [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]


def test_lifespan_driven_by_hand_then_by_a_with_block(test_client_factory: ClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events))
    with anyio.from_thread.start_blocking_portal(**client.async_backend) as portal:
        portal.start_task_soon(client.lifespan)
        portal.call(client.wait_startup)
        portal.call(client.wait_shutdown)
    assert events == ["startup", "shutdown"]
    with client:  # the ended call is not reused: a new one starts and shuts down
        assert events == ["startup", "shutdown", "startup"]
    assert events == ["startup", "shutdown", "startup", "shutdown"]
