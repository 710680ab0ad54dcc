from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder

from stellina.applications import Stellina
from stellina.exceptions import HTTPException, WebSocketException
from stellina.middleware import Middleware
from stellina.requests import Request
from stellina.responses import JSONResponse, PlainTextResponse, Response
from stellina.routing import Host, Mount, Route, Router, WebSocketRoute
from stellina.types import ASGIApp, Receive, Scope, Send
from stellina.websockets import WebSocket, WebSocketDisconnect


class CustomError(Exception):
    pass


class SubCustomError(CustomError):
    pass


async def homepage(request: Request) -> Response:
    return PlainTextResponse("Hello, world!")


def sync_user(request: Request) -> Response:
    return JSONResponse({"username": request.path_params["username"]})


async def raise_custom(request: Request) -> Response:
    raise SubCustomError("custom")


async def raise_runtime(request: Request) -> Response:
    raise RuntimeError("boom <script>")


async def raise_http(request: Request) -> Response:
    raise HTTPException(status_code=418, detail="teapot", headers={"X-Tea": "earl grey"})


async def raise_no_content(request: Request) -> Response:
    raise HTTPException(status_code=204)


async def read_state(request: Request) -> Response:
    return JSONResponse({"app": request.app.state.flavour, "lifespan": request.state.counter})


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


async def ws_refuse(websocket: WebSocket) -> None:
    raise WebSocketException(code=4001, reason="nope")


async def ws_custom(websocket: WebSocket) -> None:
    await websocket.accept()
    raise CustomError("ws")


async def api_root(request: Request) -> Response:
    return PlainTextResponse(f"api at {request.url}")


def make_app(**kwargs: Any) -> Stellina:
    routes = [
        Host("api.example.org", Router([Route("/", api_root, name="root")]), name="api"),
        Route("/", homepage),
        Route("/user/{username}", sync_user, name="user"),
        Route("/custom", raise_custom),
        Route("/runtime", raise_runtime),
        Route("/http", raise_http),
        Route("/nocontent", raise_no_content),
        WebSocketRoute("/ws", ws_echo),
        WebSocketRoute("/ws-refuse", ws_refuse),
        WebSocketRoute("/ws-custom", ws_custom),
        Mount("/sub", routes=[Route("/home/{id:int}", homepage, name="subhome")], name="sub"),
    ]
    return Stellina(routes=routes, **kwargs)


