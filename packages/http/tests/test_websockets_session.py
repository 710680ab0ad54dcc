"""WebSocket: state machine, messages, JSON modes, disconnects, denial responses, WebSocketClose."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from stellina_testing import Recorder, websocket_scope

from stellina.types import Message, Scope
from stellina.websockets import WebSocket, WebSocketClose, WebSocketDisconnect, WebSocketState

# What the client sends once the test's messages run out: the connection dropped.
DROPPED: Message = {"type": "websocket.disconnect", "code": 1006}


def make_scope(**overrides: Any) -> Scope:
    return websocket_scope(path="/ws", **overrides)


def client(messages: Iterable[Message] = ()) -> Recorder:
    """The server side: replays client messages, records what the app sends."""
    return Recorder(messages, last=DROPPED)


CONNECT: Message = {"type": "websocket.connect"}


def text(value: str) -> Message:
    return {"type": "websocket.receive", "text": value}


def binary(value: bytes) -> Message:
    return {"type": "websocket.receive", "bytes": value}


def disconnect(code: int = 1000, reason: str | None = None) -> Message:
    message: Message = {"type": "websocket.disconnect", "code": code}
    if reason is not None:
        message["reason"] = reason
    return message


def session(*messages: Message, **scope: Any) -> tuple[WebSocket, Recorder]:
    peer = client([CONNECT, *messages])
    return WebSocket(make_scope(**scope), peer.receive, peer.send), peer


@pytest.mark.anyio
async def test_accept_waits_for_connect_and_sends_accept() -> None:
    websocket, peer = session()
    assert websocket.client_state is WebSocketState.CONNECTING
    assert websocket.application_state is WebSocketState.CONNECTING
    await websocket.accept()
    assert peer.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]
    assert websocket.client_state is WebSocketState.CONNECTED
    assert websocket.application_state is WebSocketState.CONNECTED


@pytest.mark.anyio
async def test_accept_with_subprotocol_and_headers_after_explicit_receive() -> None:
    websocket, peer = session()
    assert await websocket.receive() == CONNECT
    await websocket.accept("chat", headers=[(b"x-a", b"1")])
    assert peer.sent == [
        {"type": "websocket.accept", "subprotocol": "chat", "headers": [(b"x-a", b"1")]}
    ]


@pytest.mark.anyio
async def test_echo_text_bytes_json() -> None:
    websocket, peer = session(text("hi"), binary(b"\x00\x01"), text('{"a": 1}'), binary(b"[1]"))
    await websocket.accept()
    assert await websocket.receive_text() == "hi"
    assert await websocket.receive_bytes() == b"\x00\x01"
    assert await websocket.receive_json() == {"a": 1}
    assert await websocket.receive_json(mode="binary") == [1]
    await websocket.send_text("t")
    await websocket.send_bytes(b"b")
    await websocket.send_json({"k": "\u00e9", "n": [1, 2]})
    await websocket.send_json({"k": "v"}, mode="binary")
    assert peer.sent[1:] == [
        {"type": "websocket.send", "text": "t"},
        {"type": "websocket.send", "bytes": b"b"},
        {"type": "websocket.send", "text": '{"k":"\u00e9","n":[1,2]}'},
        {"type": "websocket.send", "bytes": b'{"k":"v"}'},
    ]


@pytest.mark.anyio
async def test_invalid_mode() -> None:
    websocket, peer = session(text("1"))
    await websocket.accept()
    message = '^The "mode" argument should be "text" or "binary".$'
    with pytest.raises(RuntimeError, match=message):
        await websocket.receive_json(mode="xml")
    with pytest.raises(RuntimeError, match=message):
        await websocket.send_json(1, mode="xml")
    assert len(peer.sent) == 1


@pytest.mark.anyio
async def test_invalid_json_from_client() -> None:
    import json

    websocket, _ = session(text("{nope"), binary(b"\xff\xfe"))
    await websocket.accept()
    with pytest.raises(json.JSONDecodeError):
        await websocket.receive_json()
    with pytest.raises(UnicodeDecodeError):
        await websocket.receive_json(mode="binary")


@pytest.mark.anyio
async def test_receive_helpers_need_accept() -> None:
    websocket, _ = session(text("x"))
    message = '^WebSocket is not connected. Need to call "accept" first.$'
    with pytest.raises(RuntimeError, match=message):
        await websocket.receive_text()
    with pytest.raises(RuntimeError, match=message):
        await websocket.receive_bytes()
    with pytest.raises(RuntimeError, match=message):
        await websocket.receive_json()


@pytest.mark.anyio
async def test_disconnect_raises_from_receive_helpers() -> None:
    websocket, _ = session(disconnect(1001, "bye"))
    await websocket.accept()
    with pytest.raises(WebSocketDisconnect) as info:
        await websocket.receive_text()
    assert info.value.code == 1001
    assert info.value.reason == "bye"
    assert websocket.client_state is WebSocketState.DISCONNECTED
    with pytest.raises(RuntimeError, match='^Cannot call "receive" once a disconnect message'):
        await websocket.receive()


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["receive_bytes", "receive_json"])
async def test_disconnect_without_reason(method: str) -> None:
    websocket, _ = session(disconnect(1006))
    await websocket.accept()
    with pytest.raises(WebSocketDisconnect) as info:
        await getattr(websocket, method)()
    assert info.value.code == 1006
    assert info.value.reason == ""


@pytest.mark.anyio
async def test_iterators_stop_on_disconnect() -> None:
    websocket, _ = session(text("a"), text("b"), disconnect())
    await websocket.accept()
    assert [item async for item in websocket.iter_text()] == ["a", "b"]
    websocket, _ = session(binary(b"a"), disconnect())
    await websocket.accept()
    assert [item async for item in websocket.iter_bytes()] == [b"a"]
    websocket, _ = session(text("[1]"), text('{"x": null}'), disconnect())
    await websocket.accept()
    assert [item async for item in websocket.iter_json()] == [[1], {"x": None}]


@pytest.mark.anyio
async def test_unexpected_message_types() -> None:
    peer = client([{"type": "websocket.receive", "text": "early"}])
    websocket = WebSocket(make_scope(), peer.receive, peer.send)
    with pytest.raises(
        RuntimeError,
        match="^Expected ASGI message \"websocket.connect\", but got 'websocket.receive'$",
    ):
        await websocket.receive()
    websocket, _ = session({"type": "http.request"})
    await websocket.accept()
    with pytest.raises(
        RuntimeError,
        match='^Expected ASGI message "websocket.receive" or "websocket.disconnect", '
        "but got 'http.request'$",
    ):
        await websocket.receive()


@pytest.mark.anyio
async def test_send_state_checks() -> None:
    websocket, peer = session()
    with pytest.raises(RuntimeError, match="but got 'websocket.send'$"):
        await websocket.send_text("too early")
    await websocket.accept()
    with pytest.raises(
        RuntimeError,
        match='^Expected ASGI message "websocket.send" or "websocket.close", '
        "but got 'websocket.accept'$",
    ):
        await websocket.send({"type": "websocket.accept"})
    await websocket.close(1001, "done")
    assert peer.sent[-1] == {"type": "websocket.close", "code": 1001, "reason": "done"}
    assert websocket.application_state is WebSocketState.DISCONNECTED
    with pytest.raises(
        RuntimeError, match='^Cannot call "send" once a close message has been sent.$'
    ):
        await websocket.send_text("late")


@pytest.mark.anyio
async def test_close_before_accept_rejects() -> None:
    websocket, peer = session()
    await websocket.receive()
    await websocket.close()
    assert peer.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]
    assert websocket.application_state is WebSocketState.DISCONNECTED


@pytest.mark.anyio
async def test_connecting_error_message_lists_allowed_types() -> None:
    websocket, _ = session()
    with pytest.raises(
        RuntimeError,
        match='^Expected ASGI message "websocket.accept", "websocket.close" or '
        "\"websocket.http.response.start\", but got 'websocket.send'$",
    ):
        await websocket.send({"type": "websocket.send", "text": "x"})


@pytest.mark.anyio
async def test_send_oserror_becomes_disconnect_1006() -> None:
    async def broken_send(message: Message) -> None:
        if message["type"] == "websocket.send":
            raise OSError("connection reset")

    peer = client([CONNECT])
    websocket = WebSocket(make_scope(), peer.receive, broken_send)
    await websocket.accept()
    with pytest.raises(WebSocketDisconnect) as info:
        await websocket.send_text("x")
    assert info.value.code == 1006
    assert websocket.application_state is WebSocketState.DISCONNECTED


async def denial(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
    await send({"type": "websocket.http.response.body", "body": b"no", "more_body": True})
    await send({"type": "websocket.http.response.body", "body": b"!"})


@pytest.mark.anyio
async def test_send_denial_response_with_extension() -> None:
    websocket, peer = session(extensions={"websocket.http.response": {}})
    await websocket.send_denial_response(denial)
    assert [message["type"] for message in peer.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "websocket.http.response.body",
    ]
    assert websocket.application_state is WebSocketState.DISCONNECTED
    with pytest.raises(RuntimeError, match='^Cannot call "send"'):
        await websocket.send({"type": "websocket.close"})


@pytest.mark.anyio
async def test_send_denial_response_without_extension() -> None:
    websocket, peer = session()
    with pytest.raises(
        RuntimeError, match="^The server doesn't support the Websocket Denial Response extension.$"
    ):
        await websocket.send_denial_response(denial)
    assert peer.sent == []


@pytest.mark.anyio
async def test_response_state_only_accepts_body() -> None:
    websocket, _ = session(extensions={"websocket.http.response": {}})
    await websocket.send({"type": "websocket.http.response.start", "status": 400, "headers": []})
    assert websocket.application_state is WebSocketState.RESPONSE
    with pytest.raises(
        RuntimeError,
        match="^Expected ASGI message \"websocket.http.response.body\", but got 'websocket.close'$",
    ):
        await websocket.send({"type": "websocket.close"})


def test_websocket_disconnect_defaults() -> None:
    exc = WebSocketDisconnect()
    assert (exc.code, exc.reason) == (1000, "")
    exc = WebSocketDisconnect(1011, None)
    assert (exc.code, exc.reason) == (1011, "")


def test_scope_type_is_checked() -> None:
    peer = client()
    with pytest.raises(AssertionError):
        WebSocket({"type": "http"}, peer.receive, peer.send)


@pytest.mark.anyio
async def test_websocket_close_app() -> None:
    peer = client()
    await WebSocketClose()(make_scope(), peer.receive, peer.send)
    await WebSocketClose(code=1008, reason="policy")(make_scope(), peer.receive, peer.send)
    assert peer.sent == [
        {"type": "websocket.close", "code": 1000, "reason": ""},
        {"type": "websocket.close", "code": 1008, "reason": "policy"},
    ]


@pytest.mark.anyio
async def test_full_asgi_app_round_trip() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept(subprotocol="echo")
        async for message in websocket.iter_text():
            await websocket.send_text(message.upper())
        assert websocket.client_state is WebSocketState.DISCONNECTED

    peer = client([CONNECT, text("a"), text("bc"), disconnect()])
    await app(make_scope(), peer.receive, peer.send)
    assert peer.sent == [
        {"type": "websocket.accept", "subprotocol": "echo", "headers": []},
        {"type": "websocket.send", "text": "A"},
        {"type": "websocket.send", "text": "BC"},
    ]
