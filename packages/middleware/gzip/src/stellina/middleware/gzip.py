"""GZip response compression middleware for any ASGI application."""

from __future__ import annotations

__version__ = "0.1.0"

import os
import struct
import threading
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, dataclass, field
from typing import ClassVar

from stellina.asgi import (
    DEFAULT_EXCLUDED_CONTENT_TYPES as DEFAULT_EXCLUDED_CONTENT_TYPES,
)
from stellina.asgi import (
    MediaTypeFilter,
    RawHeaders,
    accept_encoding,
    add_vary,
    encoding_qualities,
    memoise,
    run_in_worker_thread,
    set_header,
)
from stellina.asgi import gzip_compress as _gzip  # tests replace it here
from stellina.types import ASGIApp, Message, Receive, Scope, Send

_ACCEPTS_CACHE: dict[bytes, bool] = {}

#: The default ``thread_minimum_size``: 128 KiB, halved at the slowest levels (7-9).
DEFAULT_THREAD_MINIMUM_SIZE = 128 * 1024
# What the default means by compression level, measured: a thread hop costs about 70 µs and,
# under load, far more, as much as deflating 32 KiB of typical text or JSON even at level 9.
# Below the threshold a body is compressed inline: typical bodies hold the event loop for
# well under a millisecond, the hardest (words without repeats) for about two at level 9.
_THREAD_MINIMUM_BY_LEVEL = (128 * 1024,) * 7 + (64 * 1024,) * 3


