"""Mounts, hosts, root_path handling and WebSocket routing."""

from __future__ import annotations

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.middleware import Middleware
from stellina.requests import Request
from stellina.responses import JSONResponse, PlainTextResponse, Response
from stellina.routing import Host, Match, Mount, Route, Router, WebSocketRoute
from stellina.types import ASGIApp, Message, Receive, Scope, Send
from stellina.websockets import WebSocket, WebSocketDisconnect


async def echo_scope(request: Request) -> Response:
    scope = request.scope
    return JSONResponse(
        {
            "path": scope["path"],
            "root_path": scope["root_path"],
            "app_root_path": scope.get("app_root_path"),
            "params": {key: str(value) for key, value in request.path_params.items()},
        }
    )


class ScopeEcho:
    """A plain ASGI app answering with the path, root_path and route path it was given."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"path": scope["path"], "root_path": scope["root_path"]}
        await JSONResponse(body)(scope, receive, send)


def test_mount_sets_root_path_and_keeps_full_path(test_client_factory: ClientFactory) -> None:
    router = Router(
        [
            Mount(
                "/api", routes=[Mount("/v{version:int}", routes=[Route("/users/{id}", echo_scope)])]
            )
        ]
    )
    body = test_client_factory(router).get("/api/v2/users/7").json()
    assert body == {
        "path": "/api/v2/users/7",
        "root_path": "/api/v2",
        "app_root_path": "",
        "params": {"version": "2", "id": "7"},
    }


def test_mount_of_a_plain_asgi_app(test_client_factory: ClientFactory) -> None:
    router = Router([Mount("/static", app=ScopeEcho(), name="static")])
    client = test_client_factory(router)
    assert client.get("/static/css/a.css").json() == {
        "path": "/static/css/a.css",
        "root_path": "/static",
    }
    assert client.get("/static/").json() == {"path": "/static/", "root_path": "/static"}
    assert client.get("/staticx/a").status_code == 404


def test_server_root_path_is_honoured() -> None:
    router = Router([Mount("/sub", routes=[Route("/leaf", echo_scope)])])
    recorder = Recorder()
    scope = http_scope(path="/app/sub/leaf", root_path="/app", headers=[])
    with pytest.raises(StopIteration):
        router(scope, recorder.receive, recorder.send).send(None)
    messages = recorder.sent
    import json

    assert json.loads(messages[1]["body"]) == {
        "path": "/app/sub/leaf",
        "root_path": "/app/sub",
        "app_root_path": "/app",
        "params": {},
    }


def test_empty_mount_path_catches_everything(test_client_factory: ClientFactory) -> None:
    router = Router([Route("/first", echo_scope), Mount("", app=ScopeEcho())])
    client = test_client_factory(router)
    assert client.get("/first").json()["root_path"] == ""
    assert client.get("/some/where").json() == {"path": "/some/where", "root_path": ""}


def test_mount_routes_and_middleware(test_client_factory: ClientFactory) -> None:
    class Header:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def tagged(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-mount", b"1")]
                await send(message)

            await self.app(scope, receive, tagged)

    inner = [Route("/x", echo_scope)]
    mount = Mount("/m", routes=inner, middleware=[Middleware(Header)])
    assert mount.routes == inner
    assert Mount("/p", app=ScopeEcho()).routes == []
    response = test_client_factory(Router([mount])).get("/m/x")
    assert response.headers["x-mount"] == "1"


def test_mount_asserts() -> None:
    with pytest.raises(AssertionError, match="Routed paths must start with '/'"):
        Mount("x", app=ScopeEcho())
    with pytest.raises(AssertionError, match="Either 'app=...', or 'routes=' must be specified"):
        Mount("/x")
    with pytest.raises(AssertionError, match="Routed paths must start with '/'"):
        Route("x", echo_scope)
    with pytest.raises(AssertionError, match="Host must not start with '/'"):
        Host("/x", ScopeEcho())


def test_host_routing(test_client_factory: ClientFactory) -> None:
    api = Router([Route("/users", echo_scope)])
    router = Router(
        [
            Host("www.example.org", app=PlainTextResponse("www")),
            Host("{tenant}.example.org", app=api, name="tenant"),
            Route("/users", PlainTextResponse("no host")),
        ]
    )
    client = test_client_factory(router)
    response = client.get("/users", headers={"host": "acme.example.org:8000"})
    assert response.json()["params"] == {"tenant": "acme"}
    assert client.get("/", headers={"host": "www.example.org"}).text == "www"
    assert client.get("/users", headers={"host": "other.net"}).text == "no host"


def test_host_without_host_header_does_not_match() -> None:
    host = Host("example.org", app=ScopeEcho())
    assert host.matches({"type": "http", "headers": []})[0] is Match.NONE
    assert host.matches({"type": "lifespan"})[0] is Match.NONE


def test_websocket_routes(test_client_factory: ClientFactory) -> None:
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"room": websocket.path_params["room"]})
        await websocket.close()

    async def http_view(request: Request) -> Response:
        return PlainTextResponse("http")

    router = Router(
        [
            Route("/chat/{room}", http_view),
            WebSocketRoute("/chat/{room}", chat),
            Mount("/ws", routes=[WebSocketRoute("/static", chat, name="static-chat")]),
        ]
    )
    client = test_client_factory(router)
    with client.websocket_connect("/chat/lobby") as session:
        assert session.receive_json() == {"room": "lobby"}
    assert client.get("/chat/lobby").text == "http"
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/nowhere"):
        pass  # pragma: no cover - the connection is refused
    assert info.value.code == 1000


def test_static_websocket_route_and_mount(test_client_factory: ClientFactory) -> None:
    async def hello(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.scope["root_path"] or "-")
        await websocket.close()

    router = Router([Mount("/ws", routes=[WebSocketRoute("/hello", hello)])])
    with test_client_factory(router).websocket_connect("/ws/hello") as session:
        assert session.receive_text() == "/ws"


def test_route_used_alone(test_client_factory: ClientFactory) -> None:
    route = Route("/only", PlainTextResponse("alone"))
    client = test_client_factory(route)
    assert client.get("/only").text == "alone"
    response = client.get("/other")
    assert (response.status_code, response.text) == (404, "Not Found")
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/only"):
        pass  # pragma: no cover - closed by the route


def test_mount_and_host_reprs_and_equality() -> None:
    app = ScopeEcho()
    assert Mount("/a/", app=app, name="a") == Mount("/a", app=app)
    assert repr(Mount("/a", app=app)) == f"Mount(path='/a', name='', app={app!r})"
    assert Host("h.org", app=app) == Host("h.org", app=app)
    assert repr(Host("h.org", app=app, name="h")) == f"Host(host='h.org', name='h', app={app!r})"
    route = Route("/r", echo_scope, methods=["post", "get"])
    assert repr(route) == "Route(path='/r', name='echo_scope', methods=['GET', 'HEAD', 'POST'])"
    assert route == Route("/r", echo_scope, methods=["GET", "POST"])
    assert route != Route("/r", echo_scope)
    ws = WebSocketRoute("/w", echo_scope, name="w")
    assert repr(ws) == "WebSocketRoute(path='/w', name='w')"
    assert ws == WebSocketRoute("/w", echo_scope)


def test_mount_keeps_outer_params_named_path(test_client_factory: ClientFactory) -> None:
    inner = Router([Route("/leaf", echo_scope)])
    router = Router([Host("{path}.example.org", app=Router([Mount("/m", app=inner)]))])
    client = test_client_factory(router)
    response = client.get("/m/leaf", headers={"host": "docs.example.org"})
    assert response.json()["params"] == {"path": "docs"}
