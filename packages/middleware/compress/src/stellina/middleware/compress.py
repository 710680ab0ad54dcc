"""Response compression with zstd, brotli or gzip, negotiated from Accept-Encoding."""

__version__ = "0.1.0"

import importlib
import sys
import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from stellina.asgi import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    MediaTypeFilter,
    RawHeaders,
    accept_encoding,
    add_vary,
    declared_length,
    encoding_qualities,
    gzip_compress,
    memoise,
    route_path,
    run_in_worker_thread,
)
from stellina.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_EXCLUDED_CONTENT_TYPES", "ENCODINGS", "CompressMiddleware", "__version__"]

#: Every coding the middleware speaks, in its order of preference.
ENCODINGS = ("zstd", "br", "gzip")

# Off-loop thresholds, measured: the one-shot call of each codec at each level
# (zlib.compress, brotli.compress, zstd.compress) timed with time.perf_counter, median of 7
# runs, on 128 KiB and 1 MiB of typical JSON (the records of the benchmarks' json_body), one
# core of the 2-core reference machine; the tables hold the lower throughput of the two, in
# MB/s. A body is compressed in a worker thread when compressing it inline would hold the
# event loop for more than 1 ms (the size rounded down to whole KiB, between 1 KiB and
# 1 MiB); GZipMiddleware's default at level 6, 128 KiB, holds it about 1.8 ms on the same
# JSON. Below the threshold a body is compressed inline:
# a thread hop costs about 35 µs on asyncio and 60 µs on trio (timed the same way around an
# empty function), and far more on a busy machine: in the benchmarks a 32 KiB brotli body
# of text took about three times as long through a worker thread as inline.
_GZIP_MB_S = (2000, 197, 143, 111, 104, 67, 69, 31, 8, 7)  # levels 0-9
_BROTLI_MB_S = (543, 146, 123, 108, 129, 70, 57, 24, 36, 12, 1.1, 0.5)  # qualities 0-11
_ZSTD_MB_S = (  # levels 1-22
    *(444, 471, 449, 393, 174, 135, 107, 85, 67, 50, 38),
    *(18, 17, 8, 5.6, 4.2, 3.1, 1.6, 2.2, 1.6, 1.1, 0.8),
)
_LOOP_BUDGET_S = 0.001

_NO_BODY_STATUSES = frozenset({204, 205, 304})
_INSTALL_HINT = 'pip install "stellina-compress[{extra}]"'


def _thread_minimum(mb_per_s: float) -> int:
    """The body size from which a codec this fast compresses in a worker thread."""
    inline = int(mb_per_s * 1e6 * _LOOP_BUDGET_S) // 1024 * 1024
    return min(1 << 20, max(1 << 10, inline))


# --- codecs ------------------------------------------------------------------------------


class _Stream(ABC):
    """One streamed body's compressor: each piece comes out flushed, decodable on arrival."""

    __slots__ = ()

    @abstractmethod
    def flush(self, data: bytes) -> bytes:
        """``data`` compressed, with everything so far flushed to the output."""

    @abstractmethod
    def finish(self, data: bytes) -> bytes:
        """``data`` compressed, and the end of the stream."""


class _Codec(ABC):
    """A content coding at one level: one-shot compression and streams."""

    __slots__ = ("level", "thread_minimum_size")

    #: The content-coding token, as in ``Content-Encoding``.
    token: ClassVar[bytes]
    #: The name of the extra that installs its library ("" for none).
    extra: ClassVar[str] = ""

    def __init__(self, level: int) -> None:
        self.level = level
        self.thread_minimum_size = _thread_minimum(self.speed(level))

    @staticmethod
    @abstractmethod
    def speed(level: int) -> float:
        """The measured throughput at ``level``, in MB/s."""

    @abstractmethod
    def compress(self, body: bytes) -> bytes:
        """``body`` compressed whole."""

    @abstractmethod
    def stream(self) -> _Stream:
        """A compressor for a body sent in pieces."""


class _GzipStream(_Stream):
    __slots__ = ("_deflate",)

    def __init__(self, level: int) -> None:
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, 31)

    def flush(self, data: bytes) -> bytes:
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, data: bytes) -> bytes:
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_FINISH)


