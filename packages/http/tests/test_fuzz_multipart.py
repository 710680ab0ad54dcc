"""Property tests of multipart/form-data parsing through Request.form().

Good bodies come from httpx's encoder, with random boundaries, names, file names and contents,
sent in random chunks: every field and file comes back exactly. Bad bodies (random bytes,
truncated or mutated ones, wrong boundaries, odd charsets) get a 400 or a form, never another
exception. A body sent one byte per message costs memory in proportion to its size.
"""

from __future__ import annotations

import string
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, chunked, form_peak_memory
from stellina_testing import Recorder, http_scope

from stellina.datastructures import UploadFile
from stellina.exceptions import ClientDisconnect
from stellina.requests import Request
from stellina.responses import PlainTextResponse
from stellina.types import Receive, Scope, Send

pytestmark = pytest.mark.fuzz

Item = tuple[str, str | tuple[str | None, str | None, bytes]]

# RFC 2046 boundary characters; a space may not end a boundary.
_BCHARS = string.ascii_letters + string.digits + "'()+_,-./:=? "
boundaries = st.text(_BCHARS, min_size=1, max_size=70).filter(lambda b: not b.endswith(" "))
# httpx %-escapes '"' and control characters in names; the parser unescapes backslashes.
names = st.text(
    st.characters(codec="utf-8", exclude_characters='"\\', min_codepoint=0x20),
    max_size=20,
)
filenames = names.filter(bool)
content_types = st.sampled_from(
    ("application/octet-stream", "text/plain; charset=utf-8", "image/png", "x/y; a=b")
)
spool_sizes = st.sampled_from((None, 1, 64, 1024 * 1024))

# The reasons a 400 may give: what a client is told, and no parser internals.
_REASONS = (
    "Invalid multipart data.",
    "Missing boundary in multipart.",
    'The Content-Disposition header field "name" must be provided.',
)


def _app(sink: list[Item], spool: int | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        async with request.form(spool_max_size=spool) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    sink.append((name, (value.filename, value.content_type, await value.read())))
                else:
                    sink.append((name, value))
        await PlainTextResponse("ok")(scope, receive, send)

    return app


def _scope(content_type: str) -> Scope:
    headers = [(b"host", b"testserver"), (b"content-type", content_type.encode("latin-1"))]
    return http_scope(method="POST", headers=headers, app=object())


@st.composite
def encoded_forms(draw: st.DrawFn) -> tuple[str, bytes, list[Item]]:
    """A multipart body by httpx: its content type, bytes, and the items it holds in order."""
    boundary = draw(boundaries)
    fields = draw(st.lists(st.tuples(names, st.text(max_size=40)), max_size=5))
    files = draw(
        st.lists(
            st.tuples(names, filenames, content_types, st.binary(max_size=300)),
            min_size=1,  # without a file, httpx sends the form urlencoded
            max_size=4,
        )
    )
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    quoted = draw(st.booleans()) or any(c in boundary for c in "'()+,/:=? ")
    shown = f'"{boundary}"' if quoted else boundary
    header = f"multipart/form-data; boundary={shown}"
    request = httpx.Request(
        "POST",
        "http://testserver/",
        data=data,
        files=[(name, (filename, content, ctype)) for name, filename, ctype, content in files],
        headers={"content-type": header},
    )
    expected: list[Item] = [(name, value) for name, values in data.items() for value in values]
    expected += [(name, (filename, ctype, content)) for name, filename, ctype, content in files]
    return header, request.read(), expected


@BACKEND_SETTINGS
@given(form=encoded_forms(), data=st.data(), spool=spool_sizes)
def test_every_field_and_file_round_trips(
    anyio_backend: str, form: tuple[str, bytes, list[Item]], data: st.DataObject, spool: int | None
) -> None:
    content_type, body, expected = form
    sink: list[Item] = []
    recorder = call(
        _app(sink, spool), _scope(content_type), data.draw(chunked(body)), anyio_backend
    )
    assert (recorder.status, recorder.body) == (200, b"ok")
    assert sink == expected


def _rejected_or_parsed(recorder: Any) -> None:
    """A malformed body gets a clear 400, or a form (what could be read of it)."""
    assert recorder.status in (200, 400), recorder.body
    if recorder.status == 400:
        assert recorder.body.decode() in _REASONS


@BACKEND_SETTINGS
@given(
    boundary=boundaries,
    body=st.binary(max_size=400),
    data=st.data(),
)
def test_random_bytes_get_a_400_or_a_form(
    anyio_backend: str, boundary: str, body: bytes, data: st.DataObject
) -> None:
    scope = _scope(f'multipart/form-data; boundary="{boundary}"')
    _rejected_or_parsed(call(_app([]), scope, data.draw(chunked(body)), anyio_backend))


@BACKEND_SETTINGS
@given(form=encoded_forms(), cut=st.integers(0), data=st.data())
def test_a_truncated_body_gives_a_400_or_its_whole_parts(
    anyio_backend: str, form: tuple[str, bytes, list[Item]], cut: int, data: st.DataObject
) -> None:
    content_type, body, expected = form
    body = body[: cut % len(body)]
    sink: list[Item] = []
    recorder = call(_app(sink), _scope(content_type), data.draw(chunked(body)), anyio_backend)
    _rejected_or_parsed(recorder)
    if recorder.status == 200:
        assert sink == expected[: len(sink)]


@BACKEND_SETTINGS
@given(
    form=encoded_forms(),
    edits=st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1, max_size=8),
    data=st.data(),
)
def test_a_mutated_body_gives_a_400_or_a_form(
    anyio_backend: str,
    form: tuple[str, bytes, list[Item]],
    edits: list[tuple[int, int]],
    data: st.DataObject,
) -> None:
    content_type, body, _ = form
    mutated = bytearray(body)
    for position, byte in edits:
        mutated[position % len(mutated)] = byte
    chunks = data.draw(chunked(bytes(mutated)))
    _rejected_or_parsed(call(_app([]), _scope(content_type), chunks, anyio_backend))


