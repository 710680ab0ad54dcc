"""Each codec's output decodes to the body: whole, streamed chunk by chunk, and off the loop."""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable
from typing import Any

import anyio
import brotli
import pytest
import stellina_testing
from backports import zstd
from stellina_testing import Recorder

import stellina.middleware.compress as compress_module
from stellina.asgi import get_header
from stellina.middleware.compress import CompressMiddleware
from stellina.types import ASGIApp, Message, Receive, Scope, Send

CODINGS = ["zstd", "br", "gzip"]


class Decoder:
    """Decodes one response body of a coding piece by piece, as a client does."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "gzip":
            self._gzip = zlib.decompressobj(31)
        elif coding == "br":
            self._brotli = brotli.Decompressor()
        else:
            parameters = {zstd.DecompressionParameter.window_log_max: 23}  # 8 MiB, as browsers
            self._zstd = zstd.ZstdDecompressor(options=parameters)

    def feed(self, data: bytes) -> bytes:
        """Everything ``data`` makes decodable."""
        if self.coding == "gzip":
            return self._gzip.decompress(data)
        if self.coding == "br":
            out: bytes = self._brotli.process(data)
            return out
        return self._zstd.decompress(data)

    @property
    def finished(self) -> bool:
        if self.coding == "gzip":
            return self._gzip.eof and not self._gzip.unused_data
        if self.coding == "br":
            return bool(self._brotli.is_finished())
        return self._zstd.eof and not self._zstd.unused_data


def decode(coding: str, data: bytes) -> bytes:
    decoder = Decoder(coding)
    out = decoder.feed(data)
    assert decoder.finished
    return out


def http_scope(accept: bytes, path: str = "/") -> Scope:
    return stellina_testing.http_scope(path=path, headers=[(b"accept-encoding", accept)])


def one_body_app(body: bytes | memoryview, content_type: bytes = b"application/json") -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def streaming_app(chunks: list[bytes], trailers: bool = False) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": [], "trailers": trailers}
        await send(start)
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
        if trailers:
            await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    return app


def json_body(size: int) -> bytes:
    records = [
        {"id": index, "name": f"user-{index * 7919 % 100003}"} for index in range(size // 20)
    ]
    return json.dumps(records).encode()[:size]


async def call(middleware: ASGIApp, scope: Scope) -> Recorder:
    recorder = Recorder()
    await recorder.run(middleware, scope)
    return recorder


@pytest.mark.anyio
@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("size", [500, 1024, 32 * 1024, 300 * 1024, 1536 * 1024])
async def test_one_body_round_trips(coding: str, size: int) -> None:
    body = json_body(size)
    recorder = await call(CompressMiddleware(one_body_app(body)), http_scope(coding.encode()))
    assert get_header(recorder.headers, b"content-encoding") == coding.encode()
    assert get_header(recorder.headers, b"content-length") == b"%d" % len(recorder.body)
    assert len(recorder.body) < len(body)
    assert decode(coding, recorder.body) == body


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("coding", "options"),
    [
        ("zstd", {"zstd_level": 1}),
        ("zstd", {"zstd_level": -5}),
        ("zstd", {"zstd_level": 0}),
        ("zstd", {"zstd_level": 19}),
        ("zstd", {"zstd_level": 22}),  # still decodable with an 8 MiB window
        ("br", {"brotli_quality": 0}),
        ("br", {"brotli_quality": 11}),
        ("gzip", {"gzip_level": 1}),
        ("gzip", {"gzip_level": 9}),
        ("gzip", {"gzip_level": -1}),
    ],
)
async def test_levels(coding: str, options: dict[str, Any]) -> None:
    body = json_body(16 * 1024)
    middleware = CompressMiddleware(one_body_app(body), **options)
    recorder = await call(middleware, http_scope(coding.encode()))
    assert decode(coding, recorder.body) == body
    # A stream's size is unknown: its frame states the window the level asks for.
    middleware = CompressMiddleware(streaming_app([body, body]), **options)
    recorder = await call(middleware, http_scope(coding.encode()))
    assert decode(coding, recorder.body) == body + body


@pytest.mark.anyio
@pytest.mark.parametrize("coding", CODINGS)
async def test_bodies_one_after_another_each_decode(coding: str) -> None:
    """The codecs keep state (zstd reuses a compressor): no body leaks into the next."""
    bodies = [json_body(600 + index * 7000) for index in range(6)]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": bodies[int(scope["path"][1:])]})

    middleware = CompressMiddleware(app, thread_minimum_size=20_000)
    for index, body in enumerate(bodies * 2):
        recorder = await call(middleware, http_scope(coding.encode(), f"/{index % len(bodies)}"))
        assert decode(coding, recorder.body) == body


@pytest.mark.anyio
@pytest.mark.parametrize("coding", CODINGS)
async def test_memoryview_bodies(coding: str) -> None:
    body = json_body(4096)
    app = one_body_app(memoryview(body))
    recorder = await call(CompressMiddleware(app), http_scope(coding.encode()))
    assert decode(coding, recorder.body) == body


@pytest.mark.anyio
@pytest.mark.parametrize("coding", CODINGS)
async def test_stream_is_flushed_chunk_by_chunk(coding: str) -> None:
    chunks = [b"first chunk " * 10, b"", b"event: tick\ndata: 1\n\n", b"last" * 300]
    recorder = await call(CompressMiddleware(streaming_app(chunks)), http_scope(coding.encode()))
    headers = dict(recorder.headers)
    assert headers[b"content-encoding"] == coding.encode()
    assert headers[b"vary"] == b"Accept-Encoding"
    assert b"content-length" not in headers
    decoder = Decoder(coding)
    bodies = recorder.sent[1:]
    for message, chunk in zip(bodies, chunks, strict=True):
        assert decoder.feed(message["body"]) == chunk  # decodable as soon as it arrives
    assert [message["more_body"] for message in bodies] == [True, True, True, False]
    assert decoder.finished


@pytest.mark.anyio
@pytest.mark.parametrize("coding", CODINGS)
async def test_stream_delivered_while_the_app_is_still_producing(coding: str) -> None:
    """The client reads each event before the app has produced the next one."""
    read: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(3):
            tick = b"tick %d\n" % index
            await send({"type": "http.response.body", "body": tick, "more_body": True})
            assert read[-1] == tick  # the client has it already
        await send({"type": "http.response.body", "body": b""})

    decoder = Decoder(coding)

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            read.append(decoder.feed(message["body"]))

    await CompressMiddleware(app)(http_scope(coding.encode()), Recorder().receive, send)
    assert read == [b"tick 0\n", b"tick 1\n", b"tick 2\n", b""]  # the end carries no data
    assert decoder.finished


@pytest.mark.anyio
@pytest.mark.parametrize("coding", CODINGS)
async def test_trailers_make_one_body_a_stream(coding: str) -> None:
    body = b"t" * 4000
    app = streaming_app([body], trailers=True)
    recorder = await call(CompressMiddleware(app), http_scope(coding.encode()))
    headers = dict(recorder.headers)
    assert headers[b"content-encoding"] == coding.encode()
    assert b"content-length" not in headers
    assert decode(coding, recorder.sent[1]["body"]) == body
    assert recorder.sent[2] == {"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]}


def recording_hops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the thread each worker-thread job runs in."""
    threads: list[int] = []
    hop = compress_module.run_in_worker_thread

    async def recording(func: Callable[[], Any]) -> Any:
        def job() -> Any:
            threads.append(threading.get_ident())
            return func()

        return await hop(job)

    monkeypatch.setattr(compress_module, "run_in_worker_thread", recording)
    return threads


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("coding", "size", "off_loop"),
    [
        ("zstd", 440_000, False),  # zstd 3: 438 KiB
        ("zstd", 450_000, True),
        ("br", 127_000, False),  # brotli 4: 125 KiB
        ("br", 129_000, True),
        ("gzip", 68_000, False),  # gzip 6: 67 KiB
        ("gzip", 69_000, True),
    ],
)
async def test_measured_thread_thresholds(
    monkeypatch: pytest.MonkeyPatch, coding: str, size: int, off_loop: bool
) -> None:
    threads = recording_hops(monkeypatch)
    body = json_body(size)
    for app in (one_body_app(body), streaming_app([body, body])):
        recorder = await call(CompressMiddleware(app), http_scope(coding.encode()))
        assert decode(coding, recorder.body)[:size] == body
    assert bool(threads) is off_loop
    assert threading.get_ident() not in threads