class _GzipCodec(_Codec):
    __slots__ = ()
    token = b"gzip"

    def __init__(self, level: int) -> None:
        if not -1 <= level <= 9:
            raise ValueError(f"gzip_level must be between -1 and 9, not {level}")
        super().__init__(6 if level == -1 else level)

    @staticmethod
    def speed(level: int) -> float:
        return _GZIP_MB_S[level]

    def compress(self, body: bytes) -> bytes:
        return gzip_compress(body, self.level)

    def stream(self) -> _Stream:
        return _GzipStream(self.level)


class _BrotliStream(_Stream):
    __slots__ = ("_compressor",)

    def __init__(self, compressor: Any) -> None:
        self._compressor = compressor

    def flush(self, data: bytes) -> bytes:
        out: bytes = self._compressor.process(data) + self._compressor.flush()
        return out

    def finish(self, data: bytes) -> bytes:
        out: bytes = self._compressor.process(data) + self._compressor.finish()
        return out


class _BrotliCodec(_Codec):
    __slots__ = ("_brotli",)
    token = b"br"
    extra = "brotli"

    def __init__(self, level: int) -> None:
        if not 0 <= level <= 11:
            raise ValueError(f"brotli_quality must be between 0 and 11, not {level}")
        self._brotli = importlib.import_module("brotli")
        super().__init__(level)

    @staticmethod
    def speed(level: int) -> float:
        return _BROTLI_MB_S[level]

    def compress(self, body: bytes) -> bytes:
        out: bytes = self._brotli.compress(body, quality=self.level)
        return out

    def stream(self) -> _Stream:
        return _BrotliStream(self._brotli.Compressor(quality=self.level))


_ZSTD_MODULE = "compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd"


class _ZstdStream(_Stream):
    __slots__ = ("_compressor", "_zstd")

    def __init__(self, zstd: Any, compressor: Any) -> None:
        self._zstd = zstd
        self._compressor = compressor

    def flush(self, data: bytes) -> bytes:
        out: bytes = self._compressor.compress(data, self._zstd.ZstdCompressor.FLUSH_BLOCK)
        return out

    def finish(self, data: bytes) -> bytes:
        out: bytes = self._compressor.compress(data, self._zstd.ZstdCompressor.FLUSH_FRAME)
        return out


class _ZstdCodec(_Codec):
    """zstd, its window capped at 8 MiB (RFC 9659: what browsers decode).

    Bodies compressed inline reuse one compressor per thread: setting one up costs more
    than compressing a 1 KiB body.
    """

    __slots__ = ("_local", "_options", "_zstd")
    token = b"zstd"
    extra = "zstd"

    def __init__(self, level: int) -> None:
        self._zstd = zstd = importlib.import_module(_ZSTD_MODULE)
        parameter = zstd.CompressionParameter
        low, high = parameter.compression_level.bounds()
        if not low <= level <= high:
            raise ValueError(f"zstd_level must be between {low} and {high}, not {level}")
        self._options = {parameter.compression_level: level}
        if level > 19:  # these levels ask for windows of 32 MiB and more
            self._options[parameter.window_log] = 23
        self._local = threading.local()
        super().__init__(level)

    @staticmethod
    def speed(level: int) -> float:
        return _ZSTD_MB_S[(level if level > 0 else 3 if level == 0 else 1) - 1]

    def compress(self, body: bytes) -> bytes:
        # One call that ends the frame: the frame header records the body's size.
        if len(body) >= self.thread_minimum_size:  # in a worker thread: nothing kept
            out: bytes = self._zstd.compress(body, options=self._options)
            return out
        compressor = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = self._zstd.ZstdCompressor(options=self._options)
        self._local.compressor = None  # until it is back at the start of a frame
        out = compressor.compress(body, self._zstd.ZstdCompressor.FLUSH_FRAME)
        self._local.compressor = compressor
        return out

    def stream(self) -> _Stream:
        return _ZstdStream(self._zstd, self._zstd.ZstdCompressor(options=self._options))


_CODECS: dict[str, type[_Codec]] = {"zstd": _ZstdCodec, "br": _BrotliCodec, "gzip": _GzipCodec}


