"""The request's body limit (``scope[MAX_BODY_SIZE_SCOPE_KEY]``), enforced by body(), stream()
and form() when no `BodyLimit` receive counts the body already."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from stellina_testing import Recorder, http_scope

from stellina.asgi import MAX_BODY_SIZE_SCOPE_KEY, BodyLimit, HTTPException
from stellina.requests import Request
from stellina.types import Message, Receive, Scope, Send

BOUNDARY = "limitboundary"


def limited_scope(limit: int | None, content_type: bytes = b"text/plain", **extra: Any) -> Scope:
    headers = [(b"host", b"testserver"), (b"content-type", content_type)]
    scope = http_scope(method="POST", headers=headers, **extra)
    scope[MAX_BODY_SIZE_SCOPE_KEY] = limit
    return scope


async def read_body(request: Request) -> bytes:
    return await request.body()


async def read_stream(request: Request) -> bytes:
    return b"".join([chunk async for chunk in request.stream()])


READERS = [pytest.param(read_body, id="body"), pytest.param(read_stream, id="stream")]


@pytest.mark.anyio
@pytest.mark.parametrize("read", READERS)
async def test_a_body_over_the_limit_is_refused_with_413(
    read: Callable[[Request], Any],
) -> None:
    peer = Recorder.with_body(b"x" * 6, b"x" * 6)
    request = Request(limited_scope(10), peer.receive)
    with pytest.raises(HTTPException) as info:
        await read(request)
    assert info.value.status_code == 413


@pytest.mark.anyio
@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("limit", [12, None])
async def test_a_body_within_the_limit_is_read(
    read: Callable[[Request], Any], limit: int | None
) -> None:
    peer = Recorder.with_body(b"x" * 6, b"", b"y" * 6)
    request = Request(limited_scope(limit), peer.receive)
    assert await read(request) == b"x" * 6 + b"y" * 6


@pytest.mark.anyio
async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    calls = 0

    async def receive() -> Message:
        nonlocal calls
        calls += 1
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = limited_scope(10)
    scope["headers"].append((b"content-length", b"1000000"))
    with pytest.raises(HTTPException) as info:
        await Request(scope, receive).body()
    assert info.value.status_code == 413
    assert calls == 0


@pytest.mark.anyio
async def test_a_body_limit_receive_is_left_to_count() -> None:
    # The BodyLimit installed for the request counts the body; the request must not count
    # it a second time against the scope's (here stale) value.
    peer = Recorder.with_body(b"x" * 8)
    scope = limited_scope(None)
    receive = BodyLimit.apply(scope, peer.receive, 100)
    scope[MAX_BODY_SIZE_SCOPE_KEY] = 4
    request = Request(scope, receive)
    assert await request.body() == b"x" * 8
    limiter = BodyLimit.of(scope)
    assert limiter is not None
    assert limiter.received == 8


@pytest.mark.anyio
async def test_an_urlencoded_form_over_the_limit_is_refused_with_413() -> None:
    body = b"&".join(b"f%d=%s" % (i, b"v" * 50) for i in range(10))
    peer = Recorder.with_body(body[:100], body[100:])
    scope = limited_scope(200, b"application/x-www-form-urlencoded", app=object())
    with pytest.raises(HTTPException) as info:
        await Request(scope, peer.receive).form()
    assert info.value.status_code == 413


def multipart_upload(size: int) -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"x" * size
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


@pytest.mark.anyio
async def test_a_multipart_upload_over_the_limit_is_413_not_400() -> None:
    body = multipart_upload(4096)
    peer = Recorder.with_body(*(body[i : i + 512] for i in range(0, len(body), 512)))
    content_type = f"multipart/form-data; boundary={BOUNDARY}".encode()
    scope = limited_scope(1024, content_type, app=object())
    with pytest.raises(HTTPException) as info:
        await Request(scope, peer.receive).form()
    assert info.value.status_code == 413


def test_a_multipart_upload_over_the_limit_answers_413(test_client_factory: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[MAX_BODY_SIZE_SCOPE_KEY] = 512
        request = Request(scope, receive)
        try:
            async with request.form():
                status = 200  # pragma: no cover
        except HTTPException as exc:
            status = exc.status_code
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = test_client_factory(app)
    response = client.post("/", files={"file": ("a.bin", b"x" * 2048)})
    assert response.status_code == 413
