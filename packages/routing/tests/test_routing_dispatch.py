"""Router dispatch: order, 404/405, redirect_slashes, params, scope keys, index upkeep."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.middleware import Middleware
from stellina.requests import Request
from stellina.responses import JSONResponse, PlainTextResponse, Response
from stellina.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
from stellina.types import ASGIApp, Message, Receive, Scope, Send
from stellina.websockets import WebSocket


def named(label: str) -> Callable[[Request], Response]:
    """An endpoint answering `label` and its path params."""

    def endpoint(request: Request) -> Response:
        params = {key: str(value) for key, value in request.path_params.items()}
        return JSONResponse({"route": label, "params": params})

    endpoint.__name__ = label
    return endpoint


def test_first_declared_route_wins(test_client_factory: ClientFactory) -> None:
    router = Router(
        [
            Route("/users/{name}", named("by-name")),
            Route("/users/me", named("me")),
            Route("/users/{id:int}", named("by-id")),
        ]
    )
    client = test_client_factory(router)
    assert client.get("/users/me").json()["route"] == "by-name"
    assert client.get("/users/7").json()["route"] == "by-name"


def test_static_route_declared_first_wins(test_client_factory: ClientFactory) -> None:
    router = Router([Route("/users/me", named("me")), Route("/users/{name}", named("by-name"))])
    client = test_client_factory(router)
    assert client.get("/users/me").json() == {"route": "me", "params": {}}
    assert client.get("/users/bob").json() == {"route": "by-name", "params": {"name": "bob"}}


def test_later_route_when_earlier_conversion_does_not_match(
    test_client_factory: ClientFactory,
) -> None:
    router = Router(
        [
            Route("/items/{id:int}", named("int")),
            Route("/items/{id:float}", named("float")),
            Route("/items/{id:uuid}", named("uuid")),
            Route("/items/{id}", named("str")),
        ]
    )
    client = test_client_factory(router)
    assert client.get("/items/12").json()["route"] == "int"
    assert client.get("/items/1.5").json()["route"] == "float"
    assert client.get(f"/items/{uuid.UUID(int=1)}").json()["route"] == "uuid"
    assert client.get("/items/abc").json()["route"] == "str"


def test_params_spanning_segments_and_partial_segments(
    test_client_factory: ClientFactory,
) -> None:
    router = Router(
        [
            Route("/files/{name}.{ext}", named("file")),
            Route("/static/{rest:path}", named("static")),
            Route("/{lang}/about", named("about")),
            Route("/{anything:path}", named("fallback")),
        ]
    )
    client = test_client_factory(router)
    assert client.get("/files/report.pdf").json() == {
        "route": "file",
        "params": {"name": "report", "ext": "pdf"},
    }
    assert client.get("/static/css/site.css").json()["params"] == {"rest": "css/site.css"}
    assert client.get("/static/").json()["params"] == {"rest": ""}
    assert client.get("/en/about").json()["route"] == "about"
    assert client.get("/a/b/c/d").json() == {"route": "fallback", "params": {"anything": "a/b/c/d"}}


@pytest.mark.parametrize(
    ("method", "path", "allow"), [("PATCH", "/thing", "POST"), ("GET", "/other/1", "DELETE, PUT")]
)
def test_method_not_allowed_only_after_no_full_match(
    test_client_factory: ClientFactory, method: str, path: str, allow: str
) -> None:
    router = Router(
        [
            Route("/thing", named("post-only"), methods=["POST"]),
            Route("/thing", named("get")),
            Route("/other/{id}", named("put-only"), methods=["PUT", "delete"]),
        ]
    )
    client = test_client_factory(router)
    assert client.get("/thing").json()["route"] == "get"
    assert client.post("/thing").json()["route"] == "post-only"
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert response.headers["allow"] == allow


def test_head_is_implied_by_get(test_client_factory: ClientFactory) -> None:
    route = Route("/", named("home"))
    assert route.methods == {"GET", "HEAD"}
    client = test_client_factory(Router([route]))
    response = client.head("/")
    assert response.status_code == 200
    assert client.post("/").headers["allow"] == "GET, HEAD"


def test_405_raises_http_exception_inside_an_app() -> None:
    from stellina.exceptions import HTTPException

    router = Router([Route("/", named("home"))])
    recorder = Recorder()
    coroutine = router(http_scope(method="POST", app=object()), recorder.receive, recorder.send)
    with pytest.raises(HTTPException) as info:
        coroutine.send(None)
    assert recorder.sent == []
    assert info.value.status_code == 405
    assert info.value.headers == {"Allow": "GET, HEAD"}


def test_not_found(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(Router([Route("/", named("home"))]))
    response = client.get("/missing")
    assert response.status_code == 404
    assert response.text == "Not Found"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_not_found_raises_http_exception_inside_an_app() -> None:
    from stellina.exceptions import HTTPException

    recorder = Recorder()
    scope = http_scope(path="/x", app=object())
    with pytest.raises(HTTPException) as info:
        Router([], redirect_slashes=False)(scope, recorder.receive, recorder.send).send(None)
    assert recorder.sent == []
    assert info.value.status_code == 404


def test_custom_default_app(test_client_factory: ClientFactory) -> None:
    router = Router([], default=PlainTextResponse("fallback", status_code=418))
    assert test_client_factory(router).get("/anything").status_code == 418


def test_redirect_slashes(test_client_factory: ClientFactory) -> None:
    router = Router(
        [
            Route("/with/", named("with")),
            Route("/without", named("without")),
            Route("/post-only/", named("post"), methods=["POST"]),
        ]
    )
    client = test_client_factory(router, follow_redirects=False)
    response = client.get("/with?a=1")
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/with/?a=1"
    response = client.get("/without/")
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/without"
    # A path that only matches with another method still redirects, as the reference does.
    assert client.get("/post-only").headers["location"] == "http://testserver/post-only/"
    assert client.get("/").status_code == 404
    assert client.get("/nothing/").status_code == 404


def test_redirect_slashes_disabled(test_client_factory: ClientFactory) -> None:
    router = Router([Route("/without", named("without"))], redirect_slashes=False)
    assert test_client_factory(router).get("/without/").status_code == 404


def test_redirect_to_mount_root(test_client_factory: ClientFactory) -> None:
    router = Router([Mount("/sub", routes=[Route("/", named("root"))])])
    client = test_client_factory(router, follow_redirects=False)
    assert client.get("/sub").headers["location"] == "http://testserver/sub/"
    assert client.get("/sub/").json()["route"] == "root"


def test_scope_entries(test_client_factory: ClientFactory) -> None:
    seen: dict[str, Any] = {}

    async def endpoint(request: Request) -> Response:
        seen.update(request.scope)
        return PlainTextResponse("ok")

    route = Route("/x/{id:int}", endpoint)
    router = Router([route])
    test_client_factory(router).get("/x/3")
    assert seen["router"] is router
    assert seen["route"] is route
    assert seen["endpoint"] is endpoint
    assert seen["path_params"] == {"id": 3}


def test_sync_endpoint_runs_in_a_thread(test_client_factory: ClientFactory) -> None:
    import threading

    main = threading.get_ident()

    def endpoint(request: Request) -> Response:
        return PlainTextResponse(str(threading.get_ident() != main))

    client = test_client_factory(Router([Route("/", endpoint)]))
    assert client.get("/").text == "True"


def test_partial_and_method_endpoints(test_client_factory: ClientFactory) -> None:
    async def greet(greeting: str, request: Request) -> Response:
        return PlainTextResponse(greeting)

    class Handlers:
        def hello(self, request: Request) -> Response:
            return PlainTextResponse("method")

    router = Router(
        [
            Route("/partial", functools.partial(greet, "partial")),
            Route("/method", Handlers().hello),
        ]
    )
    client = test_client_factory(router)
    assert client.get("/partial").text == "partial"
    assert client.get("/method").text == "method"
    assert client.post("/method").status_code == 405


def test_asgi_app_endpoint_accepts_any_method(test_client_factory: ClientFactory) -> None:
    class App:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse(scope["method"])(scope, receive, send)

    app = App()
    client = test_client_factory(Router([Route("/", app), Route("/get", app, methods=["GET"])]))
    assert client.request("PURGE", "/").text == "PURGE"
    assert client.delete("/get").status_code == 405


def test_route_and_router_middleware(test_client_factory: ClientFactory) -> None:
    class Tag:
        def __init__(self, app: ASGIApp, label: str) -> None:
            self.app = app
            self.label = label

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("tags", []).append(self.label)
            await self.app(scope, receive, send)

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(",".join(request.scope["tags"]))

    router = Router(
        [Route("/", endpoint, middleware=[Middleware(Tag, "inner"), Middleware(Tag, "second")])],
        middleware=[Middleware(Tag, label="outer")],
    )
    assert test_client_factory(router).get("/").text == "outer,inner,second"


def test_custom_base_route_keeps_its_place(test_client_factory: ClientFactory) -> None:
    class HeaderRoute(BaseRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            headers = dict(scope["headers"])
            if b"x-special" in headers:
                return Match.FULL, {"endpoint": None}
            return Match.NONE, {}

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse("special")(scope, receive, send)

    router = Router([Route("/a", named("first")), HeaderRoute(), Route("/b", named("late"))])
    client = test_client_factory(router)
    assert client.get("/a", headers={"x-special": "1"}).json()["route"] == "first"
    assert client.get("/b", headers={"x-special": "1"}).text == "special"
    assert client.get("/b").json()["route"] == "late"


def test_route_subclass_with_own_matching(test_client_factory: ClientFactory) -> None:
    class CaseInsensitiveRoute(Route):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            return super().matches({**scope, "path": scope["path"].lower()})

    router = Router([CaseInsensitiveRoute("/hello", named("hello"))])
    assert test_client_factory(router).get("/HELLO").json()["route"] == "hello"


def test_index_follows_route_list_changes(test_client_factory: ClientFactory) -> None:
    router = Router([Route("/a", named("a"))])
    client = test_client_factory(router)
    assert client.get("/b").status_code == 404
    router.routes.append(Route("/b", named("b")))
    assert client.get("/b").json()["route"] == "b"
    router.routes.insert(0, Route("/b", named("b-first")))
    assert client.get("/b").json()["route"] == "b-first"
    router.routes[0] = Route("/b", named("replaced"))
    assert client.get("/b").json()["route"] == "replaced"
    del router.routes[0]
    assert client.get("/b").json()["route"] == "b"
    router.routes += [Route("/c/{x}", named("c"))]
    assert client.get("/c/1").json()["route"] == "c"
    router.routes.pop()
    assert client.get("/c/1").status_code == 404
    router.routes.reverse()
    assert client.get("/a").json()["route"] == "a"
    router.routes.clear()
    assert client.get("/a").status_code == 404
    router.routes = [Route("/z", named("z"))]
    assert client.get("/z").json()["route"] == "z"
    router.add_route("/added", named("added"), methods=["POST"])
    assert client.post("/added").json()["route"] == "added"
    router.mount("/mounted", Router([Route("/x", named("x"))]))
    assert client.get("/mounted/x").json()["route"] == "x"
    assert isinstance(router.routes, list)


def test_router_equality() -> None:
    home = named("home")
    assert Router([Route("/", home)]) == Router([Route("/", home)])
    assert Router([Route("/", home)]) != Router([Route("/x", home)])
    assert Router() != object()


@pytest.mark.parametrize(
    "path",
    [
        "/items/" + "9" * 5000,  # int() refuses more than 4300 digits
        "/items/" + "x" * 100_000,
        "/" + "a/" * 20_000,
        "/items/\udcff\x00\n",
        "/%2e%2e/%2f",
        "//",
        "/" + "/" * 5000,
    ],
)
def test_hostile_paths_never_500(path: str) -> None:
    router = Router(
        [
            Route("/items/{id:int}", named("int")),
            Route("/items/{id:float}/x", named("float")),
            Route("/static/{rest:path}", named("path")),
            Mount("/m", routes=[Route("/{x}", named("m"))]),
        ]
    )
    assert raw_call(router, path)[0]["status"] in (404, 307)


def test_path_param_values_are_passed_through(test_client_factory: ClientFactory) -> None:
    router = Router([Route("/static/{rest:path}", named("path"))])
    client = test_client_factory(router)
    params = client.get("/static/a/%2E%2E/b").json()["params"]
    assert params == {"rest": "a/../b"}


def test_failing_custom_convertor_is_a_miss(
    test_client_factory: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stellina.convertors import CONVERTOR_TYPES, Convertor

    class EvenConvertor(Convertor[int]):
        regex = "[0-9]+"

        def convert(self, value: str) -> int:
            number = int(value)
            if number % 2:
                raise ValueError("odd")
            return number

        def to_string(self, value: int) -> str:
            return str(value)

    monkeypatch.setitem(CONVERTOR_TYPES, "even", EvenConvertor())
    router = Router([Route("/n/{n:even}", named("even")), Route("/n/{n}", named("other"))])
    client = test_client_factory(router)
    assert client.get("/n/4").json() == {"route": "even", "params": {"n": "4"}}
    assert client.get("/n/5").json()["route"] == "other"


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def raw_call(app: Callable[..., Any], path: str, method: str = "GET") -> list[Message]:
    """Run `app` on a bare scope for `path`; it must finish without waiting."""
    recorder = Recorder()
    scope = http_scope(method=method, path=path, headers=[(b"host", b"example.org")])
    scope["server"] = ("example.org", 80)
    with pytest.raises(StopIteration):
        app(scope, recorder.receive, recorder.send).send(None)
    return recorder.sent


def test_redirect_of_unencodable_or_control_paths() -> None:
    router = Router([Route("/a/{x}", ok)])
    assert raw_call(router, "/a/\udcff/")[0]["status"] == 404
    start = raw_call(router, "/a/\r\n/")[0]
    assert start["status"] == 307
    assert dict(start["headers"])[b"location"] == b"http://example.org/a/%0D%0A"


def test_changed_methods_and_app_are_honoured(test_client_factory: ClientFactory) -> None:
    route = Route("/r", named("r"), methods=["GET"])
    client = test_client_factory(Router([route]))
    assert client.post("/r").headers["allow"] == "GET, HEAD"
    route.methods = {"GET", "PUT"}
    assert client.post("/r").headers["allow"] == "GET, PUT"
    route.app = PlainTextResponse("replaced")
    assert client.get("/r").text == "replaced"


def test_404_and_405_answers_are_not_shared_between_requests() -> None:
    router = Router([Route("/r", ok, methods=["POST"])], redirect_slashes=False)
    for path in ("/missing", "/r"):
        first = raw_call(router, path)[0]
        first["headers"].append((b"x-added", b"by a middleware"))
        assert (b"x-added", b"by a middleware") not in raw_call(router, path)[0]["headers"]


def test_router_middleware_stack_and_app() -> None:
    class Count:
        calls = 0

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            Count.calls += 1
            await self.app(scope, receive, send)

    router = Router([Route("/", ok)], middleware=[Middleware(Count)])
    assert isinstance(router.middleware_stack, Count)
    assert raw_call(router, "/")[0]["status"] == 200
    assert Count.calls == 1
    assert raw_call(router.app, "/")[0]["status"] == 200  # routing only: no middleware
    assert Count.calls == 1
    plain = Router([Route("/", ok)], middleware=[])
    assert plain.middleware_stack == plain.app
    plain.middleware_stack = Count(plain.app)
    assert raw_call(plain, "/")[0]["status"] == 200
    assert Count.calls == 2


def test_route_list_slices_and_copies(test_client_factory: ClientFactory) -> None:
    import copy

    router = Router([Route("/a", named("a")), Route("/b", named("b"))])
    client = test_client_factory(router)
    assert client.get("/b").status_code == 200
    router.routes[1:] = [Route("/c", named("c"))]
    assert client.get("/b").status_code == 404
    assert client.get("/c").status_code == 200
    routes = copy.copy(router.routes)
    routes.append(Route("/d", named("d")))
    router.routes = routes
    assert client.get("/d").status_code == 200
    del router.routes[:]
    assert client.get("/a").status_code == 404


def test_subclasses_with_own_handle_and_partial_matches(
    test_client_factory: ClientFactory,
) -> None:
    class Tagged(Route):
        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            scope["tag"] = "tagged"
            await super().handle(scope, receive, send)

    class PostOnly(BaseRoute):
        """A custom route that knows the path but only serves POST."""

        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            if scope["path"] != "/custom":
                return Match.NONE, {}
            return (Match.FULL if scope["method"] == "POST" else Match.PARTIAL), {}

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            status = 200 if scope["method"] == "POST" else 405
            await PlainTextResponse("custom", status_code=status)(scope, receive, send)

    async def tag(request: Request) -> Response:
        return PlainTextResponse(request.scope.get("tag", "-"))

    router = Router([Tagged("/t", tag), Tagged("/t/{x}", tag), PostOnly(), Route("/custom", tag)])
    client = test_client_factory(router, follow_redirects=False)
    assert client.get("/t").text == "tagged"
    assert client.get("/t/1").text == "tagged"
    assert client.post("/custom").status_code == 200
    assert client.get("/custom").text == "-"  # the later full match beats the partial
    assert client.put("/custom").status_code == 405
    assert client.post("/custom/").headers["location"] == "http://testserver/custom"


def test_websocket_route_middleware_and_router_helpers(
    test_client_factory: ClientFactory,
) -> None:
    class Subprotocol:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            scope["greeting"] = "hi"
            await self.app(scope, receive, send)

    async def greet(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.scope.get("greeting", "-"))
        await websocket.close()

    router = Router([WebSocketRoute("/ws", greet, middleware=[Middleware(Subprotocol)])])
    router.add_websocket_route("/plain", greet)
    router.host("api.example.org", Router([Route("/", named("api"))]))
    client = test_client_factory(router)
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "hi"
    with client.websocket_connect("/plain") as session:
        assert session.receive_text() == "-"
    assert client.get("/", headers={"host": "api.example.org"}).json()["route"] == "api"


def test_router_subclass_overriding_app(test_client_factory: ClientFactory) -> None:
    seen: list[str] = []

    class Counting(Router):
        async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["path"])
            await super().app(scope, receive, send)

    router = Counting([Route("/", named("home"))])
    assert test_client_factory(router).get("/").json()["route"] == "home"
    assert seen == ["/"]


def test_routers_sharing_a_route_list(test_client_factory: ClientFactory) -> None:
    first = Router([Route("/a", named("a"))])
    second = Router()
    second.routes = first.routes
    clients = [test_client_factory(first), test_client_factory(second)]
    assert [client.get("/a").status_code for client in clients] == [200, 200]
    first.routes.append(Route("/b", named("b")))
    assert [client.get("/b").status_code for client in clients] == [200, 200]


def test_router_subclass_overriding_call(test_client_factory: ClientFactory) -> None:
    class Tagging(Router):
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
            scope["tag"] = "tagged"
            await super().__call__(scope, receive, send)

    class Passthrough:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)

    async def tag(request: Request) -> Response:
        return PlainTextResponse(request.scope["tag"])

    router = Tagging([Route("/", tag)], middleware=[Middleware(Passthrough)])
    assert test_client_factory(router).get("/").text == "tagged"
