"""Client-visible details of stellina-http that must match Starlette 1.x exactly."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import anyio
import pytest
from stellina_testing import Recorder, http_scope

from stellina.datastructures import Headers
from stellina.exceptions import HTTPException
from stellina.formparsers import FormParser, MultiPartException
from stellina.requests import Request
from stellina.responses import FileResponse, Response
from stellina.types import Message
from stellina.websockets import WebSocket, WebSocketDisconnected


@pytest.mark.parametrize("code", [99, 599, 600, 1000])
def test_http_exception_for_a_code_without_phrase_has_empty_detail(code: int) -> None:
    exc = HTTPException(code)
    assert exc.status_code == code
    assert exc.detail == ""
    assert str(exc) == f"{code}: "
    assert repr(exc) == f"HTTPException(status_code={code}, detail='')"


def test_http_exception_known_code_keeps_its_phrase() -> None:
    assert HTTPException(404).detail == "Not Found"


@pytest.mark.anyio
async def test_multipart_byteranges_body_ends_at_closing_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(16)))
    recorder = Recorder()

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("the disconnect listener outlived the response")

    scope = http_scope(headers=[(b"range", b"bytes=0-1,4-5")])
    await FileResponse(path, media_type="application/x-test")(scope, receive, recorder.send)
    headers = dict(recorder.headers)
    match = re.fullmatch(rb"multipart/byteranges; boundary=([0-9a-f]+)", headers[b"content-type"])
    assert match is not None
    boundary = match.group(1)
    body = recorder.body
    head = b"--%s\r\nContent-Type: application/x-test\r\nContent-Range: bytes %s/16\r\n\r\n"
    assert body == (
        head % (boundary, b"0-1")
        + b"\x00\x01\r\n"
        + head % (boundary, b"4-5")
        + b"\x04\x05\r\n--"
        + boundary
        + b"--"
    )
    assert int(headers[b"content-length"]) == len(body)


def test_unknown_samesite_is_an_assertion_error_and_a_value_error() -> None:
    message = "samesite must be either 'strict', 'lax' or 'none'"
    with pytest.raises(AssertionError, match=message):
        Response().set_cookie("a", "b", samesite="bogus")
    with pytest.raises(ValueError, match=message):
        Response().set_cookie("a", "b", samesite="bogus")


async def chunks_of(body: bytes, size: int) -> AsyncGenerator[bytes, None]:
    for start in range(0, len(body), size):
        yield body[start : start + size]
    yield b""


async def parse_urlencoded(body: bytes, size: int, **limits: Any) -> list[tuple[str, Any]]:
    parser = FormParser(Headers({}), chunks_of(body, size), **limits)
    return (await parser.parse()).multi_items()


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 3, 100])
@pytest.mark.parametrize(
    ("body", "max_fields", "expected"),
    [
        (b"a=1&b=2", 2, [("a", "1"), ("b", "2")]),
        (b"a=1&&&b=2&", 2, [("a", "1"), ("b", "2")]),
        (b"&&&", 0, []),
        (b"a=1&b=2", 1, "Too many fields. Maximum number of fields is 1."),
        (b"a", 0, "Too many fields. Maximum number of fields is 0."),
        (b"=", 0, "Too many fields. Maximum number of fields is 0."),
    ],
)
async def test_urlencoded_max_fields(
    body: bytes, max_fields: int, expected: Any, size: int
) -> None:
    if isinstance(expected, str):
        with pytest.raises(MultiPartException) as info:
            await parse_urlencoded(body, size, max_fields=max_fields)
        assert info.value.message == expected
    else:
        assert await parse_urlencoded(body, size, max_fields=max_fields) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 4, 100])
@pytest.mark.parametrize(
    ("body", "ok"),
    [
        (b"a=123456789", True),  # name and value: 10 bytes, the "=" is not counted
        (b"aaaaaaaaaa", True),
        (b"a=12345678&b=12345678", True),
        (b"a=1234567890", False),
        (b"aaaaaaaaaaa", False),
        (b"a=%41%41%41%41%41", False),  # measured before decoding
        (b"x=1&" + b"b" * 50 + b"&y=2", False),
    ],
)
async def test_urlencoded_max_part_size(body: bytes, ok: bool, size: int) -> None:
    if ok:
        assert await parse_urlencoded(body, size, max_part_size=10)
    else:
        with pytest.raises(MultiPartException) as info:
            await parse_urlencoded(body, size, max_part_size=10)
        assert info.value.message == "Field exceeded maximum size of 0KB."


@pytest.mark.anyio
async def test_urlencoded_size_is_checked_before_the_count() -> None:
    with pytest.raises(MultiPartException, match="Field exceeded"):
        await parse_urlencoded(b"a=" + b"x" * 20, 100, max_fields=0, max_part_size=10)


@pytest.mark.anyio
@pytest.mark.parametrize("with_app", [False, True])
async def test_request_form_passes_limits_to_urlencoded_parser(with_app: bool) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"a=1&b=2", "more_body": False}

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }
    if with_app:
        scope["app"] = object()
    request = Request(scope, receive)
    expected = (HTTPException, "400: Too many fields") if with_app else (MultiPartException, "Too")
    with pytest.raises(expected[0], match=expected[1]):
        await request.form(max_fields=1)


@pytest.mark.anyio
async def test_urlencoded_default_limits() -> None:
    fields = b"&".join(b"f=%d" % i for i in range(1000))
    assert len(await parse_urlencoded(fields, 4096)) == 1000
    with pytest.raises(MultiPartException, match="Maximum number of fields is 1000"):
        await parse_urlencoded(fields + b"&x", 4096)
    big = b"a=" + b"x" * (1024 * 1024 - 1)
    assert len(await parse_urlencoded(big, 65536)) == 1
    with pytest.raises(MultiPartException, match="maximum size of 1024KB"):
        await parse_urlencoded(big + b"x", 65536)


def websocket_session(*incoming: Message) -> WebSocket:
    messages = list(incoming)

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        pass

    return WebSocket({"type": "websocket", "path": "/", "headers": []}, receive, send)


CONNECT: Message = {"type": "websocket.connect"}
DISCONNECT: Message = {"type": "websocket.disconnect", "code": 1000}


@pytest.mark.anyio
async def test_websocket_send_after_close_raises_websocket_disconnected() -> None:
    websocket = websocket_session(CONNECT)
    await websocket.accept()
    await websocket.close()
    with pytest.raises(WebSocketDisconnected, match='Cannot call "send" once a close message'):
        await websocket.send_text("late")
    with pytest.raises(RuntimeError):
        await websocket.close()


@pytest.mark.anyio
async def test_websocket_receive_after_disconnect_raises_websocket_disconnected() -> None:
    websocket = websocket_session(CONNECT, DISCONNECT)
    await websocket.accept()
    assert (await websocket.receive())["type"] == "websocket.disconnect"
    with pytest.raises(WebSocketDisconnected, match='Cannot call "receive" once a disconnect'):
        await websocket.receive_text()


@pytest.mark.anyio
async def test_websocket_receive_before_accept_raises_websocket_disconnected() -> None:
    websocket = websocket_session(CONNECT)
    with pytest.raises(WebSocketDisconnected, match='Need to call "accept" first'):
        await websocket.receive_text()


@pytest.mark.anyio
async def test_websocket_protocol_errors_stay_plain_runtime_errors() -> None:
    websocket = websocket_session({"type": "websocket.receive", "text": "x"})
    with pytest.raises(RuntimeError, match='Expected ASGI message "websocket.connect"') as info:
        await websocket.receive()
    assert not isinstance(info.value, WebSocketDisconnected)
