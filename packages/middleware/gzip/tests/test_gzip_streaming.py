"""GZip on streamed bodies, pass-through messages, and off-loop compression of large bodies."""

from __future__ import annotations

import json
import random
import threading
import zlib

import anyio
import pytest
import stellina_testing
from stellina_testing import Recorder

import stellina.middleware.gzip as gzip_module
from stellina.middleware.gzip import GZipMiddleware
from stellina.types import ASGIApp, Message, Receive, Scope, Send


def http_scope(accept: bytes = b"gzip") -> Scope:
    return stellina_testing.http_scope(headers=[(b"accept-encoding", accept)])


async def call(app: ASGIApp, scope: Scope) -> list[Message]:
    return await Recorder.with_body(b"").run(app, scope)


def streaming_app(chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


@pytest.mark.anyio
async def test_stream_is_compressed_and_flushed_chunk_by_chunk() -> None:
    chunks = [b"first chunk " * 10, b"", b"second chunk " * 10, b"last"]
    app = streaming_app(chunks, [(b"content-length", b"999"), (b"content-type", b"text/plain")])
    sent = await call(GZipMiddleware(app, minimum_size=1), http_scope())
    headers = dict(sent[0]["headers"])
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"vary"] == b"Accept-Encoding"
    assert b"content-length" not in headers
    decoder = zlib.decompressobj(31)
    for message, chunk in zip(sent[1:], chunks, strict=True):
        # every chunk is decodable as soon as it arrives
        assert decoder.decompress(message["body"]) == chunk
    assert sent[-1]["more_body"] is False
    assert decoder.eof


@pytest.mark.anyio
async def test_stream_for_a_client_without_gzip_keeps_its_length() -> None:
    app = streaming_app([b"a" * 10, b"b" * 10], [(b"content-length", b"20")])
    sent = await call(GZipMiddleware(app), http_scope(b"identity"))
    assert sent[0]["headers"] == [(b"content-length", b"20"), (b"vary", b"Accept-Encoding")]
    assert [message["body"] for message in sent[1:]] == [b"a" * 10, b"b" * 10]


