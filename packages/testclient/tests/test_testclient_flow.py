"""Body flow control, trailers, debug info, closing rules and deadlock reports of the client."""

from __future__ import annotations

import threading

import anyio
import anyio.from_thread
import pytest
from stellina_testing import ClientFactory

from stellina._testclient import calls
from stellina.testclient import TestClient
from stellina.types import ASGIApp, Message, Receive, Scope, Send


def messages_app(messages: list[Message]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    return app


def test_body_sends_wait_for_the_reader(test_client_factory: ClientFactory) -> None:
    returned: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        for number in range(3):
            await send({"type": "http.response.body", "body": b"%d" % number, "more_body": True})
            returned.append(number)
        await send({"type": "http.response.body", "body": b""})

    with test_client_factory(app).stream("GET", "/") as response:
        raw = response.iter_raw()
        assert returned == []
        assert next(raw) == b"0"
        assert next(raw) == b"1"
        # The app got past its first send only once the second chunk was asked for.
        assert returned in ([0], [0, 1])
        assert list(raw) == [b"2"]
    assert returned == [0, 1, 2]


def test_empty_chunks_are_not_yielded(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        for part in (b"", b"a", b"", b"", b"b"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body"})

    with test_client_factory(app).stream("GET", "/") as response:
        assert list(response.iter_raw()) == [b"a", b"b"]


def test_trailers_are_collected_live(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["extensions"]["http.response.trailers"] == {}
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send(
            {"type": "http.response.trailers", "headers": [(b"a", b"1")], "more_trailers": True}
        )
        await send({"type": "http.response.trailers", "headers": [(b"b", b"2")]})

    response = test_client_factory(app).get("/")
    assert response.content == b"data"
    assert response.extensions["http.response.trailers"] == [(b"a", b"1"), (b"b", b"2")]
    assert "a" not in response.headers


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "http.response.trailers"}], "without declaring trailers"),
        (
            [
                {"type": "http.response.start", "status": 200, "trailers": True},
                {"type": "http.response.body", "more_body": True},
                {"type": "http.response.trailers"},
            ],
            "before body completed",
        ),
        (
            [
                {"type": "http.response.start", "status": 200, "trailers": True},
                {"type": "http.response.body"},
                {"type": "http.response.body"},
            ],
            "after body completed",
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body"},
                {"type": "http.response.body"},
            ],
            "after response completed",
        ),
    ],
)
def test_misordered_trailers_and_bodies(
    test_client_factory: ClientFactory, messages: list[Message], error: str
) -> None:
    with pytest.raises(AssertionError, match=error):
        test_client_factory(messages_app(messages)).get("/")


def test_debug_info_without_template(test_client_factory: ClientFactory) -> None:
    info = {"blocks": ["main"]}
    messages: list[Message] = [
        {"type": "http.response.start", "status": 200},
        {"type": "http.response.debug", "info": info},
        {"type": "http.response.body", "body": b"x"},
    ]
    response = test_client_factory(messages_app(messages)).get("/")
    assert response.extensions["http.response.debug"] == info
    assert not hasattr(response, "template")


def test_push_promises_are_ignored(test_client_factory: ClientFactory) -> None:
    messages: list[Message] = [
        {"type": "http.response.push", "path": "/style.css", "headers": []},
        {"type": "http.response.start", "status": 204},
        {"type": "http.response.body"},
    ]
    assert test_client_factory(messages_app(messages)).get("/").status_code == 204


def test_closing_a_complete_response_waits_for_the_app(
    test_client_factory: ClientFactory,
) -> None:
    finished = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"done"})
        await anyio.sleep(0.01)
        finished.set()
        raise LookupError("after the response")

    client = test_client_factory(app)
    with pytest.raises(LookupError, match="after the response"), client.stream("GET", "/") as body:
        assert next(body.iter_raw()) == b"done"
    assert finished.is_set()


def test_closing_the_client_cancels_open_responses(
    test_client_factory: ClientFactory,
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"done"})
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            events.append("cancelled")
            raise

    client = test_client_factory(app)
    response = client.send(client.build_request("GET", "/"), stream=True)
    assert next(response.iter_raw()) == b"done"
    client.close()
    assert events == ["cancelled"]


def test_ipv6_base_url_with_port_zero(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    test_client_factory(app, base_url="http://[::1]:0").get("/")
    assert seen[0]["server"] == ["::1", 0]
    assert dict(seen[0]["headers"])[b"host"] == b"[::1]:0"


def test_websocket_urls_need_websocket_connect(test_client_factory: ClientFactory) -> None:
    with pytest.raises(ValueError, match="websocket_connect"):
        test_client_factory(messages_app([])).get("ws://testserver/")


@pytest.fixture
def quick_deadlocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calls, "DEADLOCK_SECONDS", 0.05)


@pytest.mark.usefixtures("quick_deadlocks")
def test_http_app_waiting_for_disconnect_before_answering(
    test_client_factory: ClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await receive()

    with pytest.raises(RuntimeError, match="Deadlock: .* waits for the response to start"):
        test_client_factory(app).get("/")


@pytest.mark.usefixtures("quick_deadlocks")
def test_websocket_both_sides_waiting(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    session = test_client_factory(app).websocket_connect("/")
    with session, pytest.raises(RuntimeError, match="Deadlock: .* a message from the WebSocket"):
        session.receive_text()


@pytest.mark.usefixtures("quick_deadlocks")
def test_websocket_never_accepted(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await receive()

    session = test_client_factory(app).websocket_connect("/")
    with pytest.raises(RuntimeError, match="Deadlock: .*WebSocket"), session:
        pass  # pragma: no cover


@pytest.mark.usefixtures("quick_deadlocks")
def test_lifespan_app_that_never_answers(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await receive()

    client = test_client_factory(app)
    with pytest.raises(RuntimeError, match="Deadlock: .*lifespan.startup.complete"), client:
        pass  # pragma: no cover


@pytest.mark.usefixtures("quick_deadlocks")
def test_slow_app_is_not_a_deadlock(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await anyio.sleep(0.2)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    assert test_client_factory(app).get("/").status_code == 204


def test_lifespan_methods_drive_the_protocol(anyio_backend: str) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for phase in ("startup", "shutdown"):
            events.append((await receive())["type"])
            await send({"type": f"lifespan.{phase}.complete"})

    client = TestClient(app)
    with anyio.from_thread.start_blocking_portal(anyio_backend) as portal:
        portal.start_task_soon(client.lifespan)
        portal.call(client.wait_startup)
        assert events == ["lifespan.startup"]
        portal.call(client.wait_shutdown)
    assert events == ["lifespan.startup", "lifespan.shutdown"]