def test_routes_and_json(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(make_app())
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert client.get("/user/ada").json() == {"username": "ada"}


def test_not_found_and_method_not_allowed(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(make_app())
    missing = client.get("/missing")
    assert missing.status_code == 404
    assert missing.text == "Not Found"
    wrong = client.post("/")
    assert wrong.status_code == 405
    assert wrong.text == "Method Not Allowed"
    assert wrong.headers["allow"] == "GET, HEAD"


def test_http_exception_with_headers(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(make_app())
    response = client.get("/http")
    assert response.status_code == 418
    assert response.text == "teapot"
    assert response.headers["x-tea"] == "earl grey"
    no_content = client.get("/nocontent")
    assert no_content.status_code == 204
    assert no_content.content == b""


def test_handlers_by_class_mro_and_status(test_client_factory: ClientFactory) -> None:
    async def on_custom(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"handled {type(exc).__name__}", status_code=409)

    def on_404(request: Request, exc: Exception) -> Response:
        return JSONResponse({"missing": request.url.path}, status_code=404)

    app = make_app(exception_handlers={CustomError: on_custom, 404: on_404})
    client = test_client_factory(app)
    custom = client.get("/custom")
    assert (custom.status_code, custom.text) == (409, "handled SubCustomError")
    assert client.get("/nowhere").json() == {"missing": "/nowhere"}


def test_error_500_without_debug_hides_traceback(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(make_app(), raise_server_exceptions=False)
    response = client.get("/runtime")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    with pytest.raises(RuntimeError, match="boom"):
        test_client_factory(make_app()).get("/runtime")


def test_debug_page_html_and_text(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(make_app(debug=True), raise_server_exceptions=False)
    html = client.get("/runtime", headers={"Accept": "text/html"})
    assert html.status_code == 500
    assert html.headers["content-type"].startswith("text/html")
    assert "RuntimeError" in html.text
    assert "boom &lt;script&gt;" in html.text
    assert "boom <script>" not in html.text
    assert "raise_runtime" in html.text
    text = client.get("/runtime", headers={"Accept": "application/json"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "RuntimeError: boom <script>" in text.text
    assert "Traceback" in text.text


def test_debug_is_settable_after_start(test_client_factory: ClientFactory) -> None:
    app = make_app()
    client = test_client_factory(app, raise_server_exceptions=False)
    assert client.get("/runtime").text == "Internal Server Error"
    app.debug = True
    assert app.debug is True
    assert "RuntimeError" in client.get("/runtime").text


def test_500_handler_goes_to_server_error_middleware(test_client_factory: ClientFactory) -> None:
    async def on_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=500)

    for key in (500, Exception):
        client = test_client_factory(
            make_app(exception_handlers={key: on_error}), raise_server_exceptions=False
        )
        response = client.get("/runtime")
        assert response.status_code == 500
        assert response.json() == {"error": "boom <script>"}


def test_raising_handler_falls_through_to_server_error(test_client_factory: ClientFactory) -> None:
    async def broken(request: Request, exc: Exception) -> Response:
        raise ValueError("handler broke")

    client = test_client_factory(
        make_app(exception_handlers={CustomError: broken}), raise_server_exceptions=False
    )
    response = client.get("/custom")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_error_after_response_started_is_reraised_without_second_start(
    test_client_factory: ClientFactory,
) -> None:
    async def stream_then_fail(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("late failure")

    app = Stellina(routes=[Mount("/", stream_then_fail)])
    with pytest.raises(RuntimeError, match="late failure"):
        test_client_factory(app).get("/")


def test_middleware_order(test_client_factory: ClientFactory) -> None:
    calls: list[str] = []

    class Recorder:
        def __init__(self, app: ASGIApp, label: str) -> None:
            self.app = app
            self.label = label

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                calls.append(self.label)
            await self.app(scope, receive, send)

    app = make_app(middleware=[Middleware(Recorder, "first"), Middleware(Recorder, label="second")])
    app.add_middleware(Recorder, label="added")
    test_client_factory(app).get("/")
    assert calls == ["added", "first", "second"]
    with pytest.raises(RuntimeError, match="Cannot add middleware after an application has"):
        app.add_middleware(Recorder, label="late")


def test_stack_is_built_once(test_client_factory: ClientFactory) -> None:
    app = make_app()
    client = test_client_factory(app)
    client.get("/")
    stack = app.middleware_stack
    assert stack is not None
    client.get("/")
    assert app.middleware_stack is stack


def test_scope_app_and_state(test_client_factory: ClientFactory) -> None:
    @asynccontextmanager
    async def lifespan(app: Stellina) -> AsyncIterator[dict[str, int]]:
        app.state.flavour = "vanilla"
        yield {"counter": 7}

    app = Stellina(routes=[Route("/", read_state)], lifespan=lifespan)
    with test_client_factory(app) as client:
        assert client.get("/").json() == {"app": "vanilla", "lifespan": 7}


def test_on_startup_and_shutdown_with_deprecation(test_client_factory: ClientFactory) -> None:
    events: list[str] = []
    with pytest.warns(DeprecationWarning):
        app = Stellina(
            on_startup=[lambda: events.append("startup")],
            on_shutdown=[lambda: events.append("shutdown")],
        )
    with test_client_factory(app):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_lifespan_and_on_startup_together_refused() -> None:
    @asynccontextmanager
    async def lifespan(app: Stellina) -> AsyncIterator[None]:
        yield

    with pytest.raises(AssertionError, match="Use either 'lifespan' or 'on_startup'/'on_shutdown'"):
        Stellina(lifespan=lifespan, on_startup=[])


def test_lifespan_startup_failure(test_client_factory: ClientFactory) -> None:
    @asynccontextmanager
    async def lifespan(app: Stellina) -> AsyncIterator[None]:
        raise RuntimeError("cannot start")
        yield

    with (
        pytest.raises(RuntimeError, match="cannot start"),
        test_client_factory(Stellina(lifespan=lifespan)),
    ):
        pass  # pragma: no cover


@pytest.mark.anyio
async def test_lifespan_startup_failure_message() -> None:
    @asynccontextmanager
    async def lifespan(app: Stellina) -> AsyncIterator[None]:
        raise RuntimeError("cannot start")
        yield

    recorder = Recorder([{"type": "lifespan.startup"}], last={"type": "lifespan.shutdown"})
    with pytest.raises(RuntimeError, match="cannot start"):
        await Stellina(lifespan=lifespan)(
            {"type": "lifespan", "state": {}}, recorder.receive, recorder.send
        )
    sent = recorder.sent
    assert sent[-1]["type"] == "lifespan.startup.failed"
    assert "cannot start" in sent[-1]["message"]


def test_mounts_hosts_and_url_path_for(test_client_factory: ClientFactory) -> None:
    app = make_app()
    assert app.url_path_for("user", username="ada") == "/user/ada"
    assert app.url_path_for("sub:subhome", id=3) == "/sub/home/3"
    client = test_client_factory(app)
    assert client.get("/sub/home/3").text == "Hello, world!"
    assert client.get("/sub/home/x").status_code == 404
    assert app.url_path_for("api:root") == "/"
    assert app.url_path_for("api:root").host == "api.example.org"
    api = test_client_factory(app, base_url="http://API.example.org:8080")
    assert api.get("/").text == "api at http://api.example.org:8080/"
    assert client.get("/").text == "Hello, world!"


def test_mount_and_host_methods(test_client_factory: ClientFactory) -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(f"{scope['root_path']}|{scope['path']}")(scope, receive, send)

    app = Stellina()
    app.mount("/inner", inner, name="inner")
    app.host("{sub}.example.org", Router([Route("/", homepage)]), name="subs")
    app.add_route("/added", homepage, methods=["GET"], name="added")
    app.add_websocket_route("/ws", ws_echo, name="ws")
    assert [getattr(r, "name", None) for r in app.routes] == ["inner", "subs", "added", "ws"]
    client = test_client_factory(app)
    assert client.get("/inner/x").text == "/inner|/inner/x"
    assert client.get("/added").text == "Hello, world!"
    assert client.get("/", headers={"host": "shop.example.org"}).text == "Hello, world!"
    assert app.url_path_for("inner", path="/y") == "/inner/y"
    with client.websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"


def test_websocket_exception_closes_with_code(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(make_app())
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws-refuse"):
        pass  # pragma: no cover
    assert info.value.code == 4001
    assert info.value.reason == "nope"


def test_websocket_handler(test_client_factory: ClientFactory) -> None:
    async def on_custom(websocket: WebSocket, exc: Exception) -> None:
        await websocket.close(code=4002, reason=str(exc))

    client = test_client_factory(make_app(exception_handlers={CustomError: on_custom}))
    with client.websocket_connect("/ws-custom") as ws, pytest.raises(WebSocketDisconnect) as info:
        ws.receive_text()
    assert info.value.code == 4002
    assert info.value.reason == "ws"


def test_websocket_route_through_app(test_client_factory: ClientFactory) -> None:
    with test_client_factory(make_app()).websocket_connect("/ws") as ws:
        ws.send_text("echo")
        assert ws.receive_text() == "echo"


class ReadsFirst:
    """A user middleware that reads the request body itself before calling the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await receive()
        await self.app(scope, receive, send)


async def echo(request: Request) -> Response:
    return PlainTextResponse(await request.body())


def test_app_limit_sits_outside_user_middleware(test_client_factory: ClientFactory) -> None:
    app = Stellina(
        routes=[Route("/", echo, methods=["POST"])],
        middleware=[Middleware(ReadsFirst)],
        max_body_size=3,
    )
    response = test_client_factory(app).post("/", content=b"1234")
    assert (response.status_code, response.text) == (413, "Content Too Large")


def test_app_limit_lets_a_route_raise_it(test_client_factory: ClientFactory) -> None:
    app = Stellina(
        routes=[
            Route("/small", echo, methods=["POST"]),
            Route("/large", echo, methods=["POST"], max_body_size=100),
        ],
        max_body_size=3,
    )
    client = test_client_factory(app)
    assert client.post("/large", content=b"x" * 50).status_code == 200
    assert client.post("/small", content=b"x" * 4).status_code == 413


def test_route_refusals_go_through_exception_handlers(test_client_factory: ClientFactory) -> None:
    def too_large(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("custom 413", status_code=413)

    app = Stellina(
        routes=[Route("/", echo, methods=["POST"])],
        exception_handlers={413: too_large},
        max_body_size=3,
    )
    assert test_client_factory(app).post("/", content=b"1234").text == "custom 413"


def test_positional_arguments_bind_as_documented() -> None:
    @asynccontextmanager
    async def lifespan(app: Stellina) -> AsyncIterator[None]:
        yield  # pragma: no cover

    routes = [Route("/", homepage)]
    app = Stellina(True, routes, [], {418: lambda request, exc: PlainTextResponse("")}, lifespan)
    assert app.debug is True
    assert app.routes == routes
    assert 418 in app.exception_handlers
    assert app.router.lifespan_context is lifespan
    with pytest.raises(TypeError):
        Stellina(False, None, None, None, None, 10)  # type: ignore[misc]


def test_generator_lifespans_warn_and_still_run(test_client_factory: ClientFactory) -> None:
    from collections.abc import Iterator

    from stellina.exceptions import StellinaDeprecationWarning

    events: list[str] = []

    def lifespan(app: Any) -> Iterator[None]:
        events.append("up")
        yield
        events.append("down")

    with pytest.warns(StellinaDeprecationWarning, match="generator function lifespans") as info:
        app = Stellina(lifespan=lifespan)  # type: ignore[arg-type]
    assert info[0].filename.endswith("_lifespan.py")
    with test_client_factory(app):
        assert events == ["up"]
    assert events == ["up", "down"]


def test_app_forwards_reverse_lookups_to_its_router() -> None:
    app = Stellina(routes=[Route("/users/{id:int}", homepage, name="user")])
    assert app.url_path_for("user", id=3) == "/users/3"
    assert Stellina.url_path_for.__doc__ == Router.url_path_for.__doc__
