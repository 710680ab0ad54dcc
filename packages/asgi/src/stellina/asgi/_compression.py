"""What the gzip and compress middleware share: the Accept-Encoding parse, the media types left
uncompressed, small memo tables, one-shot gzip, and the hop to a worker thread."""

from __future__ import annotations

import re
import sys
import typing
import zlib
from collections.abc import Callable, Iterable

_T = typing.TypeVar("_T")

# Formats that are compressed already, and streams a client reads as they arrive.
# "*" stands for every subtype.
_UNCOMPRESSED_SUBTYPES = {
    "application": ("grpc", "gzip", "x-gzip", "zip"),
    "audio": ("*",),
    "font": ("woff", "woff2"),
    "image": ("avif", "gif", "jpeg", "png", "webp"),
    "text": ("event-stream",),
    "video": ("*",),
}
#: Media types a compressing middleware leaves alone by default (``"type/*"``: a whole type).
DEFAULT_EXCLUDED_CONTENT_TYPES = tuple(
    f"{kind}/{subtype}" for kind, subtypes in _UNCOMPRESSED_SUBTYPES.items() for subtype in subtypes
)

_QVALUE = re.compile(rb"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")  # RFC 9110 §12.4.2
_MEMO_ENTRIES = 256
_MEMO_KEY_SIZE = 200


def memoise(cache: dict[bytes, _T], key: bytes, value: _T) -> _T:
    """Remember ``value`` for a short ``key`` (at most 200 bytes) in ``cache``; return it.

    The table is emptied when it holds 256 entries, so hostile keys cannot grow it.
    """
    if len(key) <= _MEMO_KEY_SIZE:
        if len(cache) >= _MEMO_ENTRIES:
            cache.clear()
        cache[key] = value
    return value


def accept_encoding(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Every ``Accept-Encoding`` value of the raw request ``headers``, joined by commas."""
    values = [value for name, value in headers if name == b"accept-encoding"]
    return values[0] if len(values) == 1 else b",".join(values)


def encoding_qualities(value: bytes) -> dict[bytes, float]:
    """The quality of each content coding an ``Accept-Encoding`` value lists (RFC 9110 §12.5.3).

    Codings are lowercased, ``x-gzip`` counts as ``gzip`` and ``*`` is kept as it is; a
    coding listed twice keeps its best quality. A missing ``q`` means 1; the first ``q`` of
    a coding counts, and one that is not a qvalue (RFC 9110 §12.4.2: ``0`` to ``1`` with at
    most three decimals) means 0, not acceptable. Linear in the value's length.
    """
    qualities: dict[bytes, float] = {}
    for item in value.split(b","):
        coding, _, params = item.partition(b";")
        coding = coding.strip().lower()
        if not coding:
            continue
        if coding == b"x-gzip":
            coding = b"gzip"
        quality = 1.0
        if params:
            for param in params.split(b";"):
                key, _, raw = param.partition(b"=")
                if key.strip().lower() == b"q":
                    raw = raw.strip()
                    quality = float(raw) if _QVALUE.fullmatch(raw) else 0.0
                    break
        known = qualities.get(coding)
        if known is None or quality > known:
            qualities[coding] = quality
    return qualities


class MediaTypeFilter:
    """Which ``Content-Type`` values are excluded: a list of media types, ``"type/*"`` for a type.

    Parameters and case do not matter; ``application/grpc`` also covers its ``+proto``,
    ``+json``, ... variants. Answers are memoised.
    """

    __slots__ = ("_cache", "_exact", "_grpc", "_kinds")

    def __init__(self, content_types: Iterable[str]) -> None:
        media_types = [item.partition(";")[0].strip().lower() for item in content_types]
        self._kinds = frozenset(m[:-2] for m in media_types if m.endswith("/*"))
        self._exact = frozenset(m for m in media_types if not m.endswith("/*"))
        self._grpc = "application/grpc" in self._exact
        self._cache: dict[bytes, bool] = {}

    def excludes(self, content_type: bytes) -> bool:
        """Whether a response with this raw ``Content-Type`` value is excluded."""
        excluded = self._cache.get(content_type)
        if excluded is None:
            media = content_type.partition(b";")[0].strip().lower().decode("latin-1")
            excluded = memoise(
                self._cache,
                content_type,
                media in self._exact
                or media.partition("/")[0] in self._kinds
                or (self._grpc and media.startswith("application/grpc+")),
            )
        return excluded


def gzip_compress(body: bytes, level: int) -> bytes:
    """``body`` as one gzip member, with a window no larger than the body needs.

    A small body gets a small window: the same bytes out, far less memory to set up.
    """
    window_bits = min(15, max(9, (len(body) + 262).bit_length()))
    return zlib.compress(body, level, 16 + window_bits)


async def run_in_worker_thread(func: Callable[[], _T]) -> _T:
    """Run ``func`` in a worker thread of the event loop that runs this coroutine.

    That is asyncio's default executor, or trio's threads: when no asyncio loop runs, trio
    runs us and is imported already, so no dependency on it (or on anyio) is needed.
    """
    import asyncio  # here: most users of this module never hop to a thread

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        trio = sys.modules.get("trio")
        if trio is None:
            raise RuntimeError("worker threads need asyncio or trio") from None
        result: _T = await trio.to_thread.run_sync(func)
        return result
    return await loop.run_in_executor(None, func)