@BACKEND_SETTINGS
@given(
    form=encoded_forms(),
    header=st.sampled_from(
        (
            "multipart/form-data",
            "multipart/form-data; boundary=",
            'multipart/form-data; boundary=""',
            "multipart/form-data; boundary=other",
            "multipart/form-data;;;boundary",
            'multipart/form-data; boundary="unterminated',
        )
    ),
)
def test_a_wrong_or_missing_boundary_gives_a_400_or_a_form(
    anyio_backend: str, form: tuple[str, bytes, list[Item]], header: str
) -> None:
    _, body, _ = form
    _rejected_or_parsed(call(_app([]), _scope(header), [body], anyio_backend))


charsets = st.one_of(
    st.sampled_from(
        (
            "undefined",
            "punycode",
            "idna",
            "utf-16",
            "utf-32",
            "utf-7",
            "rot13",
            "base64",
            "hex",
            "zlib",
            "unicode_escape",
            "raw_unicode_escape",
            "mbcs",
            "no-such-charset",
            "utf-8\x00",
            "",
        )
    ),
    st.text(st.characters(max_codepoint=0xFF, exclude_characters='"\\\r\n'), max_size=20),
)


@BACKEND_SETTINGS
@given(form=encoded_forms(), charset=charsets)
def test_any_charset_parameter_gives_a_400_or_a_form(
    anyio_backend: str, form: tuple[str, bytes, list[Item]], charset: str
) -> None:
    content_type, body, _ = form
    scope = _scope(f'{content_type}; charset="{charset}"')
    _rejected_or_parsed(call(_app([]), scope, [body], anyio_backend))


# --- memory -----------------------------------------------------------------------------------

TRICKLE_SIZE = 50_000


def test_a_multipart_body_sent_a_byte_at_a_time_costs_memory_in_proportion(
    anyio_backend: str,
) -> None:
    third = TRICKLE_SIZE // 3
    request = httpx.Request(
        "POST",
        "http://testserver/",
        data={"a": "x" * third, "b": "y" * third},
        files={"f": ("f.bin", b"\x00" * third, "application/octet-stream")},
    )
    body = request.read()
    peak, items = form_peak_memory(body, request.headers["content-type"], anyio_backend)
    assert items == 3
    assert peak < 16 * len(body) + 256 * 1024


@BACKEND_SETTINGS
@given(form=encoded_forms(), cut=st.integers(0), data=st.data())
def test_a_client_gone_mid_body_ends_the_parse_with_client_disconnect(
    anyio_backend: str, form: tuple[str, bytes, list[Item]], cut: int, data: st.DataObject
) -> None:
    content_type, body, _ = form
    chunks = data.draw(chunked(body[: cut % len(body)]))
    recorder = Recorder([{"type": "http.request", "body": c, "more_body": True} for c in chunks])
    with pytest.raises(ClientDisconnect):
        anyio.run(recorder.answer, _app([]), _scope(content_type), backend=anyio_backend)
    assert recorder.sent == []