@pytest.mark.parametrize(
    ("options", "thresholds"),
    [
        ({"zstd_level": 19, "brotli_quality": 11, "gzip_level": 9}, [2048, 1024, 6144]),
        (
            {"zstd_level": 1, "brotli_quality": 0, "gzip_level": 1},
            [443392, 542720, 196608],
        ),
        ({"thread_minimum_size": 5000}, [5000, 5000, 5000]),
    ],
)
def test_thresholds_follow_the_level(options: dict[str, int], thresholds: list[int]) -> None:
    middleware = CompressMiddleware(one_body_app(b""), **options)
    assert [codec.thread_minimum_size for codec in middleware._codecs] == thresholds


@pytest.mark.anyio
@pytest.mark.parametrize("coding", CODINGS)
async def test_thread_minimum_size_option(monkeypatch: pytest.MonkeyPatch, coding: str) -> None:
    threads = recording_hops(monkeypatch)
    body = json_body(2000)
    middleware = CompressMiddleware(streaming_app([body, body]), thread_minimum_size=1000)
    recorder = await call(middleware, http_scope(coding.encode()))
    assert decode(coding, recorder.body) == body + body
    assert len(threads) == 2
    middleware = CompressMiddleware(one_body_app(body), thread_minimum_size=10**9)
    recorder = await call(middleware, http_scope(coding.encode()))
    assert decode(coding, recorder.body) == body
    assert len(threads) == 2


BIG = 2 * 1024 * 1024


@pytest.mark.anyio
@pytest.mark.parametrize("coding", CODINGS)
async def test_a_tiny_request_does_not_wait_for_a_big_compression(
    monkeypatch: pytest.MonkeyPatch, coding: str
) -> None:
    big_body = json_body(BIG)
    events: list[str] = []
    tiny_done = threading.Event()
    codec_class = compress_module._CODECS[coding]
    compress: Callable[[Any, bytes], bytes] = codec_class.compress

    def compress_after_tiny(self: Any, body: bytes) -> bytes:
        if len(body) >= BIG:
            tiny_done.wait(timeout=10)  # on the event loop this would stall the tiny request
            events.append("big compressed")
        return compress(self, body)

    monkeypatch.setattr(codec_class, "compress", compress_after_tiny)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = big_body if scope["path"] == "/big" else b"tiny" * 200
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    middleware = CompressMiddleware(app, zstd_level=1, brotli_quality=0, gzip_level=1)
    results: dict[str, Recorder] = {}

    async def request(path: str) -> None:
        results[path] = await call(middleware, http_scope(coding.encode(), path))
        events.append(f"{path} done")
        if path == "/tiny":
            tiny_done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(request, "/big")
        await anyio.sleep(0)
        group.start_soon(request, "/tiny")

    assert events == ["/tiny done", "big compressed", "/big done"]
    assert decode(coding, results["/big"].body) == big_body
    assert decode(coding, results["/tiny"].body) == b"tiny" * 200
