"""GZip response compression middleware for any ASGI application."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

#: Media types left uncompressed by default: already compressed, or read as they stream.
DEFAULT_EXCLUDED_CONTENT_TYPES = (
    "application/grpc",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "audio/*",
    "font/woff",
    "font/woff2",
    "image/avif",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/event-stream",
    "video/*",
)
_GZIP_WBITS = 31  # zlib's gzip container
_ACCEPTS_CACHE: dict[bytes, bool] = {}
_CACHE_SIZE = 256


def _parse_accepts_gzip(value: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip with a non-zero quality."""
    gzip_q: float | None = None
    star_q: float | None = None
    for item in value.split(b","):
        coding, _, params = item.partition(b";")
        coding = coding.strip().lower()
        if coding not in (b"gzip", b"x-gzip", b"*"):
            continue
        quality = 1.0
        for param in params.split(b";"):
            key, _, raw = param.partition(b"=")
            if key.strip().lower() == b"q":
                try:
                    quality = float(raw.strip())
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:  # also rejects NaN
                    quality = 0.0
        if coding == b"*":
            star_q = quality if star_q is None else max(star_q, quality)
        else:
            gzip_q = quality if gzip_q is None else max(gzip_q, quality)
    if gzip_q is None:
        gzip_q = star_q
    return gzip_q is not None and gzip_q > 0.0