def _build_codecs(
    encodings: Sequence[str] | None, levels: dict[str, int], thread_minimum_size: int | None
) -> tuple[_Codec, ...]:
    """The codecs to offer, in order: those named, or every one installed."""
    if isinstance(encodings, str):
        raise TypeError("encodings must be a sequence of names, such as ('zstd', 'br', 'gzip')")
    names = ENCODINGS if encodings is None else tuple(encodings)
    if not names:
        raise ValueError("encodings must name at least one encoding")
    codecs: list[_Codec] = []
    for name in names:
        cls = _CODECS.get(name)
        if cls is None:
            raise ValueError(f"unknown encoding {name!r}: choose among {', '.join(ENCODINGS)}")
        if any(codec.token == cls.token for codec in codecs):
            raise ValueError(f"encoding {name!r} is listed twice")
        try:
            codec = cls(levels[name])
        except ImportError:
            if encodings is None:
                continue  # the default offers what is installed
            hint = _INSTALL_HINT.format(extra=cls.extra)
            raise ValueError(f"encoding {name!r} needs its library: {hint}") from None
        if thread_minimum_size is not None:
            codec.thread_minimum_size = thread_minimum_size
        codecs.append(codec)
    return tuple(codecs)


def _strings(value: Iterable[str], name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"{name} must be a sequence of strings, not one string")
    return tuple(value)


def _weak(etag: bytes) -> bytes:
    """A strong entity tag made weak (the compressed bytes differ from the original's)."""
    return b"W/" + etag if etag.startswith(b'"') else etag


