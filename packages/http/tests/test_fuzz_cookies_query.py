"""Property tests of Request.cookies and Request.query_params over what a client sends.

Any Cookie header and any query string parse without raising; well-formed cookies read as
``http.cookies.SimpleCookie`` reads them, and query strings as ``urllib.parse.parse_qsl``.
"""

from __future__ import annotations

import string
from http.cookies import Morsel, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call
from stellina_testing import http_scope, request_app

from stellina.requests import Request
from stellina.responses import JSONResponse, Response

pytestmark = pytest.mark.fuzz

_latin1 = st.binary(max_size=200)
_cookie_bytes = st.lists(
    st.sampled_from([b";", b"=", b'"', b"\\", b" ", b"\\1", b"\\101", b"\xff", b","])
    | st.binary(max_size=5),
    max_size=40,
).map(b"".join)


async def _echo(request: Request) -> Response:
    return JSONResponse({"cookies": request.cookies, "query": request.query_params.multi_items()})


@BACKEND_SETTINGS
@given(
    cookies=st.lists(_cookie_bytes | _latin1, max_size=3),
    query=_latin1
    | st.lists(st.sampled_from([b"&", b"=", b"+", b"%", b"%2", b"%e2%82"]) | _latin1).map(b"".join),
)
def test_any_cookie_header_and_query_string_gets_an_answer(
    anyio_backend: str, cookies: list[bytes], query: bytes
) -> None:
    headers = [(b"host", b"testserver"), *((b"cookie", value) for value in cookies)]
    scope = http_scope(headers=headers, query_string=query)
    recorder = call(request_app(_echo), scope, [b""], anyio_backend)
    assert recorder.status == 200


@given(values=st.lists(_cookie_bytes | _latin1, max_size=3))
def test_any_cookie_header_parses_to_text(values: list[bytes]) -> None:
    headers = [(b"cookie", value) for value in values]
    cookies = Request(http_scope(headers=headers)).cookies
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in cookies.items())
    # Names and unquoted values come stripped; a quoted value keeps the whitespace inside.
    assert all(key == key.strip() for key in cookies)


# Cookie names and values that RFC 6265 and SimpleCookie both accept.
_TOKEN = string.ascii_letters + string.digits + "!#%&'*+-.^_`|~"
_OCTETS = string.ascii_letters + string.digits + "!#$%&'()*+-./:<=>?@[]^_`{|}~"
_reserved = {name.lower() for name in Morsel()}
cookie_names = st.text(_TOKEN, min_size=1, max_size=12).filter(lambda n: n.lower() not in _reserved)
cookie_values = st.text(_OCTETS, max_size=20) | st.text(_OCTETS + " ,", max_size=20).map(
    lambda inner: f'"{inner}"'
)


@given(
    pairs=st.lists(st.tuples(cookie_names, cookie_values), max_size=8),
    separator=st.sampled_from(("; ", ";", ";  ")),
)
def test_well_formed_cookies_read_as_simple_cookie_reads_them(
    pairs: list[tuple[str, str]], separator: str
) -> None:
    header = separator.join(f"{name}={value}" for name, value in pairs)
    reference = SimpleCookie()
    reference.load(header)
    cookies = Request(http_scope(headers=[(b"cookie", header.encode())])).cookies
    assert cookies == {name: morsel.value for name, morsel in reference.items()}


@given(query=_latin1)
def test_any_query_string_parses_as_parse_qsl(query: bytes) -> None:
    params = Request(http_scope(query_string=query)).query_params
    assert params.multi_items() == parse_qsl(query.decode("latin-1"), keep_blank_values=True)


@given(pairs=st.lists(st.tuples(st.text(max_size=12), st.text(max_size=20)), max_size=10))
def test_encoded_query_parameters_round_trip(pairs: list[tuple[str, str]]) -> None:
    query = urlencode(pairs)
    params = Request(http_scope(query_string=query.encode())).query_params
    assert params.multi_items() == pairs
    assert str(params) == query
    expected: dict[str, Any] = {}
    for name, value in pairs:
        expected.setdefault(name, []).append(value)
    assert {name: params.getlist(name) for name in params} == expected