def _accepts_gzip(value: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (short values are memoised)."""
    cached = _ACCEPTS_CACHE.get(value)
    if cached is None:
        cached = _parse_accepts_gzip(value)
        if len(value) <= 200:
            if len(_ACCEPTS_CACHE) >= _CACHE_SIZE:
                _ACCEPTS_CACHE.clear()
            _ACCEPTS_CACHE[value] = cached
    return cached


async def _run_off_loop(func: Callable[[], bytes]) -> bytes:
    """Run ``func`` in a worker thread of whichever event loop is running."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        import trio

        return await trio.to_thread.run_sync(func)
    return await loop.run_in_executor(None, func)


def _compress_whole(body: bytes, level: int) -> bytes:
    return zlib.compress(body, level, _GZIP_WBITS)


def _set_header(headers: Headers, name: bytes, value: bytes) -> None:
    """Replace every ``name`` header (names are lowercase in ASGI) by one with ``value``."""
    found = -1
    for index in range(len(headers) - 1, -1, -1):
        if headers[index][0] == name:
            if found != -1:
                del headers[found]
            found = index
    if found == -1:
        headers.append((name, value))
    else:
        headers[found] = (name, value)


def _add_vary_accept_encoding(headers: Headers) -> None:
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            if b"accept-encoding" not in [part.strip().lower() for part in value.split(b",")]:
                headers[index] = (name, value + b", Accept-Encoding")
            return
    headers.append((b"vary", b"Accept-Encoding"))


class GZipMiddleware:
    """Compress responses with gzip for clients that accept it.

    Responses smaller than ``minimum_size``, partial (206), already encoded, or of an excluded
    media type are left alone (``"type/*"`` excludes a whole type); ``http.response.pathsend``
    and trailers pass through. Bodies of ``thread_minimum_size`` bytes or more are compressed
    in a worker thread.
    """

    __slots__ = (
        "_excluded_exact",
        "_excluded_grpc",
        "_excluded_main",
        "_media_cache",
        "app",
        "compresslevel",
        "minimum_size",
        "thread_minimum_size",
    )

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 128 * 1024,
        *,
        exclude_content_types: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.thread_minimum_size = thread_minimum_size
        media_types = [item.partition(";")[0].strip().lower() for item in exclude_content_types]
        self._excluded_main = frozenset(m[:-2] for m in media_types if m.endswith("/*"))
        self._excluded_exact = frozenset(m for m in media_types if not m.endswith("/*"))
        # gRPC variants are named application/grpc+proto, application/grpc+json, ...
        self._excluded_grpc = "application/grpc" in self._excluded_exact
        self._media_cache: dict[bytes, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepted = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accepted = value if not accepted else accepted + b"," + value
        responder = _Responder(self, send, bool(accepted) and _accepts_gzip(accepted))
        await self.app(scope, receive, responder.send)

    def is_excluded_media_type(self, content_type: bytes) -> bool:
        """Whether a response with this ``Content-Type`` value is left uncompressed."""
        excluded = self._media_cache.get(content_type)
        if excluded is None:
            media = content_type.partition(b";")[0].strip().lower().decode("latin-1")
            excluded = (
                media in self._excluded_exact
                or media.partition("/")[0] in self._excluded_main
                or (self._excluded_grpc and media.startswith("application/grpc+"))
            )
            if len(content_type) <= 200:
                if len(self._media_cache) >= _CACHE_SIZE:
                    self._media_cache.clear()
                self._media_cache[content_type] = excluded
        return excluded


class _Responder:
    """The per-response state: the held-back start message and the compressor."""

    __slots__ = ("compress", "compressor", "middleware", "passthrough", "start", "target")

    def __init__(self, middleware: GZipMiddleware, send: Send, compress: bool) -> None:
        self.target = send
        self.compress = compress
        self.middleware = middleware
        self.start: Message | None = None
        self.passthrough = False
        self.compressor: zlib._Compress | None = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self.passthrough:
            await self.target(message)
        elif kind == "http.response.start":
            if self._excluded(message):
                self.passthrough = True
                await self.target(message)
            else:
                self.start = message
        elif kind == "http.response.body":
            start = self.start
            if start is None:
                await self._send_chunk(message)
            elif (
                message.get("more_body", False)
                or len(message.get("body", b"")) >= self.middleware.minimum_size
            ):
                await self._send_first(message, start)
            else:  # a small, complete body: sent as it is
                self.start = None
                self.passthrough = True
                await self.target(start)
                await self.target(message)
        else:
            # pathsend, trailers, extensions: untouched, after the held-back start.
            self.passthrough = True
            if self.start is not None:
                await self.target(self.start)
                self.start = None
            await self.target(message)

    def _excluded(self, message: Message) -> bool:
        if message.get("status") == 206:
            return True
        content_type = None
        for name, value in message.get("headers", ()):
            if name == b"content-encoding":
                return True
            if name == b"content-type" and content_type is None:
                content_type = value
        return content_type is not None and self.middleware.is_excluded_media_type(content_type)

    async def _send_first(self, message: Message, start: Message) -> None:
        """Send the held start and the first body of a streamed or large enough response."""
        self.start = None
        middleware = self.middleware
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        headers = list(start.get("headers", ()))
        _add_vary_accept_encoding(headers)
        start["headers"] = headers
        if not self.compress:
            self.passthrough = True
        elif not more_body:
            level = middleware.compresslevel
            if len(body) >= middleware.thread_minimum_size:
                body = await _run_off_loop(lambda: _compress_whole(body, level))
            else:
                body = _compress_whole(body, level)
            _set_header(headers, b"content-encoding", b"gzip")
            _set_header(headers, b"content-length", str(len(body)).encode())
            message["body"] = body
        else:
            self.compressor = zlib.compressobj(middleware.compresslevel, zlib.DEFLATED, _GZIP_WBITS)
            _set_header(headers, b"content-encoding", b"gzip")
            headers[:] = [header for header in headers if header[0] != b"content-length"]
            message["body"] = await self._compress_chunk(body, more_body=True)
        await self.target(start)
        await self.target(message)

    async def _send_chunk(self, message: Message) -> None:
        if self.compressor is not None:
            more_body = message.get("more_body", False)
            message["body"] = await self._compress_chunk(message.get("body", b""), more_body)
        await self.target(message)

    async def _compress_chunk(self, body: bytes, more_body: bool) -> bytes:
        compressor = self.compressor
        assert compressor is not None
        mode = zlib.Z_SYNC_FLUSH if more_body else zlib.Z_FINISH
        if more_body and not body:
            return b""
        if len(body) >= self.middleware.thread_minimum_size:
            return await _run_off_loop(lambda: compressor.compress(body) + compressor.flush(mode))
        return compressor.compress(body) + compressor.flush(mode)