class CompressMiddleware:
    """Compress responses with zstd, brotli or gzip, whichever the client prefers.

    Among the codings both sides accept, the client's highest quality wins, then the
    order of ``encodings``. See the README for every rule; in short, responses are left
    alone when small, partial, already encoded, of an excluded media type or path, marked
    ``no-transform``, or without a body; a streamed body is compressed chunk by chunk, each
    chunk flushed; large bodies are compressed in a worker thread.
    """

    __slots__ = (
        "_choices",
        "_codecs",
        "_media",
        "_paths",
        "app",
        "encodings",
        "exclude_content_types",
        "exclude_paths",
        "minimum_size",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int = 500,
        zstd_level: int = 3,
        brotli_quality: int = 4,
        gzip_level: int = 6,
        encodings: Sequence[str] | None = None,
        exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
        exclude_paths: Iterable[str] = (),
        thread_minimum_size: int | None = None,
    ) -> None:
        if minimum_size < 0:
            raise ValueError(f"minimum_size must be 0 or more, not {minimum_size}")
        if thread_minimum_size is not None and thread_minimum_size < 0:
            raise ValueError(f"thread_minimum_size must be 0 or more, not {thread_minimum_size}")
        self.app = app
        self.minimum_size = minimum_size
        levels = {"zstd": zstd_level, "br": brotli_quality, "gzip": gzip_level}
        self._codecs = _build_codecs(encodings, levels, thread_minimum_size)
        #: The codings offered, in order of preference.
        self.encodings = tuple(codec.token.decode() for codec in self._codecs)
        self.exclude_content_types = _strings(exclude_content_types, "exclude_content_types")
        self._media = MediaTypeFilter(self.exclude_content_types)
        self.exclude_paths = _strings(exclude_paths, "exclude_paths")
        for path in self.exclude_paths:
            if not path.startswith("/"):
                raise ValueError(f"exclude_paths must start with '/': {path!r}")
        self._paths = tuple(path.rstrip("/") for path in self.exclude_paths)
        self._choices: dict[bytes, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD" or self._excluded_path(scope):
            await self.app(scope, receive, send)
            return
        accepted = accept_encoding(scope["headers"])
        codec = self._choose(accepted) if accepted else None
        await self.app(scope, receive, _Exchange(self, codec, send).send)

    def _excluded_path(self, scope: Scope) -> bool:
        """Whether the request's route path is, or is below, one of ``exclude_paths``."""
        if not self._paths:
            return False
        path = route_path(scope)
        for prefix in self._paths:
            if path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in ("", "/"):
                return True
        return False

    def _choose(self, accepted: bytes) -> _Codec | None:
        """The codec for an ``Accept-Encoding`` value, or None for an uncompressed body."""
        index = self._choices.get(accepted)
        if index is None:
            index = memoise(self._choices, accepted, self._negotiate(accepted))
        return self._codecs[index] if index >= 0 else None

    def _negotiate(self, accepted: bytes) -> int:
        """The index of the best codec for ``accepted``, or -1 for none (RFC 9110 §12.5.3).

        A coding not listed takes the quality of ``*``, if any; quality 0 is a refusal. On
        equal qualities the server's order decides. An ``identity`` listed with a higher
        quality than every codec wins: the body goes uncompressed.
        """
        qualities = encoding_qualities(accepted)
        star = qualities.get(b"*", 0.0)
        best, best_quality = -1, 0.0
        for index, codec in enumerate(self._codecs):
            quality = qualities.get(codec.token, star)
            if quality > best_quality:
                best, best_quality = index, quality
        if qualities.get(b"identity", 0.0) > best_quality:
            return -1
        return best

    def _leaves_alone(self, start: Message) -> bool:
        """Whether a response is never compressed, whoever asks, judged by its start."""
        status = start.get("status", 200)
        if status == 206 or status in _NO_BODY_STATUSES or status < 200:
            return True
        for name, value in start.get("headers", ()):
            if name == b"content-encoding":
                return True
            if name == b"content-type":
                if self._media.excludes(value):
                    return True
            elif name == b"cache-control" and b"no-transform" in value.lower():
                return True
        return False


class _Exchange:
    """One response on its way through: the held start, then the chosen codec's stream.

    The start is held until the first body shows whether the response is worth compressing.
    """

    __slots__ = ("codec", "middleware", "passing", "start", "stream", "target")

    def __init__(self, middleware: CompressMiddleware, codec: _Codec | None, send: Send) -> None:
        self.middleware = middleware
        self.codec = codec
        self.target = send
        self.start: Message | None = None
        self.stream: _Stream | None = None
        self.passing = False

    async def send(self, message: Message) -> None:
        if self.passing:
            await self.target(message)
            return
        kind = message["type"]
        if kind == "http.response.body":
            if self.stream is not None:
                await self._send_chunk(message)
            elif self.start is not None:
                await self._send_first(self.start, message)
            else:  # a body before any start: not ours to judge
                await self.target(message)
        elif kind == "http.response.start":
            if self.middleware._leaves_alone(message):
                self.passing = True
            else:
                self.start = message
                return
            await self.target(message)
        elif self.start is None:  # early hints and the like, before the start
            await self.target(message)
        else:  # pathsend, zerocopysend or an extension instead of a body: untouched
            self.passing = True
            start, self.start = self.start, None
            await self.target(start)
            await self.target(message)

    async def _send_first(self, start: Message, message: Message) -> None:
        """Send the held start and the first body, compressed when it is worth it."""
        self.start = None
        minimum = self.middleware.minimum_size
        body: bytes = message.get("body", b"")
        streamed = message.get("more_body", False) or start.get("trailers", False)
        if streamed:  # the whole size is unknown: only a declared length can tell
            declared = declared_length(start) if "headers" in start else None
            small = declared is not None and declared < minimum
        else:
            small = not body or len(body) < minimum
        if small:
            self.passing = True
            await self.target(start)
            await self.target(message)
            return
        headers: RawHeaders = list(start.get("headers", ()))
        add_vary(headers, b"Accept-Encoding")
        codec = self.codec
        if codec is not None and streamed:
            self.stream = codec.stream()
            await self.target({**start, "headers": _encoded(headers, codec.token, None)})
            await self._send_chunk(message)
            return
        if codec is not None:
            if len(body) >= codec.thread_minimum_size:
                compressed = await run_in_worker_thread(lambda: codec.compress(body))
            else:
                compressed = codec.compress(body)
            if len(compressed) < len(body):
                self.passing = True
                encoded = _encoded(headers, codec.token, len(compressed))
                await self.target({**start, "headers": encoded})
                await self.target({**message, "body": compressed})
                return
        self.passing = True  # not compressed for this client, or not smaller compressed
        await self.target({**start, "headers": headers})
        await self.target(message)

    async def _send_chunk(self, message: Message) -> None:
        """Send the next piece of a compressed stream, flushed (or the end of it)."""
        stream = self.stream
        assert stream is not None and self.codec is not None
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if more and not body:
            await self.target(message)
            return
        work: Callable[[bytes], bytes] = stream.flush if more else stream.finish
        if len(body) >= self.codec.thread_minimum_size:
            out = await run_in_worker_thread(lambda: work(body))
        else:
            out = work(body)
        if not more:
            self.passing = True  # trailers may follow
        await self.target({**message, "body": out})


def _encoded(headers: RawHeaders, token: bytes, length: int | None) -> RawHeaders:
    """The start's headers for a body encoded with ``token``: ``length`` long, or streamed.

    Content-Length is replaced (or dropped) and a strong ETag made weak.
    """
    out: RawHeaders = [
        (name, _weak(value) if name == b"etag" else value)
        for name, value in headers
        if name != b"content-length"
    ]
    out.append((b"content-encoding", token))
    if length is not None:
        out.append((b"content-length", str(length).encode()))
    return out