@pytest.mark.anyio
async def test_pathsend_and_trailers_pass_through() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        if scope["path"] == "/file":
            await send({"type": "http.response.pathsend", "path": "/srv/file.txt"})
            return
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    scope = http_scope()
    scope["path"] = "/file"
    sent = await call(GZipMiddleware(app), scope)
    assert [message["type"] for message in sent] == [
        "http.response.start",
        "http.response.pathsend",
    ]
    assert sent[0]["headers"] == []
    sent = await call(GZipMiddleware(app), http_scope())
    assert sent[1] == {"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]}


@pytest.mark.anyio
async def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    await call(GZipMiddleware(app), {"type": "websocket", "headers": []})
    await call(GZipMiddleware(app), {"type": "lifespan"})
    assert seen == ["websocket", "lifespan"]


@pytest.mark.anyio
async def test_large_streamed_chunks_are_compressed_off_loop() -> None:
    big = json.dumps(list(range(128 * 1024 // 4))).encode()
    app = streaming_app([big, big], [])
    sent = await call(GZipMiddleware(app, compresslevel=1), http_scope())
    assert zlib.decompress(b"".join(message["body"] for message in sent[1:]), 31) == big + big


@pytest.mark.anyio
async def test_a_tiny_request_does_not_wait_for_a_big_compression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big_body = json.dumps([{"id": index, "name": "x" * 20} for index in range(250_000)]).encode()
    assert len(big_body) >= 10 * 1024 * 1024
    events: list[str] = []
    tiny_done = threading.Event()
    compress = gzip_module._gzip_large

    def compress_after_tiny(body: bytes, level: int) -> bytes:
        if len(body) >= 10 * 1024 * 1024:
            # On the event loop this would stall everything until the timeout.
            tiny_done.wait(timeout=10)
            events.append("big compressed")
        return compress(body, level)

    monkeypatch.setattr(gzip_module, "_gzip_large", compress_after_tiny)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = big_body if scope["path"] == "/big" else b"tiny" * 200
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    middleware = GZipMiddleware(app, compresslevel=1)
    results: dict[str, list[Message]] = {}

    async def request(path: str) -> None:
        scope = http_scope()
        scope["path"] = path
        results[path] = await call(middleware, scope)
        events.append(f"{path} done")
        if path == "/tiny":
            tiny_done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(request, "/big")
        await anyio.sleep(0)
        group.start_soon(request, "/tiny")

    assert events == ["/tiny done", "big compressed", "/big done"]
    assert zlib.decompress(results["/big"][1]["body"], 31) == big_body
    assert zlib.decompress(results["/tiny"][1]["body"], 31) == b"tiny" * 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("size", "threshold", "off_loop"),
    [
        (70_000, None, True),  # level 9 by default: slow per byte, so a lower default threshold
        (60_000, None, False),
        (200_000, 10**9, False),
        (600, 500, True),
    ],
)
async def test_thread_minimum_size(
    monkeypatch: pytest.MonkeyPatch, size: int, threshold: int | None, off_loop: bool
) -> None:
    threads: list[int] = []
    compress = gzip_module._gzip

    def recording(body: bytes, level: int) -> bytes:
        threads.append(threading.get_ident())
        return compress(body, level)

    monkeypatch.setattr(gzip_module, "_gzip", recording)
    app = streaming_app([b"x" * size], [])
    if threshold is None:
        middleware = GZipMiddleware(app)
    else:
        middleware = GZipMiddleware(app, thread_minimum_size=threshold)
    sent = await call(middleware, http_scope())
    assert zlib.decompress(sent[1]["body"], 31) == b"x" * size
    assert (threads != [threading.get_ident()]) is off_loop


@pytest.mark.parametrize(
    ("level", "small", "large"), [(1, 100_000, 140_000), (6, 100_000, 140_000), (9, 60_000, 70_000)]
)
def test_default_thread_threshold_follows_the_level(level: int, small: int, large: int) -> None:
    threshold = GZipMiddleware(streaming_app([], []), compresslevel=level).thread_minimum_size
    assert small < threshold <= large


@pytest.mark.anyio
async def test_early_hints_before_the_start_do_not_stop_compression() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hint " * 200})

    sent = await call(GZipMiddleware(app), http_scope())
    assert [message["type"] for message in sent] == [
        "http.response.early_hint",
        "http.response.start",
        "http.response.body",
    ]
    assert zlib.decompress(sent[2]["body"], 31) == b"hint " * 200


@pytest.mark.anyio
async def test_trailers_make_a_complete_body_a_stream() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": [], "trailers": True}
        await send(start)
        await send({"type": "http.response.body", "body": b"t" * 4000})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    sent = await call(GZipMiddleware(app), http_scope())
    headers = dict(sent[0]["headers"])
    assert headers[b"content-encoding"] == b"gzip"
    assert b"content-length" not in headers
    assert zlib.decompress(sent[1]["body"], 31) == b"t" * 4000
    assert sent[2]["type"] == "http.response.trailers"


@pytest.mark.anyio
@pytest.mark.parametrize("size", [0, 1, 511, 4096, 70_000])
async def test_small_windows_still_make_valid_gzip(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    assert zlib.decompress(gzip_module._gzip(body, 6), 31) == body


@pytest.mark.parametrize("cpus", [1, 2, 3, 8])
@pytest.mark.parametrize("size", [300_000, 1_000_003, 2 * 1024 * 1024])
@pytest.mark.parametrize("kind", ["json", "random"])
def test_large_bodies_deflated_in_pieces_are_one_gzip_member(
    monkeypatch: pytest.MonkeyPatch, cpus: int, size: int, kind: str
) -> None:
    monkeypatch.setattr(gzip_module, "_CPUS", cpus)
    if kind == "json":
        data = b"".join(b'{"id":%d,"tag":"%s"},' % (i, b"x" * (i % 7)) for i in range(size // 9))
        data = data[:size]
    else:
        data = random.Random(size).randbytes(size)
    out = gzip_module._gzip_large(data, 1)
    decoder = zlib.decompressobj(31)
    assert decoder.decompress(out) == data
    assert decoder.eof
    assert decoder.unused_data == b""
    if kind == "json":  # cutting the body into primed pieces costs next to nothing
        assert len(out) <= len(zlib.compress(data, 1, 31)) * 1.01


@pytest.mark.anyio
async def test_a_large_body_through_the_middleware(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gzip_module, "_CPUS", 4)
    body = json.dumps(list(range(300_000))).encode()
    sent = await call(GZipMiddleware(streaming_app([body], []), compresslevel=6), http_scope())
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(sent[1]["body"])).encode()
    assert zlib.decompress(sent[1]["body"], 31) == body
