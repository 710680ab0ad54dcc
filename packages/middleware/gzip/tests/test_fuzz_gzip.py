"""Property tests of GZipMiddleware: any Accept-Encoding and any response (any content type,
body and chunking) give the same bytes back, compressed or not, with a consistent length."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, header_text, split_at
from stellina_testing import http_scope

from stellina.datastructures import Headers
from stellina.middleware.gzip import GZipMiddleware
from stellina.types import ASGIApp, Receive, Scope, Send

pytestmark = pytest.mark.fuzz

accepts = st.sampled_from(
    ("gzip", "GZIP", "gzip;q=0", "br, gzip;q=0.5", "identity", "*", "x-gzip", "gzip, deflate")
) | header_text(30)
bodies = st.binary(max_size=3000) | st.integers(0, 3000).map(lambda n: b"ab" * n)
content_types = st.sampled_from(
    (None, b"text/plain", b"text/event-stream", b"application/json", b"image/png", b"TEXT/HTML;x")
)


def _responder(chunks: list[bytes], content_type: bytes | None, length: bool) -> ASGIApp:
    headers = [] if content_type is None else [(b"content-type", content_type)]
    if length:
        headers.append((b"content-length", b"%d" % sum(map(len, chunks))))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


@BACKEND_SETTINGS
@given(
    accept=accepts,
    body=bodies,
    data=st.data(),
    content_type=content_types,
    length=st.booleans(),
    minimum_size=st.sampled_from((0, 500)),
)
def test_any_response_comes_back_whole(
    anyio_backend: str,
    accept: str,
    body: bytes,
    data: st.DataObject,
    content_type: bytes | None,
    length: bool,
    minimum_size: int,
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=5))
    chunks = split_at(body, cuts) if body else [b""]
    app = GZipMiddleware(_responder(chunks, content_type, length), minimum_size=minimum_size)
    scope = http_scope(headers=[(b"accept-encoding", accept.encode("latin-1"))])
    recorder = call(app, scope, [b""], anyio_backend)
    assert recorder.status == 200
    headers = Headers(raw=recorder.headers)
    sent = recorder.body
    if headers.get("content-encoding") == "gzip":
        assert "gzip" in accept.lower() or "*" in accept
        sent = gzip.decompress(sent)
    assert sent == body
    if "content-length" in headers:
        assert int(headers["content-length"]) == len(recorder.body)
