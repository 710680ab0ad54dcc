"""Property tests of application/x-www-form-urlencoded parsing through Request.form().

Pairs encoded by ``urllib.parse.urlencode`` and sent in random chunks come back exactly; any
bytes at all parse as ``parse_qsl`` reads their latin-1 text, never raising; a body sent one byte
per message costs memory in proportion to its size.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, chunked, form_peak_memory
from stellina_testing import http_scope

from stellina.requests import Request
from stellina.responses import PlainTextResponse
from stellina.types import Receive, Scope, Send

pytestmark = pytest.mark.fuzz

FORM = "application/x-www-form-urlencoded"


def _app(sink: list[tuple[str, Any]]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async with Request(scope, receive, send).form() as form:
            sink.extend(form.multi_items())
        await PlainTextResponse("ok")(scope, receive, send)

    return app


def _scope(content_type: str = FORM) -> Scope:
    headers = [(b"host", b"testserver"), (b"content-type", content_type.encode("latin-1"))]
    return http_scope(method="POST", headers=headers, app=object())


# Some values long enough that a field sent a byte at a time is held in many pieces.
values = st.text(max_size=40) | st.text("x%", min_size=20, max_size=120)
pairs = st.lists(st.tuples(st.text(max_size=20), values), max_size=20)


@BACKEND_SETTINGS
@given(items=pairs, data=st.data())
def test_encoded_pairs_round_trip(
    anyio_backend: str, items: list[tuple[str, str]], data: st.DataObject
) -> None:
    body = urlencode(items).encode("ascii")
    sink: list[tuple[str, Any]] = []
    recorder = call(_app(sink), _scope(), data.draw(chunked(body)), anyio_backend)
    assert (recorder.status, recorder.body) == (200, b"ok")
    assert sink == items


# Bytes that urlencoded bodies are made of, and anything else, so that escapes and separators
# come up often.
_pieces = st.one_of(
    st.sampled_from([b"&", b"=", b"+", b"%", b"%2", b"%41", b"%e2%82%ac", b"%FF", b"%00", b"\\"]),
    st.binary(max_size=6),
)
bodies = st.lists(_pieces, max_size=60).map(b"".join)


@BACKEND_SETTINGS
@given(body=bodies, data=st.data())
def test_any_bytes_parse_as_parse_qsl_reads_them(
    anyio_backend: str, body: bytes, data: st.DataObject
) -> None:
    sink: list[tuple[str, Any]] = []
    recorder = call(_app(sink), _scope(), data.draw(chunked(body)), anyio_backend)
    assert recorder.status == 200
    assert sink == parse_qsl(body.decode("latin-1"), keep_blank_values=True)


@BACKEND_SETTINGS
@given(
    body=bodies,
    content_type=st.sampled_from(
        (FORM, f"{FORM}; charset=undefined", f"{FORM};;", " Application/X-WWW-Form-Urlencoded ")
    ),
    max_fields=st.integers(0, 5),
    max_part_size=st.integers(0, 20),
)
def test_limits_give_a_400_never_another_exception(
    anyio_backend: str, body: bytes, content_type: str, max_fields: int, max_part_size: int
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        async with request.form(max_fields=max_fields, max_part_size=max_part_size):
            pass
        await PlainTextResponse("ok")(scope, receive, send)

    recorder = call(app, _scope(content_type), [body], anyio_backend)
    expected = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
    sizes = [len(field) - (b"=" in field) for field in body.split(b"&") if field]
    within = len(expected) <= max_fields and all(size <= max_part_size for size in sizes)
    assert recorder.status == (200 if within else 400), recorder.body


TRICKLE_SIZE = 50_000


def test_a_body_sent_a_byte_at_a_time_costs_memory_in_proportion(anyio_backend: str) -> None:
    third = TRICKLE_SIZE // 3
    body = urlencode({"a": "x" * third, "b": "é" * (third // 6), "c": ""}).encode()
    peak, items = form_peak_memory(body, FORM, anyio_backend)
    assert items == 3
    assert peak < 16 * len(body) + 256 * 1024
