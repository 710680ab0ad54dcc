"""HTTPConnection / Request: scope views (URL, headers, cookies, client, state, url_for)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from stellina_testing import http_scope

from stellina.datastructures import URL, Address, Headers, QueryParams, State, URLPath
from stellina.requests import HTTPConnection, Request, cookie_parser
from stellina.websockets import WebSocket

make_scope = partial(
    http_scope,
    client=("10.0.0.1", 4321),
    path="/items/1",
    query_string=b"a=1&b=2&a=3",
    headers=[(b"host", b"example.org"), (b"x-thing", b"one"), (b"X-Other", b"two")],
)
"""The harness's scope for GET /items/1?a=1&b=2&a=3 on example.org, with two more headers."""


def test_mapping_over_scope() -> None:
    scope = make_scope()
    request = Request(scope)
    assert request["path"] == "/items/1"
    assert "method" in request
    assert len(request) == len(scope)
    assert set(request) == set(scope)
    assert dict(request) == scope


def test_identity_equality_and_hash() -> None:
    scope = make_scope()
    first, second = Request(scope), Request(scope)
    assert first == first
    assert first != second
    assert len({first, second}) == 2


def test_scope_type_is_checked() -> None:
    with pytest.raises(AssertionError):
        Request(make_scope(type="websocket"))
    with pytest.raises(AssertionError):
        HTTPConnection({"type": "lifespan"})
    assert HTTPConnection(make_scope(type="websocket"))["type"] == "websocket"


def test_method_url_and_components() -> None:
    request = Request(make_scope(method="POST"))
    assert request.method == "POST"
    assert isinstance(request.url, URL)
    assert str(request.url) == "http://example.org/items/1?a=1&b=2&a=3"
    assert request.url is request.url
    assert request.url.path == "/items/1"


def test_url_without_host_header_uses_server() -> None:
    request = Request(make_scope(headers=[], server=("10.1.1.1", 8080), query_string=b""))
    assert str(request.url) == "http://10.1.1.1:8080/items/1"


def test_base_url_uses_root_path() -> None:
    request = Request(make_scope(root_path="/api", path="/api/items/1"))
    assert str(request.base_url) == "http://example.org/api/"
    assert request.base_url is request.base_url
    request = Request(make_scope(app_root_path="/mounted/", root_path="/x"))
    assert str(request.base_url) == "http://example.org/mounted/"
    assert str(Request(make_scope()).base_url) == "http://example.org/"


def test_headers_and_query_params_are_cached() -> None:
    request = Request(make_scope())
    assert isinstance(request.headers, Headers)
    assert request.headers is request.headers
    assert request.headers["x-thing"] == "one"
    assert request.headers.get("missing") is None
    assert isinstance(request.query_params, QueryParams)
    assert request.query_params is request.query_params
    assert request.query_params.getlist("a") == ["1", "3"]


def test_lazy_views_do_not_parse_unless_asked() -> None:
    class Exploding(list[tuple[bytes, bytes]]):
        def __iter__(self) -> Any:
            raise AssertionError("headers parsed")

    request = Request(make_scope(headers=Exploding(), path_params={"id": 1}, query_string=object()))
    assert request.path_params == {"id": 1}
    assert request.method == "GET"
    assert request.client == Address("10.0.0.1", 4321)


def test_path_params_default() -> None:
    assert Request(make_scope()).path_params == {}


def test_client() -> None:
    request = Request(make_scope())
    assert request.client is not None
    assert request.client.host == "10.0.0.1"
    assert request.client.port == 4321
    assert Request(make_scope(client=None)).client is None
    scope = make_scope()
    del scope["client"]
    assert Request(scope).client is None


def test_cookies() -> None:
    headers = [(b"cookie", b"session=abc; theme=dark"), (b"cookie", b'theme=light; q="a\\"b"')]
    request = Request(make_scope(headers=headers))
    assert request.cookies == {"session": "abc", "theme": "light", "q": 'a"b'}
    assert request.cookies is request.cookies
    assert Request(make_scope()).cookies == {}


def test_session_auth_user_require_middleware() -> None:
    request = Request(make_scope())
    with pytest.raises(
        AssertionError, match=r"^SessionMiddleware must be installed to access request\.session$"
    ):
        _ = request.session
    with pytest.raises(
        AssertionError,
        match=r"^AuthenticationMiddleware must be installed to access request\.auth$",
    ):
        _ = request.auth
    with pytest.raises(
        AssertionError,
        match=r"^AuthenticationMiddleware must be installed to access request\.user$",
    ):
        _ = request.user
    request = Request(make_scope(session={"k": "v"}, auth="creds", user="alice", app="the-app"))
    assert request.session == {"k": "v"}
    assert request.auth == "creds"
    assert request.user == "alice"
    assert request.app == "the-app"


def test_session_read_is_recorded_by_a_tracking_session() -> None:
    class TrackingSession(dict[str, Any]):
        accessed = False

        def mark_accessed(self) -> None:
            self.accessed = True

    session = TrackingSession(k="v")
    request = Request(make_scope(session=session))
    assert session.accessed is False
    assert request.session is session
    assert session.accessed is True


def test_state_is_shared_with_scope() -> None:
    shared: dict[str, Any] = {"db": "pool"}
    scope = make_scope(state=shared)
    request = Request(scope)
    assert isinstance(request.state, State)
    assert request.state is request.state
    assert request.state.db == "pool"
    request.state.user = "bob"
    assert shared["user"] == "bob"
    assert Request(scope).state.user == "bob"


