"""Client bytes that once reached the app as a crash: odd charsets, absurd JSON nesting, and
bodies trickled a byte per message."""

from __future__ import annotations

import json
import tracemalloc

import httpx
import pytest
from stellina_testing import Recorder, http_scope

from stellina.requests import Request
from stellina.types import Message, Receive
from stellina.websockets import WebSocket

PART = (
    b'--xyz\r\nContent-Disposition: form-data; name="caf\xc3\xa9"\r\n\r\n'
    b"d\xc3\xa9j\xc3\xa0\r\n--xyz--\r\n"
)


def form_request(content_type: bytes, body: bytes) -> Request:
    recorder = Recorder.with_body(body)
    return Request(
        http_scope(method="POST", headers=[(b"content-type", content_type)]), recorder.receive
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "charset",
    [
        *(b"undefined", b"base64", b"rot13", b"no-such-charset", b'"utf-8\x00"', b"utf-8"),
        *(b"punycode", b"idna", b"unicode_escape", b"raw_unicode_escape"),
    ],
)
async def test_a_charset_that_cannot_decode_text_falls_back_to_utf8(charset: bytes) -> None:
    request = form_request(b"multipart/form-data; boundary=xyz; charset=" + charset, PART)
    async with request.form() as form:
        assert form.multi_items() == [("café", "déjà")]


@pytest.mark.anyio
async def test_bytes_a_charset_rejects_fall_back_to_latin1() -> None:
    request = form_request(b"multipart/form-data; boundary=xyz; charset=ascii", PART)
    async with request.form() as form:
        assert form.multi_items() == [("cafÃ©", "dÃ©jÃ\xa0")]


@pytest.mark.anyio
async def test_a_charset_that_decodes_is_used() -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xe9t\xe9\r\n--xyz--\r\n'
    request = form_request(b"multipart/form-data; boundary=xyz; charset=cp1252", body)
    async with request.form() as form:
        assert form["a"] == "été"


DEEP = b"[" * 10_000 + b"]" * 10_000


@pytest.mark.anyio
async def test_json_nested_too_deeply_is_a_value_error() -> None:
    request = Request(http_scope(method="POST"), Recorder.with_body(DEEP).receive)
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        await request.json()


@pytest.mark.anyio
async def test_json_of_reasonable_depth_still_decodes() -> None:
    request = Request(
        http_scope(method="POST"), Recorder.with_body(b"[" * 100 + b"]" * 100).receive
    )
    data = await request.json()
    for _ in range(99):
        data = data[0]
    assert data == []


@pytest.mark.anyio
async def test_websocket_json_nested_too_deeply_is_a_value_error() -> None:
    recorder = Recorder(
        [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": DEEP.decode()},
        ]
    )
    websocket = WebSocket(http_scope(type="websocket"), recorder.receive, recorder.send)
    await websocket.accept()
    with pytest.raises(ValueError, match="nested too deeply"):
        await websocket.receive_json()


SIZE = 64 * 1024


def trickled(body: bytes) -> Receive:
    """A receive that sends ``body`` one byte per message."""
    position = 0

    async def receive() -> Message:
        nonlocal position
        if position >= len(body):
            return {"type": "http.disconnect"}
        position += 1
        return {
            "type": "http.request",
            "body": body[position - 1 : position],
            "more_body": position < len(body),
        }

    return receive


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["multipart", "urlencoded"])
async def test_a_body_trickled_a_byte_at_a_time_costs_memory_like_its_bytes(kind: str) -> None:
    if kind == "multipart":
        encoded = httpx.Request("POST", "http://x/", files={"f": ("f.bin", b"x" * SIZE)})
    else:
        encoded = httpx.Request("POST", "http://x/", data={"f": "x" * SIZE})
    body = encoded.read()
    headers = [(b"content-type", encoded.headers["content-type"].encode())]
    request = Request(http_scope(method="POST", headers=headers), trickled(body))
    tracemalloc.start()
    try:
        async with request.form(max_part_size=2 * SIZE) as form:
            _, peak = tracemalloc.get_traced_memory()
            value = form["f"]
            data = value if isinstance(value, str) else (await value.read()).decode()
    finally:
        tracemalloc.stop()
    assert data == "x" * SIZE
    # One object per message would cost about 100 bytes each: over 6 MB here.
    assert peak < 16 * SIZE
