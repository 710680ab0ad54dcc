"""Property tests of routing: any path and method get a 2xx, 3xx, 404 or 405, and the path that
``url_path_for`` builds from any parameters routes back to them, through convertors and Mount."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call
from stellina_testing import http_scope

from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Mount, Route, Router
from stellina.types import Scope

pytestmark = pytest.mark.fuzz

seen: list[tuple[str, dict[str, Any]]] = []


def _endpoint(name: str) -> Any:
    """An endpoint recording its route's name and parameters; it answers with its own URL."""

    async def endpoint(request: Request) -> Response:
        seen.append((name, request.path_params))
        return PlainTextResponse(request.url_for(name, **request.path_params).path)

    return endpoint


def _route(path: str, name: str, **options: Any) -> Route:
    return Route(path, _endpoint(name), name=name.rpartition(":")[2], **options)


router = Router(
    [
        _route("/", "home"),
        _route("/s/{name}", "str"),
        _route("/i/{n:int}", "int", methods=["GET", "POST"]),
        _route("/f/{x:float}", "float"),
        _route("/u/{id:uuid}", "uuid"),
        _route("/p/{rest:path}", "path"),
        _route("/two/{a}/{b:int}/", "two"),
        Mount("/m", routes=[_route("/{name}/{n:int}", "inner:item")], name="inner"),
    ]
)

# Newlines included: a "path" parameter (and a Mount's remainder) takes any rest of the path.
segments = st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1)
rests = st.text(st.characters(codec="utf-8"))
floats = st.just(0.0) | st.floats(min_value=1e-3, max_value=1e15)
naturals = st.integers(0, 10**30)
routes = st.one_of(
    st.tuples(st.just("str"), st.fixed_dictionaries({"name": segments})),
    st.tuples(st.just("int"), st.fixed_dictionaries({"n": naturals})),
    st.tuples(st.just("float"), st.fixed_dictionaries({"x": floats})),
    st.tuples(st.just("uuid"), st.fixed_dictionaries({"id": st.uuids()})),
    st.tuples(st.just("path"), st.fixed_dictionaries({"rest": rests})),
    st.tuples(st.just("two"), st.fixed_dictionaries({"a": segments, "b": naturals})),
    # The mounted route's path starts with its parameter: a value starting with "\\" is sent
    # escaped ("/%5C", so that no path can read as "//host"), which only a server's decoding
    # of the URL turns back; these scopes are built from url_path_for's text as it is.
    st.tuples(
        st.just("inner:item"),
        st.fixed_dictionaries(
            {"name": segments.filter(lambda name: not name.startswith("\\")), "n": naturals}
        ),
    ),
)


def _scope(path: str, method: str = "GET") -> Scope:
    raw = path.encode("utf-8", "surrogatepass")
    return http_scope(path=path, raw_path=raw, method=method, app=router)


@BACKEND_SETTINGS
@given(route=routes)
def test_url_path_for_routes_back_to_its_parameters(
    anyio_backend: str, route: tuple[str, dict[str, Any]]
) -> None:
    name, params = route
    path = router.url_path_for(name, **params)
    seen.clear()
    recorder = call(router, _scope(path), [b""], anyio_backend)
    assert recorder.status == 200, (path, recorder.body)
    expected = {
        key: uuid.UUID(str(value)) if isinstance(value, uuid.UUID) else value
        for key, value in params.items()
    }
    assert seen == [(name, expected)]
    if not any(c in path for c in "?#\t\r\n"):  # urlsplit would cut or drop them
        assert recorder.body.decode() == path


_PIECES = (
    "/", "//", "s", "i", "f", "u", "p", "m", "two", "1", "0.5", "-1", "1e5", "%2F", "%", "..",
    ".", "?", "#", "\\", " ", "\x00", "\n", "é", "12345678-1234-1234-1234-123456789abc",
)  # fmt: skip
paths = st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=10).map("".join)


@BACKEND_SETTINGS
@given(
    path=paths,
    method=st.sampled_from(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "get", "X\x00")),
)
def test_any_path_and_method_get_a_route_a_redirect_or_a_4xx(
    anyio_backend: str, path: str, method: str
) -> None:
    recorder = call(router, _scope(path, method), [b""], anyio_backend)
    assert recorder.status in (200, 307, 404, 405), (path, method, recorder.status)
    if recorder.status == 307:
        location = dict(recorder.headers)[b"location"].decode("latin-1")
        assert location.startswith("http://testserver/")