def test_state_created_when_missing() -> None:
    scope = make_scope()
    request = Request(scope)
    request.state.value = 1
    assert scope["state"] == {"value": 1}


def test_state_is_shared_between_request_and_websocket_views() -> None:
    scope = make_scope()
    Request(scope).state.flag = True
    connection = HTTPConnection(scope)
    assert connection.state.flag is True


class Router:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        self.calls.append((name, path_params))
        return URLPath(f"/users/{path_params['user_id']}", protocol="http")


def test_url_for_uses_router_and_base_url() -> None:
    router = Router()
    request = Request(make_scope(router=router, root_path="/api"))
    url = request.url_for("user", user_id=7)
    assert isinstance(url, URL)
    assert str(url) == "http://example.org/api/users/7"
    assert router.calls == [("user", {"user_id": 7})]


def test_url_for_falls_back_to_app() -> None:
    router = Router()
    request = Request(make_scope(app=router))
    assert str(request.url_for("user", user_id=1)) == "http://example.org/users/1"


def test_url_for_without_router_or_app() -> None:
    with pytest.raises(RuntimeError, match="can only be used inside a Stellina application"):
        Request(make_scope()).url_for("anything")


def test_url_for_keeps_name_positional_only() -> None:
    router = Router()
    request = Request(make_scope(router=router))
    request.url_for("user", user_id=1, name="x")
    assert router.calls == [("user", {"user_id": 1, "name": "x"})]


def test_websocket_is_a_connection_with_websocket_scheme() -> None:
    scope = make_scope(type="websocket", scheme="ws")

    async def receive() -> Any:
        raise AssertionError

    async def send(message: Any) -> None:
        raise AssertionError

    websocket = WebSocket(scope, receive, send)
    assert str(websocket.url) == "ws://example.org/items/1?a=1&b=2&a=3"
    assert websocket.headers["x-thing"] == "one"
    assert websocket.query_params["b"] == "2"


# cookie_parser: the lenient browser-compatible parser.


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", {}),
        ("a=1", {"a": "1"}),
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2;", {"a": "1", "b": "2"}),
        ("  a = 1 ;  b=2  ", {"a": "1", "b": "2"}),
        ("a=1; a=2", {"a": "2"}),
        ("keyonly", {"": "keyonly"}),
        ("a=b=c", {"a": "b=c"}),
        ("=value", {"": "value"}),
        ("a=", {"a": ""}),
        (";;;", {}),
        ("a", {"": "a"}),
        ('a="quoted"', {"a": "quoted"}),
        ('a="with space"', {"a": "with space"}),
        ('a=" padded\t"; b= bare ', {"a": " padded\t", "b": "bare"}),
        ('a="\\101\\142c"', {"a": "Abc"}),
        ('a="x\\"y\\\\z"', {"a": 'x"y\\z'}),
        ('a="\\477"', {"a": "477"}),
        ('a="unterminated', {"a": '"unterminated'}),
        ('a="', {"a": '"'}),
        ('a=""', {"a": ""}),
        ("a=\"b\";c='d'", {"a": "b", "c": "'d'"}),
        ("name=\u00e9t\u00e9", {"name": "\u00e9t\u00e9"}),
        ("Set-Cookie: x=1", {"Set-Cookie: x": "1"}),
        ("a=1, b=2", {"a": "1, b=2"}),
        ("sessionid=abc; Path=/; HttpOnly", {"sessionid": "abc", "Path": "/", "": "HttpOnly"}),
    ],
)
def test_cookie_parser(header: str, expected: dict[str, str]) -> None:
    assert cookie_parser(header) == expected


def test_cookie_parser_hostile_inputs_are_linear() -> None:
    # Shapes that make quadratic unquoting blow up; these must finish instantly.
    backslashes = 'a="' + "\\" * 200_000 + '"'
    assert cookie_parser(backslashes) == {"a": "\\" * 100_000}
    octals = 'a="' + "\\101" * 100_000 + '"'
    assert cookie_parser(octals) == {"a": "A" * 100_000}
    many = "; ".join(f"k{i}=v{i}" for i in range(50_000))
    parsed = cookie_parser(many)
    assert len(parsed) == 50_000
    assert parsed["k49999"] == "v49999"
    separators = ";" * 500_000
    assert cookie_parser(separators) == {}
    equals = "=" * 500_000
    assert cookie_parser(equals) == {"": "=" * 499_999}


def test_huge_cookie_header_on_request() -> None:
    value = "x" * 1_000_000
    request = Request(make_scope(headers=[(b"cookie", f"big={value}; small=1".encode())]))
    assert request.cookies["big"] == value
    assert request.cookies["small"] == "1"


def test_cookie_header_with_latin1_bytes() -> None:
    request = Request(make_scope(headers=[(b"cookie", b"a=\xe9")]))
    assert request.cookies == {"a": "\u00e9"}


def test_user_attributes_and_weak_references() -> None:
    import weakref

    request = Request(make_scope())
    request.custom = "value"  # type: ignore[attr-defined]
    assert request.custom == "value"  # type: ignore[attr-defined]
    assert weakref.ref(request)() is request


def test_generic_subscription_at_runtime() -> None:
    request = Request[dict[str, Any]](make_scope(state={"k": 1}))
    assert isinstance(request, Request)
    assert request.state.k == 1
