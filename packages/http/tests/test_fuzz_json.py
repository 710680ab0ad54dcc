"""Property tests of Request.json(): documents round-trip, whatever else raises ValueError only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, chunked
from stellina_testing import http_scope

from stellina.requests import Request
from stellina.responses import PlainTextResponse
from stellina.types import Receive, Scope, Send

pytestmark = pytest.mark.fuzz

documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)


def _app(sink: list[Any]) -> Any:
    """Appends the document, or the ValueError raised for it (answered 400); else it raises."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            sink.append(await request.json())
        except ValueError as exc:
            sink.append(exc)
            await PlainTextResponse("bad json", 400)(scope, receive, send)
        else:
            await PlainTextResponse("ok")(scope, receive, send)

    return app


def _scope() -> Scope:
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    return http_scope(method="POST", headers=headers)


@BACKEND_SETTINGS
@given(
    document=documents, ascii=st.booleans(), indent=st.none() | st.integers(0, 3), data=st.data()
)
def test_documents_round_trip(
    anyio_backend: str, document: Any, ascii: bool, indent: int | None, data: st.DataObject
) -> None:
    body = json.dumps(document, ensure_ascii=ascii, indent=indent).encode()
    sink: list[Any] = []
    recorder = call(_app(sink), _scope(), data.draw(chunked(body)), anyio_backend)
    assert recorder.status == 200
    assert sink == [document]


_pieces = st.one_of(
    st.sampled_from([b"[", b"]", b"{", b"}", b'"', b":", b",", b"\\u", b"1e999", b"-", b"\xff"]),
    st.binary(max_size=4),
)


@BACKEND_SETTINGS
@given(body=st.lists(_pieces, max_size=40).map(b"".join), data=st.data())
def test_any_bytes_give_a_document_or_a_value_error(
    anyio_backend: str, body: bytes, data: st.DataObject
) -> None:
    sink: list[Any] = []
    recorder = call(_app(sink), _scope(), data.draw(chunked(body)), anyio_backend)
    try:
        expected = json.loads(body)
    except ValueError:
        assert recorder.status == 400
        assert isinstance(sink[0], ValueError)
    else:
        assert recorder.status == 200
        assert json.dumps(sink) == json.dumps([expected])


@BACKEND_SETTINGS
@given(
    depth=st.integers(1, 100_000),
    opener=st.sampled_from(("[", '{"a":', '[{"b":')),
    closed=st.booleans(),
)
@example(depth=10_000, opener="[", closed=True)
@example(depth=100_000, opener='{"a":', closed=True)
def test_deep_nesting_gives_a_document_or_a_value_error(
    anyio_backend: str, depth: int, opener: str, closed: bool
) -> None:
    closer = {"[": "]", '{"a":': "}", '[{"b":': "}]"}[opener]
    body = (opener * depth + "0" + (closer * depth if closed else "")).encode()
    sink: list[Any] = []
    recorder = call(_app(sink), _scope(), [body], anyio_backend)
    assert recorder.status in (200, 400)
    if not closed:
        assert recorder.status == 400
