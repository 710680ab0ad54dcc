"""Property tests of CORSMiddleware: any request headers under any policy get the app's answer or
a preflight's 200/400, an allow-origin header only for an allowed origin (never ``*`` with
credentials), and no client text with CR, LF or NUL echoed into a header."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, header_text
from stellina_testing import http_scope

from stellina.middleware.cors import CORSMiddleware
from stellina.types import Receive, Scope, Send

pytestmark = pytest.mark.fuzz

REGEX = r"https://[a-z]+\.example\.org"


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
    await send({"type": "http.response.body", "body": b"hello"})


origins = st.sampled_from(
    ("https://a.example", "http://b.example:8080", "https://x.example.org", "null", "*", "")
) | header_text(30)
policies = st.fixed_dictionaries(
    {
        "allow_origins": st.sampled_from(
            ((), ("*",), ("https://a.example", "http://b.example:8080"))
        ),
        "allow_origin_regex": st.sampled_from((None, REGEX)),
        "allow_credentials": st.booleans(),
        "allow_methods": st.sampled_from((("GET",), ("*",), ("GET", "PUT"))),
        "allow_headers": st.sampled_from(((), ("*",), ("X-Token",))),
        "allow_private_network": st.booleans(),
        "expose_headers": st.sampled_from(((), ("X-App",))),
    }
)
request_headers = st.lists(
    st.tuples(
        st.sampled_from(
            (
                b"origin",
                b"access-control-request-method",
                b"access-control-request-headers",
                b"access-control-request-private-network",
                b"cookie",
            )
        ),
        st.sampled_from((b"GET", b"PUT", b"x-token", b"X-Token, Accept", b"true", b"\r\n"))
        | header_text(20).map(lambda text: text.encode("latin-1")),
    ),
    max_size=5,
)


@BACKEND_SETTINGS
@given(
    policy=policies,
    origin=origins,
    headers=request_headers,
    method=st.sampled_from(("GET", "OPTIONS", "POST", "PUT")),
)
def test_any_request_gets_a_safe_answer(
    anyio_backend: str,
    policy: dict[str, object],
    origin: str,
    headers: list[tuple[bytes, bytes]],
    method: str,
) -> None:
    middleware = CORSMiddleware(hello, **policy)  # type: ignore[arg-type]
    raw = [(b"origin", origin.encode("latin-1")), *headers]
    recorder = call(middleware, http_scope(method=method, headers=raw), [b""], anyio_backend)
    assert recorder.status in (200, 400)
    for name, value in recorder.headers:
        assert not re.search(rb"[\r\n\x00]", name + value), (name, value)
    sent = [value for name, value in recorder.headers if name == b"access-control-allow-origin"]
    assert len(sent) <= 1
    if not sent:
        return
    allowed = policy["allow_origins"]
    assert isinstance(allowed, tuple)
    first = next(value for name, value in raw if name == b"origin").decode("latin-1")
    if sent[0].decode("latin-1") != first:  # not the origin echoed: the wildcard
        assert sent[0] == b"*"
        assert "*" in allowed and not policy["allow_credentials"]
        return
    regex = policy["allow_origin_regex"]
    assert (
        "*" in allowed
        or first in allowed
        or (isinstance(regex, str) and re.fullmatch(regex, first) is not None)
    )
