"""TestClient.websocket_connect: sessions, messages, closing, refusals and denial responses."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from stellina_testing import ClientFactory, HeldApp

from stellina.testclient import WebSocketDenialResponse
from stellina.types import ASGIApp, Message, Receive, Scope, Send
from stellina.websockets import WebSocket, WebSocketDisconnect

# The shapes of the fixtures of this folder's conftest.
WithLifespan = Callable[..., ASGIApp]


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare WebSocket app that echoes every message until the client leaves."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        reply = {key: message[key] for key in ("text", "bytes") if key in message}
        await send({"type": "websocket.send", **reply})


def test_websocket_scope(test_client_factory: ClientFactory) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await echo(scope, receive, send)

    client = test_client_factory(app, root_path="/root")
    with client.websocket_connect("/chat/caf%C3%A9?room=1", subprotocols=["a", "b"]):
        pass
    scope = scopes[0]
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/chat/café"
    assert scope["raw_path"] == b"/chat/caf%C3%A9"
    assert scope["query_string"] == b"room=1"
    assert scope["root_path"] == "/root"
    assert scope["server"] == ["testserver", 80]
    assert scope["client"] == ("testclient", 50000)
    assert scope["subprotocols"] == ["a", "b"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["state"] == {}
    headers = dict(scope["headers"])
    assert scope["headers"][0] == (b"host", b"testserver")
    assert headers[b"connection"] == b"upgrade"
    assert headers[b"sec-websocket-key"] == b"testserver=="
    assert headers[b"sec-websocket-version"] == b"13"
    assert headers[b"sec-websocket-protocol"] == b"a, b"
    assert headers[b"user-agent"] == b"testclient"


def test_handshake_carries_the_auth(test_client_factory: ClientFactory) -> None:
    authorizations: list[bytes | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        authorizations.append(dict(scope["headers"]).get(b"authorization"))
        await echo(scope, receive, send)

    client = test_client_factory(app)
    with client.websocket_connect("/", auth=("ada", "secret")):
        pass
    with client.websocket_connect("/"):
        pass
    client.auth = ("grace", "pw")  # the client's default, unless the call says otherwise
    with client.websocket_connect("/"):
        pass
    with client.websocket_connect("/", auth=None):
        pass
    assert authorizations == [
        b"Basic " + base64.b64encode(b"ada:secret"),
        None,
        b"Basic " + base64.b64encode(b"grace:pw"),
        None,
    ]


def test_text_bytes_and_json(test_client_factory: ClientFactory) -> None:
    with test_client_factory(echo).websocket_connect("/") as session:
        session.send_text("héllo")
        assert session.receive_text() == "héllo"
        session.send_bytes(b"\x00\xff")
        assert session.receive_bytes() == b"\x00\xff"
        session.send_json({"a": ["é", 1]})
        assert session.receive() == {"type": "websocket.send", "text": '{"a":["é",1]}'}
        session.send_json({"b": 2}, mode="binary")
        assert session.receive_json(mode="binary") == {"b": 2}
        session.send_json([1, 2])
        assert session.receive_json() == [1, 2]


def test_accept_with_subprotocol_and_headers(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept(
            subprotocol=websocket.scope["subprotocols"][-1], headers=[(b"x-extra", b"1")]
        )
        await websocket.send_json({"cookies": websocket.cookies, "q": websocket.query_params["q"]})
        await websocket.close()

    client = test_client_factory(app, cookies={"sid": "abc"})
    with client.websocket_connect("/?q=v", subprotocols=["wamp", "graphql-ws"]) as session:
        assert session.accepted_subprotocol == "graphql-ws"
        assert session.extra_headers == [(b"x-extra", b"1")]
        assert session.receive_json() == {"cookies": {"sid": "abc"}, "q": "v"}
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
        assert info.value.code == 1000


def test_client_close_reaches_the_app(test_client_factory: ClientFactory) -> None:
    closed: list[tuple[int, str]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            closed.append((exc.code, exc.reason))

    with test_client_factory(app).websocket_connect("/") as session:
        session.close(code=1001, reason="Going Away")
    assert closed == [(1001, "Going Away")]


def test_leaving_the_block_disconnects_with_1000(test_client_factory: ClientFactory) -> None:
    received: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        received.append(await receive())

    with test_client_factory(app).websocket_connect("/"):
        pass
    assert received == [{"type": "websocket.disconnect", "code": 1000, "reason": None}]


def test_app_that_never_receives_is_cancelled(test_client_factory: ClientFactory) -> None:
    app = HeldApp()
    with test_client_factory(app).websocket_connect("/"):
        pass
    assert app.events == ["cancelled"]


def test_refused_connection_raises_disconnect(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.close(code=1008, reason="policy")

    with (
        pytest.raises(WebSocketDisconnect) as info,
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    assert info.value.code == 1008
    assert info.value.reason == "policy"


def test_bare_close_defaults(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.close"})

    with pytest.raises(WebSocketDisconnect) as info:
        test_client_factory(app).websocket_connect("/").__enter__()
    assert (info.value.code, info.value.reason) == (1000, "")


def test_denial_response(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "websocket.http.response" in scope["extensions"]
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"text/plain"), (b"x-why", b"nope")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"not ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"allowed"})

    with (
        pytest.raises(WebSocketDenialResponse) as info,
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    response = info.value
    assert isinstance(response, httpx.Response)
    assert isinstance(response, WebSocketDisconnect)
    assert response.status_code == 403
    assert response.headers["x-why"] == "nope"
    assert response.text == "not allowed"


async def raises_before_accept(scope: Scope, receive: Receive, send: Send) -> None:
    raise LookupError("handshake failed")


async def raises_at_disconnect(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    await receive()
    raise LookupError("on disconnect")


async def returns_without_handshake(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()


@pytest.mark.parametrize(
    ("app", "error", "match"),
    [
        (raises_before_accept, LookupError, "handshake failed"),
        (raises_at_disconnect, LookupError, "on disconnect"),
        (returns_without_handshake, RuntimeError, "without accepting or closing"),
    ],
    ids=["app-exception-before-accept", "app-exception-at-exit", "returning-without-handshake"],
)
def test_connect_block_raises_what_went_wrong(
    test_client_factory: ClientFactory, app: ASGIApp, error: type[Exception], match: str
) -> None:
    # Before the handshake the error leaves websocket_connect itself; after it, the block's exit.
    with pytest.raises(error, match=match), test_client_factory(app).websocket_connect("/"):
        pass


def test_app_exception_after_accept(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "last words"})
        message = await receive()
        raise LookupError(message["text"])

    with test_client_factory(app).websocket_connect("/") as session:
        assert session.receive_text() == "last words"
        session.send_text("trigger")
        with pytest.raises(LookupError, match="trigger"):
            session.receive_text()
        # The error is reported once; later sends are dropped.
        session.send_text("ignored")


def test_app_exception_reported_on_send(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        raise LookupError("gone")

    with (
        test_client_factory(app).websocket_connect("/") as session,
        pytest.raises(LookupError, match="gone"),
    ):
        session.send_text("ping")


def test_receive_after_app_returned(test_client_factory: ClientFactory) -> None:
    async def accepted_then_returned(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    async def closed_then_returned(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1001})

    with (
        test_client_factory(accepted_then_returned).websocket_connect("/") as session,
        pytest.raises(RuntimeError, match="returned without sending a message"),
    ):
        session.receive_text()
    with test_client_factory(closed_then_returned).websocket_connect("/") as session:
        assert session.receive() == {"type": "websocket.close", "code": 1001}
        with pytest.raises(RuntimeError, match="The WebSocket is closed"):
            session.receive()


def test_message_before_accept_is_an_error(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.send", "text": "too early"})

    with (
        pytest.raises(RuntimeError, match="Expected ASGI message 'websocket.accept'"),
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover


def test_unknown_message_type_is_an_error(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.bogus"})

    with (
        pytest.raises(RuntimeError, match="'websocket.bogus'"),
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover


def test_websocket_shares_the_lifespan_portal_and_state(
    test_client_factory: ClientFactory, with_lifespan: WithLifespan
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope["state"]["greeting"]})
        await receive()

    def greet(scope: Scope) -> None:
        scope["state"]["greeting"] = "hi"

    with test_client_factory(with_lifespan(app, on_startup=greet)) as client:
        for _ in range(2):
            with client.websocket_connect("/") as session:
                assert session.receive_text() == "hi"


def test_iterating_app_with_stellina_websocket(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(f"Message was: {text}")

    with test_client_factory(app).websocket_connect("/") as session:
        session.send_text("Hello")
        assert session.receive_text() == "Message was: Hello"


def test_unexited_session_is_cancelled_when_the_client_block_ends(
    test_client_factory: ClientFactory, with_lifespan: WithLifespan
) -> None:
    app = HeldApp()
    with test_client_factory(with_lifespan(app)) as client:
        session = client.websocket_connect("/").__enter__()
        assert session.accepted_subprotocol is None
    assert app.events == ["cancelled"]
