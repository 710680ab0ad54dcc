"""Property tests of SessionMiddleware: any Cookie header, and any forged, tampered or
foreign-signed session cookie, gives the app a session dict (empty unless the cookie is ours);
any JSON-able session the app stores comes back on the next request."""

from __future__ import annotations

import json
from base64 import b64encode
from typing import Any

import itsdangerous
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, header_text
from stellina_testing import http_scope

from stellina.middleware.sessions import SessionMiddleware
from stellina.types import Receive, Scope, Send

pytestmark = pytest.mark.fuzz

SECRET = "s3cret"
ours = itsdangerous.TimestampSigner(SECRET)
theirs = itsdangerous.TimestampSigner("another secret")


def _app(seen: list[Any], store: dict[str, Any] | None = None) -> SessionMiddleware:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = scope["session"]
        seen.append(dict(session))
        if store is not None:
            session.clear()
            session.update(store)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return SessionMiddleware(app, secret_key=SECRET)


def _payload(data: object) -> bytes:
    return b64encode(json.dumps(data).encode())


forged_values = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda data: theirs.sign(_payload(data)), st.dictionaries(st.text(), st.text())),
    st.builds(
        lambda payload, cut: ours.sign(payload)[:cut],
        st.binary(max_size=40).map(b64encode),
        st.integers(0, 20),
    ),
    st.builds(  # validly signed, but not a JSON object
        lambda raw: ours.sign(b64encode(raw)),
        st.sampled_from((b"[]", b"1", b'"x"', b"null", b"{", b"\xff", b""))
        | st.binary(max_size=10),
    ),
    st.builds(
        lambda data: b'"' + ours.sign(_payload(data)) + b'x"', st.dictionaries(st.text(), st.text())
    ),
)


@BACKEND_SETTINGS
@given(
    value=forged_values,
    other=header_text(40),
    layout=st.sampled_from(("{}", " {} ", "a=1; {}", "{};session=", "{}; session")),
)
def test_a_forged_cookie_gives_an_empty_session(
    anyio_backend: str, value: bytes, other: str, layout: str
) -> None:
    seen: list[Any] = []
    cookie = layout.format("session=").encode() + value
    headers = [(b"cookie", cookie), (b"cookie", other.encode("latin-1"))]
    recorder = call(_app(seen), http_scope(headers=headers), [b""], anyio_backend)
    assert (recorder.status, recorder.body) == (200, b"ok")
    assert seen == [{}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@BACKEND_SETTINGS
@given(store=st.dictionaries(st.text(), json_values, min_size=1, max_size=5))
def test_a_stored_session_comes_back(anyio_backend: str, store: dict[str, Any]) -> None:
    first = call(_app([], store), http_scope(), [b""], anyio_backend)
    set_cookie = next(value for name, value in first.headers if name == b"set-cookie")
    cookie = set_cookie.partition(b";")[0]
    seen: list[Any] = []
    second = call(_app(seen), http_scope(headers=[(b"cookie", cookie)]), [b""], anyio_backend)
    assert second.status == 200
    assert seen == [store]
