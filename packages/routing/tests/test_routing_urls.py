"""Reverse lookups (url_path_for, url_for), compile_path and names."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable

import pytest

from stellina.datastructures import URLPath
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import (
    PARAM_FORMAT_REGEX,
    PARAM_REGEX,
    Host,
    Mount,
    NoMatchFound,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
    get_name,
    replace_params,
)
from stellina.testclient import TestClient
from stellina.websockets import WebSocket


def home(request: Request) -> Response:
    return PlainTextResponse("home")


def user(request: Request) -> Response:
    return PlainTextResponse(request.url_for("users:user", id=request.path_params["id"]).path)


async def chat(websocket: WebSocket) -> None:
    await websocket.close()


users = Router([Route("/", home, name="list"), Route("/{id:int}", user, name="user")])
router = Router(
    [
        Route("/", home),
        Route("/files/{path:path}", home, name="file"),
        Route("/at/{when:float}/{key:uuid}", home, name="typed"),
        WebSocketRoute("/ws/{room}", chat, name="chat"),
        Mount("/users", app=users, name="users"),
        Mount("/static", app=PlainTextResponse("static"), name="static"),
        Mount("/anon", routes=[Route("/leaf", home, name="leaf")]),
        Host("{sub}.example.org", app=Router([Route("/", home, name="sub-home")]), name="site"),
        Host("api.example.org", app=Router([Route("/v1", home, name="v1")])),
    ]
)


def test_url_path_for_routes() -> None:
    url = router.url_path_for("home")
    assert isinstance(url, URLPath)
    assert (url, url.protocol) == ("/", "http")
    assert router.url_path_for("file", path="a/b.txt") == "/files/a/b.txt"
    key = uuid.UUID(int=5)
    assert router.url_path_for("typed", when=1.5, key=key) == f"/at/1.5/{key}"
    ws = router.url_path_for("chat", room="lobby")
    assert (ws, ws.protocol) == ("/ws/lobby", "websocket")


def test_url_path_for_mounts() -> None:
    assert router.url_path_for("users:user", id=3) == "/users/3"
    assert router.url_path_for("users:list") == "/users/"
    assert router.url_path_for("static", path="/css/a.css") == "/static/css/a.css"
    assert router.url_path_for("leaf") == "/anon/leaf"
    assert Mount("/m/{org}", app=users, name="m").url_path_for("m:user", org="x", id=1) == "/m/x/1"
    assert Mount("/m", app=users, name="m").url_path_for("m", path="x") == "/m/x"


def test_url_path_for_hosts() -> None:
    url = router.url_path_for("site:sub-home", sub="shop")
    assert (url, url.host, url.protocol) == ("/", "shop.example.org", "http")
    url = router.url_path_for("v1")
    assert (url, url.host) == ("/v1", "api.example.org")
    url = router.url_path_for("site", sub="blog", path="/feed")
    assert (url, url.host) == ("/feed", "blog.example.org")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, 'No route exists for name "nope" and params "".'),
        ("home", {"extra": 1}, 'No route exists for name "home" and params "extra".'),
        ("users:user", {}, 'No route exists for name "users:user" and params "".'),
        ("typed", {"when": 1.0}, 'No route exists for name "typed" and params "when".'),
        ("chat", {"room": "a", "x": 1}, 'No route exists for name "chat" and params "room, x".'),
        ("static", {}, 'No route exists for name "static" and params "".'),
    ],
)
def test_no_match_found(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(NoMatchFound) as info:
        router.url_path_for(name, **params)
    assert str(info.value) == message


def test_bad_values_for_reverse_lookups() -> None:
    strings = Route("/s/{name}", home, name="s")
    with pytest.raises(AssertionError, match="May not contain path separators"):
        strings.url_path_for("s", name="a/b")
    with pytest.raises(AssertionError, match="Must not be empty"):
        strings.url_path_for("s", name="")
    ints = Route("/i/{n:int}", home, name="i")
    with pytest.raises(AssertionError, match="Negative integers are not supported"):
        ints.url_path_for("i", n=-1)


def test_url_for_from_a_request(test_client_factory: Callable[..., TestClient]) -> None:
    client = test_client_factory(router)
    assert client.get("/users/42").text == "/users/42"


def test_compile_path() -> None:
    regex, path_format, convertors = compile_path("/users/{id:int}/{name}")
    assert path_format == "/users/{id}/{name}"
    assert set(convertors) == {"id", "name"}
    assert regex.match("/users/3/bob") is not None
    assert regex.match("/users/x/bob") is None
    regex, path_format, _ = compile_path("{sub}.example.org:8000")
    assert path_format == "{sub}.example.org:8000"
    assert regex.match("a.example.org") is not None
    regex, _, _ = compile_path("/a.b+c")
    assert regex.match("/a.b+c") is not None
    assert regex.match("/aXb+c") is None


def test_compile_path_errors() -> None:
    with pytest.raises(AssertionError, match="Unknown path convertor 'nope'"):
        compile_path("/{x:nope}")
    with pytest.raises(ValueError, match="Duplicated param name id at path /{id}/{id}"):
        compile_path("/{id}/{id}")
    with pytest.raises(ValueError, match="Duplicated param names a, b at path"):
        compile_path("/{a}/{b}/{a}/{b}")


def test_get_name() -> None:
    class Endpoint:
        async def __call__(self, scope: object, receive: object, send: object) -> None: ...

    assert get_name(home) == "home"
    assert get_name(Endpoint) == "Endpoint"
    assert get_name(Endpoint()) == "Endpoint"
    assert get_name(functools.partial(home)) == "partial"
    assert Route("/", Endpoint()).name == "Endpoint"
    assert Route("/", home, name="custom").name == "custom"


def test_values_are_never_read_as_placeholders() -> None:
    route = Route("/{a}/{b}", home, name="pair")
    assert route.url_path_for("pair", a="{b}", b="x") == "/{b}/x"
    assert route.url_path_for("pair", a="x", b="{a}") == "/x/{a}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/evil.example/x", "/%2Fevil.example/x"),
        ("\\evil.example", "/%5Cevil.example"),
        ("a//b", "/a//b"),
    ],
)
def test_a_leading_double_slash_never_names_a_host(value: str, expected: str) -> None:
    router = Router([Route("/{rest:path}", home, name="rest")])
    assert router.url_path_for("rest", rest=value) == expected


def test_mount_own_url_cannot_become_protocol_relative() -> None:
    mount = Mount("", routes=[], name="root")
    assert mount.url_path_for("root", path="//evil.example") == "/evil.example"


def test_replace_params_fills_in_one_pass_and_reports_leftovers() -> None:
    _, path_format, convertors = compile_path("/{x:int}/{y}")
    filled, leftover = replace_params(path_format, convertors, {"x": 3, "y": "{x}", "z": 1})
    assert (filled, leftover) == ("/3/{x}", {"z": 1})
    assert PARAM_FORMAT_REGEX.findall(path_format) == ["x", "y"]
    assert PARAM_REGEX.findall("/{x:int}/{y}") == [("x", ":int"), ("y", "")]


def test_host_templates_leave_the_port_out_of_matching() -> None:
    regex, host_format, _ = compile_path("{sub}.example.org:8080")
    assert regex.fullmatch("API.example.org") is not None
    assert host_format == "{sub}.example.org:8080"
    assert compile_path("[::1]:80")[0].fullmatch("[::1]") is not None
    assert compile_path("[::1]")[0].fullmatch("[::1]") is not None


def test_huge_templates_and_paths_stay_linear() -> None:
    router = Router([Route("/" + "/".join(f"{{p{i}}}" for i in range(300)), home, name="deep")])
    params = {f"p{i}": str(i) for i in range(300)}
    assert router.url_path_for("deep", **params).count("/") == 300
