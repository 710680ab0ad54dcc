"""HTTPEndpoint and WebSocketEndpoint."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellina.exceptions import HTTPException
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Route, Router, WebSocketRoute
from stellina.websockets import WebSocket, WebSocketDisconnect


class Items(HTTPEndpoint):
    label = "not a handler"

    async def get(self, request: Request) -> Response:
        return PlainTextResponse(f"get {request.path_params.get('id', '-')}")

    def post(self, request: Request) -> Response:
        return PlainTextResponse(f"post in thread: {threading.current_thread() is not main}")


main = threading.main_thread()


def test_dispatch_by_method(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(Router([Route("/items", Items), Route("/items/{id}", Items)]))
    assert client.get("/items/3").text == "get 3"
    assert client.post("/items").text == "post in thread: True"
    response = client.head("/items")
    assert response.status_code == 200
    assert response.headers["content-length"] == "5"


@pytest.mark.parametrize(
    "method",
    ["DELETE", "PUT", "DISPATCH", "METHOD_NOT_ALLOWED", "__INIT__", "SCOPE", "LABEL", "_X"],
)
def test_method_not_allowed(test_client_factory: ClientFactory, method: str) -> None:
    client = test_client_factory(Router([Route("/items", Items)]))
    response = client.request(method, "/items")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert response.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.anyio
async def test_method_not_allowed_inside_an_app() -> None:
    recorder = Recorder()
    with pytest.raises(HTTPException) as info:
        await Items(http_scope(method="PUT", app=object()), recorder.receive, recorder.send)
    assert recorder.sent == []
    assert info.value.status_code == 405
    assert info.value.headers == {"Allow": "GET, HEAD, POST"}


def test_explicit_head_and_custom_method(test_client_factory: ClientFactory) -> None:
    class Custom(HTTPEndpoint):
        async def head(self, request: Request) -> Response:
            return PlainTextResponse("", headers={"x-head": "1"})

        async def purge(self, request: Request) -> Response:
            return PlainTextResponse("purged")

    client = test_client_factory(Router([Route("/", Custom)]))
    assert client.head("/").headers["x-head"] == "1"
    assert client.request("PURGE", "/").text == "purged"
    assert client.get("/").headers["allow"] == "HEAD"


class Echo(WebSocketEndpoint):
    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_json({"got": data if not isinstance(data, bytes) else data.decode()})


def test_websocket_endpoint_default_encoding(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(Router([WebSocketRoute("/ws", Echo)]))
    with client.websocket_connect("/ws") as session:
        session.send_text("hi")
        assert session.receive_json() == {"got": "hi"}
        session.send_bytes(b"raw")
        assert session.receive_json() == {"got": "raw"}


@pytest.mark.parametrize(
    ("encoding", "good", "bad", "error"),
    [
        (
            "text",
            ("text", "hello"),
            ("bytes", b"x"),
            "Expected text websocket messages, but got bytes",
        ),
        (
            "bytes",
            ("bytes", b"hello"),
            ("text", "x"),
            "Expected bytes websocket messages, but got text",
        ),
        ("json", ("text", '{"a": 1}'), ("text", "{nope"), "Malformed JSON data received."),
        ("json", ("bytes", b"[1, 2]"), ("bytes", b"\xff\xfe\x00"), "Malformed JSON data received."),
        ("json", ("text", "1"), ("text", "[" * 100_000), "Malformed JSON data received."),
    ],
)
def test_websocket_encodings(
    test_client_factory: ClientFactory,
    encoding: str,
    good: tuple[str, Any],
    bad: tuple[str, Any],
    error: str,
) -> None:
    received: list[Any] = []
    closes: list[int] = []

    class Endpoint(WebSocketEndpoint):
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            received.append(data)
            await websocket.send_text("ok")

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            closes.append(close_code)

    Endpoint.encoding = encoding  # type: ignore[assignment]
    client = test_client_factory(Router([WebSocketRoute("/ws", Endpoint)]))
    with pytest.raises(RuntimeError, match=error), client.websocket_connect("/ws") as session:
        session.send({"type": "websocket.receive", good[0]: good[1]})
        assert session.receive_text() == "ok"
        session.send({"type": "websocket.receive", bad[0]: bad[1]})
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
        assert info.value.code == 1003
    assert len(received) == 1
    assert closes == [1011]


def test_websocket_endpoint_disconnect_code(test_client_factory: ClientFactory) -> None:
    closes: list[int] = []

    class Endpoint(WebSocketEndpoint):
        encoding = "text"

        async def on_connect(self, websocket: WebSocket) -> None:
            await websocket.accept(subprotocol="chat")

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            closes.append(close_code)

    client = test_client_factory(Router([WebSocketRoute("/ws", Endpoint)]))
    with client.websocket_connect("/ws", subprotocols=["chat"]) as session:
        assert session.accepted_subprotocol == "chat"
        session.close(code=4001)
    with client.websocket_connect("/ws") as session:
        session.send_text("x")
    assert closes == [4001, 1000]


def test_unsupported_encoding(test_client_factory: ClientFactory) -> None:
    class Endpoint(WebSocketEndpoint):
        encoding = "msgpack"  # type: ignore[assignment]

    client = test_client_factory(Router([WebSocketRoute("/ws", Endpoint)]))
    with (
        pytest.raises(AssertionError, match="Unsupported 'encoding' attribute msgpack"),
        client.websocket_connect("/ws") as session,
    ):
        session.send_text("x")
        session.receive_text()


class Searchable(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("get")

    async def query(self, request: Request) -> Response:
        return PlainTextResponse(f"query {(await request.body()).decode()}")


def test_query_method_and_allow(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(Router([Route("/", Searchable)]))
    assert client.request("QUERY", "/", content=b"q=1").text == "query q=1"
    response = client.delete("/")
    assert (response.status_code, response.headers["allow"]) == (405, "GET, HEAD, QUERY")


@pytest.mark.anyio
async def test_handlers_can_send_early_hints() -> None:
    class Hinting(HTTPEndpoint):
        async def get(self, request: Request) -> Response:
            await request.send_early_hints("</a.css>; rel=preload")
            return PlainTextResponse("done")

    recorder = Recorder()
    scope = http_scope(extensions={"http.response.early_hint": {}})
    await Hinting(scope, recorder.receive, recorder.send)
    kinds = [message["type"] for message in recorder.sent]
    assert kinds == ["http.response.early_hint", "http.response.start", "http.response.body"]


def test_an_error_in_on_receive_disconnects_with_1011(test_client_factory: ClientFactory) -> None:
    codes: list[int] = []

    class Failing(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            raise ValueError(data)

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            codes.append(close_code)

    client = test_client_factory(Router([WebSocketRoute("/", Failing)]))
    with pytest.raises(ValueError, match="boom"), client.websocket_connect("/") as session:
        session.send_text("boom")
        session.receive()
    assert codes == [1011]