def _accepts_gzip(value: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (or ``*``) with a non-zero quality."""
    cached = _ACCEPTS_CACHE.get(value)
    if cached is None:
        qualities = encoding_qualities(value)
        quality = qualities.get(b"gzip", qualities.get(b"*"))
        cached = memoise(_ACCEPTS_CACHE, value, quality is not None and quality > 0.0)
    return cached


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


_CPUS = _usable_cpus()
_PIECE = 256 * 1024  # the least one core deflates of a large body: the split costs ~1%
_WINDOW = 32 * 1024  # deflate's window: what a piece is primed with from the one before
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, no time, OS unknown
_pieces_pool: ThreadPoolExecutor | None = None
_pieces_pool_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _pieces_pool
    with _pieces_pool_lock:
        if _pieces_pool is None:
            _pieces_pool = ThreadPoolExecutor(_CPUS - 1, thread_name_prefix="stellina-gzip")
        return _pieces_pool


def _gzip_large(body: bytes, level: int) -> bytes:
    """``body`` as one gzip member, its pieces deflated side by side on the machine's cores.

    Runs in a worker thread; zlib lets go of the GIL while it deflates. Each piece after
    the first is primed with the 32 KiB before it, so matches reach back across the cut;
    all but the last end with a sync flush and the decoder reads one continuous stream.
    """
    count = min(_CPUS, len(body) // _PIECE)
    if count < 2:
        return _gzip(body, level)
    view = memoryview(body)
    size = -(-len(body) // count)
    starts = range(0, len(body), size)

    def deflate(start: int) -> bytes:
        end = min(start + size, len(body))
        if start:
            primer = bytes(view[start - _WINDOW : start])
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 8, 0, primer)
        else:
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        mode = zlib.Z_FINISH if end == len(body) else zlib.Z_SYNC_FLUSH
        return compressor.compress(view[start:end]) + compressor.flush(mode)

    pool = _pool()
    later = [pool.submit(deflate, start) for start in starts[1:]]
    first = deflate(0)
    trailer = struct.pack("<II", zlib.crc32(body), len(body) & 0xFFFFFFFF)
    return b"".join([_GZIP_HEADER, first, *(piece.result() for piece in later), trailer])


def _leaves_alone(media: MediaTypeFilter, start: Message) -> bool:
    """Whether a response is never compressed: partial, encoded, or of an excluded type."""
    if start.get("status") == 206:
        return True
    content_type = None
    for name, value in start.get("headers", ()):
        if name == b"content-encoding":
            return True
        if name == b"content-type" and content_type is None:
            content_type = value
    return content_type is not None and media.excludes(content_type)


@dataclass(eq=False)
class _Responder:
    """What `GZipResponder` and `IdentityResponder` share: the rules of what to leave alone."""

    app: ASGIApp
    minimum_size: int
    media: MediaTypeFilter = field(init=False, repr=False)

    #: The coding of the responses it compresses.
    content_encoding: ClassVar[str] = "identity"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, _Exchange(self, send).send)


@dataclass(eq=False)
class GZipResponder(_Responder):
    """An ASGI app that gzip-compresses the responses of ``app`` (whatever the client accepts).

    `GZipMiddleware` uses it for clients that accept gzip. Bodies of ``thread_minimum_size``
    bytes or more are compressed in a worker thread, so that large responses do not hold up
    the event loop. The default, 128 KiB, is lowered to 64 KiB at levels 7-9.
    """

    compresslevel: int = 9
    _: KW_ONLY
    thread_minimum_size: int = DEFAULT_THREAD_MINIMUM_SIZE
    exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES

    content_encoding: ClassVar[str] = "gzip"

    def __post_init__(self) -> None:
        self.media = MediaTypeFilter(self.exclude_content_types)
        if self.thread_minimum_size == DEFAULT_THREAD_MINIMUM_SIZE:
            level = max(0, min(self.compresslevel, 9))
            self.thread_minimum_size = _THREAD_MINIMUM_BY_LEVEL[level]


@dataclass(eq=False)
class IdentityResponder(_Responder):
    """An ASGI app that leaves the responses of ``app`` uncompressed.

    It still adds ``Vary: Accept-Encoding`` to the responses that would have been
    compressed for another client.
    """

    _: KW_ONLY
    exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES

    def __post_init__(self) -> None:
        self.media = MediaTypeFilter(self.exclude_content_types)


class _Exchange:
    """One response on its way: the held-back start message and, once streaming, the compressor.

    The start is held until the first body shows whether the response is worth compressing.
    """

    __slots__ = ("compressor", "passthrough", "responder", "start", "target")

    def __init__(self, responder: _Responder, send: Send) -> None:
        self.responder = responder
        self.target = send
        self.start: Message | None = None
        self.passthrough = False
        self.compressor: zlib._Compress | None = None

    async def send(self, message: Message) -> None:
        if self.passthrough:
            await self.target(message)
            return
        kind = message["type"]
        if kind == "http.response.body":
            if self.compressor is not None:
                await self._send_compressed(message)
            elif (start := self.start) is not None:
                self.start = None
                if (
                    message.get("more_body", False)
                    or start.get("trailers", False)
                    or len(message.get("body", b"")) >= self.responder.minimum_size
                ):
                    await self._send_first(start, message)
                else:  # small and complete: sent as it is
                    self.passthrough = True
                    await self.target(start)
                    await self.target(message)
            else:  # a body before any start: not ours to judge
                await self.target(message)
        elif kind == "http.response.start":
            if _leaves_alone(self.responder.media, message):
                self.passthrough = True
                await self.target(message)
            else:
                self.start = message
        elif self.start is None:
            # Early hints and the like, before the response starts: forwarded as they are.
            await self.target(message)
        elif self.compressor is not None:  # trailers after a compressed body
            await self.target(message)
        else:  # pathsend or an extension instead of a body: untouched, after the start
            self.passthrough = True
            start, self.start = self.start, None
            await self.target(start)
            await self.target(message)

    async def _send_first(self, start: Message, message: Message) -> None:
        """Send the held start and the first body of a response worth compressing: streamed,
        or at least ``minimum_size`` bytes."""
        responder = self.responder
        body: bytes = message.get("body", b"")
        streamed = message.get("more_body", False) or start.get("trailers", False)
        headers: RawHeaders = list(start.get("headers", ()))
        add_vary(headers, b"Accept-Encoding")
        start["headers"] = headers
        if not isinstance(responder, GZipResponder):
            self.passthrough = True
        elif streamed:
            self.compressor = zlib.compressobj(responder.compresslevel, zlib.DEFLATED, 31)
            set_header(headers, b"content-encoding", b"gzip")
            headers[:] = [header for header in headers if header[0] != b"content-length"]
            message["body"] = await self._compress(body, message.get("more_body", False))
        else:
            level = responder.compresslevel
            if len(body) >= responder.thread_minimum_size:
                body = await run_in_worker_thread(lambda: _gzip_large(body, level))
            else:
                body = _gzip(body, level)
            set_header(headers, b"content-encoding", b"gzip")
            set_header(headers, b"content-length", str(len(body)).encode())
            message["body"] = body
        await self.target(start)
        await self.target(message)

    async def _send_compressed(self, message: Message) -> None:
        message["body"] = await self._compress(
            message.get("body", b""), message.get("more_body", False)
        )
        await self.target(message)

    async def _compress(self, body: bytes, more_body: bool) -> bytes:
        """The next piece of the gzip stream: ``body``, flushed so the client can read it."""
        compressor = self.compressor
        assert compressor is not None
        if more_body and not body:
            return b""
        mode = zlib.Z_SYNC_FLUSH if more_body else zlib.Z_FINISH
        responder = self.responder
        assert isinstance(responder, GZipResponder)  # only it streams compressed bodies
        if len(body) >= responder.thread_minimum_size:
            return await run_in_worker_thread(
                lambda: compressor.compress(body) + compressor.flush(mode)
            )
        return compressor.compress(body) + compressor.flush(mode)


class GZipMiddleware:
    """Compress responses with gzip for clients that accept it.

    Responses smaller than ``minimum_size``, partial (206), already encoded, or of an
    excluded media type are left alone; ``http.response.pathsend``, early hints and trailers
    pass through. Both responders are built once, here; a request only picks one.
    """

    __slots__ = (
        "_gzip",
        "_identity",
        "app",
        "compresslevel",
        "exclude_content_types",
        "minimum_size",
        "thread_minimum_size",
    )

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = DEFAULT_THREAD_MINIMUM_SIZE,
        *,
        exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.exclude_content_types = tuple(exclude_content_types)
        self._gzip = GZipResponder(
            app,
            minimum_size,
            compresslevel,
            exclude_content_types=self.exclude_content_types,
            thread_minimum_size=thread_minimum_size,
        )
        self.thread_minimum_size = self._gzip.thread_minimum_size
        self._identity = IdentityResponder(
            app, minimum_size, exclude_content_types=self.exclude_content_types
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepted = accept_encoding(scope["headers"])
        responder = self._gzip if accepted and _accepts_gzip(accepted) else self._identity
        await responder.app(scope, receive, _Exchange(responder, send).send)
