"""HTTP responses: plain, HTML, text, JSON, redirect, streaming and file."""

from __future__ import annotations

import hashlib
import http.cookies
import json
import json.encoder
import os
import re
import stat
import time
import warnings
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime, formatdate
from mimetypes import guess_type
from secrets import token_hex
from typing import TYPE_CHECKING, Any, BinaryIO, Literal
from urllib.parse import quote

import anyio
import anyio.to_thread

from stellina.background import BackgroundTask
from stellina.concurrency import iterate_in_threadpool
from stellina.datastructures import Headers, MutableHeaders
from stellina.requests import ClientDisconnect
from stellina.types import Receive, Scope, Send

if TYPE_CHECKING:
    from stellina.datastructures import URL

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]

Content = str | bytes | memoryview
SyncContentStream = Iterable[Content]
AsyncContentStream = AsyncIterable[Content]
ContentStream = AsyncContentStream | SyncContentStream

RawHeaders = list[tuple[bytes, bytes]]

# Content-Type headers by charset, then media type; bounded. Header tuples are immutable,
# so responses share them and build none per response.
_content_types: dict[str, dict[str, tuple[bytes, bytes]]] = {}
# Content-Length headers of small bodies.
_small_lengths = [(b"content-length", b"%d" % size) for size in range(1024)]


def _content_type(media_type: str, charset: str) -> tuple[bytes, bytes]:
    """The Content-Type header for ``media_type``; text types get ``charset`` if they lack one."""
    cache = _content_types.get(charset)
    if cache is None:
        cache = {}
        if len(_content_types) < 8:
            _content_types[charset] = cache
    header = cache.get(media_type)
    if header is None:
        full = media_type
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            full = f"{media_type}; charset={charset}"
        value = full.encode("latin-1")
        if b"\r" in value or b"\n" in value:
            raise ValueError(f"Invalid media type {media_type!r}: CR or LF.")
        header = (b"content-type", value)
        if len(cache) < 512:
            cache[media_type] = header
    return header


# Cookie names are RFC 6265 tokens, as http.cookies accepts them.
_COOKIE_KEY = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]+")
_COOKIE_ATTRIBUTES = frozenset(
    [
        "expires",
        "path",
        "comment",
        "domain",
        "max-age",
        "secure",
        "httponly",
        "version",
        "samesite",
        "partitioned",
    ]
)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_IN_ATTRIBUTE = re.compile(r"[\x00-\x1f\x7f;]")
_SAMESITE = frozenset(("strict", "lax", "none"))
_encode_cookie_value = http.cookies.SimpleCookie().value_encode


class _InvalidCookie(http.cookies.CookieError, ValueError):
    """A cookie argument that would produce an invalid or injectable Set-Cookie header."""


class _InvalidSameSite(AssertionError, ValueError):
    """An unknown SameSite value (an AssertionError, as Starlette raises, and a ValueError)."""


def _cookie_attribute(name: str, value: str) -> str:
    if _UNSAFE_IN_ATTRIBUTE.search(value):
        raise _InvalidCookie(f"Invalid cookie {name} {value!r}: control characters or ';'.")
    return value


class Response:
    """A complete response whose body is known when it is created."""

    media_type: str | None = None
    charset = "utf-8"
    _headers: MutableHeaders | None = None

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.body = self.render(content)
        self.background = background
        self.init_headers(headers)

    def render(self, content: Any) -> bytes | memoryview:
        """Turn ``content`` into the body: None is empty, str is encoded with ``charset``."""
        # Exact-type checks first: str and bytes are by far the most common contents.
        if type(content) is str:
            encoded: bytes = content.encode(self.charset)
            return encoded
        if type(content) is bytes or isinstance(content, (bytes, memoryview)):
            body: bytes | memoryview = content
            return body
        if content is None:
            return b""
        encoded = content.encode(self.charset)
        return encoded

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Build ``raw_headers``: the given headers, then Content-Length and Content-Type."""
        if headers is None:
            raw: RawHeaders = []
            add_length = add_type = True
        else:
            raw = Headers(headers).raw
            names = {name for name, _ in raw}
            add_length = b"content-length" not in names
            add_type = b"content-type" not in names
        body = getattr(self, "body", None)
        if body is not None and add_length:
            status_code = self.status_code
            if status_code >= 200 and status_code != 204 and status_code != 304:
                size = len(body) if type(body) is bytes else memoryview(body).nbytes
                if size < 1024:
                    raw.append(_small_lengths[size])
                else:
                    raw.append((b"content-length", b"%d" % size))
        media_type = self.media_type
        if media_type is not None and add_type:
            raw.append(_content_type(media_type, self.charset))
        self.raw_headers = raw

    @property
    def headers(self) -> MutableHeaders:
        """A mutable, case-insensitive view over ``raw_headers``."""
        headers = self._headers
        if headers is None:
            headers = self._headers = MutableHeaders(raw=self.raw_headers)
        return headers

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a Set-Cookie header; raises ValueError for values that cannot be sent safely."""
        if not _COOKIE_KEY.fullmatch(key) or key.lower() in _COOKIE_ATTRIBUTES:
            raise _InvalidCookie(f"Illegal key {key!r}")
        value = str(value)
        if _CONTROL_CHARACTERS.search(value):
            raise _InvalidCookie(f"Invalid cookie value {value!r}: control characters.")
        parts = [f"{key}={_encode_cookie_value(value)[1]}"]
        # Attributes in alphabetical order of their lower-case names, as http.cookies emits them.
        if domain:
            parts.append(f"Domain={_cookie_attribute('domain', domain)}")
        if expires is not None:
            if isinstance(expires, datetime):
                when = format_datetime(expires, usegmt=True)
            elif isinstance(expires, int):
                when = formatdate(time.time() + expires, usegmt=True)
            else:
                when = _cookie_attribute("expires", expires)
            if when:
                parts.append(f"expires={when}")
        if httponly:
            parts.append("HttpOnly")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if partitioned:
            parts.append("Partitioned")
        if path:
            parts.append(f"Path={_cookie_attribute('path', path)}")
        if samesite is not None:
            if samesite.lower() not in _SAMESITE:
                raise _InvalidSameSite("samesite must be either 'strict', 'lax' or 'none'")
            parts.append(f"SameSite={samesite}")
        if secure:
            parts.append("Secure")
        self.raw_headers.append((b"set-cookie", "; ".join(parts).encode("latin-1")))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a Set-Cookie header that expires the cookie ``key`` now."""
        self.set_cookie(
            key,
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            start, body = "websocket.http.response.start", "websocket.http.response.body"
        else:
            start, body = "http.response.start", "http.response.body"
        await send({"type": start, "status": self.status_code, "headers": self.raw_headers})
        await send({"type": body, "body": self.body})
        if self.background is not None:
            await self.background()


class HTMLResponse(Response):
    """A ``text/html`` response."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """A ``text/plain`` response."""

    media_type = "text/plain"


_json_checked = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
)
# json.dumps builds a C encoder on every call, with a dict of the containers being encoded to
# detect cycles. Built once and without that dict it is about three times faster; a cycle then
# ends in a RecursionError, and the checked encoder re-runs to raise json's own ValueError.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)  # None without the C speedups
_json_fast: Callable[[Any, int], Iterable[str]]
if _c_make_encoder is not None:
    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys,
    # allow_nan): no cycle markers, compact, and NaN refused as allow_nan=False does.
    _json_fast = _c_make_encoder(
        None,
        _json_checked.default,
        json.encoder.encode_basestring,
        None,
        ":",
        ",",
        False,
        False,
        False,
    )
else:  # pragma: no cover - CPython always has the C encoder
    _json_fast = lambda obj, _level: _json_checked.iterencode(obj)  # noqa: E731


class JSONResponse(Response):
    """An ``application/json`` response: compact, UTF-8, no NaN or Infinity."""

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        # Only the signature differs from Response's: ``content`` is required.
        super().__init__(content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        try:
            chunks = _json_fast(content, 0)
        except RecursionError:
            return _json_checked.encode(content).encode("utf-8")
        return "".join(chunks).encode("utf-8")


class RedirectResponse(Response):
    """An empty response that sends the client to ``url`` (307 unless told otherwise)."""

    def __init__(
        self,
        url: str | URL,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(
            content=b"", status_code=status_code, headers=headers, background=background
        )
        self.headers["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;")


_spec_raises_on_disconnect: dict[str, bool] = {}


def _send_raises_on_disconnect(scope: Scope) -> bool:
    """Whether the server's ``send`` raises OSError once the client is gone (ASGI spec 2.4+)."""
    version: str = scope.get("asgi", {}).get("spec_version", "2.0")
    raises = _spec_raises_on_disconnect.get(version)
    if raises is None:
        raises = tuple(map(int, version.split("."))) >= (2, 4)
        if len(_spec_raises_on_disconnect) < 16:
            _spec_raises_on_disconnect[version] = raises
    return raises


class StreamingResponse(Response):
    """A response whose body comes from a sync or async iterable of str or bytes."""

    body_iterator: AsyncContentStream

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        if isinstance(content, AsyncIterable):
            self.body_iterator = content
        else:
            self.body_iterator = iterate_in_threadpool(content)
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.init_headers(headers)

    async def listen_for_disconnect(self, receive: Receive) -> None:
        """Return once the client has disconnected."""
        while (await receive())["type"] != "http.disconnect":
            pass

    async def stream_response(self, send: Send) -> None:
        """Send the start message, then one body message per chunk, then the end."""
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        charset = self.charset
        async for chunk in self.body_iterator:
            body = chunk if isinstance(chunk, (bytes, memoryview)) else chunk.encode(charset)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _send_raises_on_disconnect(scope):
            try:
                await self.stream_response(send)
            except OSError:
                raise ClientDisconnect() from None
        else:
            await self._stream_until_disconnect(receive, send)
        if self.background is not None:
            await self.background()

    async def _stream_until_disconnect(self, receive: Receive, send: Send) -> None:
        # Before ASGI 2.4 a send to a gone client is silently dropped, so listen for it.
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        except BaseExceptionGroup as group_error:
            errors = group_error.exceptions
            if len(errors) == 1:
                raise errors[0] from None
            raise


class _MalformedRange(Exception):
    def __init__(self, message: str = "Malformed range header.") -> None:
        self.message = message


class _UnsatisfiableRange(Exception):
    pass


# More ranges than this in one Range header: the header is ignored and the whole file sent.
_MAX_RANGES = 100
_HUGE = 1 << 64


def _byte_position(text: str) -> int | None:
    """A non-negative decimal, saturating far beyond any file size; None if not a number."""
    if not text.isascii() or not text.isdigit():
        return None
    return int(text) if len(text) < 20 else _HUGE


def _parse_range(value: str, size: int) -> list[tuple[int, int]] | None:
    """Parse a Range header into sorted, merged half-open ``(start, end)`` spans of a file.

    Returns None when the header should be ignored (too many ranges); raises _MalformedRange
    (answered with 400) or _UnsatisfiableRange (416). Runs in time linear in the header length.
    """
    unit, equals, specs = value.partition("=")
    if not equals:
        raise _MalformedRange()
    if unit.strip().lower() != "bytes":
        raise _MalformedRange("Only support bytes range")
    ranges: list[tuple[int, int]] = []
    for spec in specs.split(","):
        first, dash, last = spec.partition("-")
        if not dash:
            continue
        first, last = first.strip(), last.strip()
        if first:
            start = _byte_position(first)
            end = _byte_position(last) if last else size - 1
            if start is None or end is None:
                continue
            end = min(end, size - 1) + 1
        else:
            suffix = _byte_position(last)
            if suffix is None:
                continue
            start, end = max(size - suffix, 0), size
        ranges.append((start, end))
        if len(ranges) > _MAX_RANGES:
            return None
    if not ranges:
        raise _MalformedRange("Range header: range must be requested")
    if any(not 0 <= start < size for start, _ in ranges):
        raise _UnsatisfiableRange()
    if any(start >= end for start, end in ranges):
        raise _MalformedRange("Range header: start must be less than end")
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(end, last_end))
        else:
            merged.append((start, end))
    return merged


def _stat_and_open(
    path: str | os.PathLike[str], stat_result: os.stat_result | None, open_file: bool
) -> tuple[os.stat_result, BinaryIO | None]:
    """Worker-thread half of FileResponse: stat the path unless known, open it if asked."""
    if stat_result is None:
        try:
            stat_result = os.stat(path)
        except FileNotFoundError:
            raise RuntimeError(f"File at path {path} does not exist.") from None
        if not stat.S_ISREG(stat_result.st_mode):
            raise RuntimeError(f"File at path {path} is not a file.")
    return stat_result, open(path, "rb") if open_file else None


# Reads per worker-thread hop: fewer hops, at most this many chunks held in memory.
_READS_PER_HOP = 4


def _read_chunks(file: BinaryIO, offset: int, length: int, chunk_size: int) -> list[bytes]:
    """Read up to ``_READS_PER_HOP`` chunks of ``file[offset:offset + length]``; fewer at EOF."""
    file.seek(offset)
    chunks: list[bytes] = []
    while length > 0 and len(chunks) < _READS_PER_HOP:
        chunk = file.read(min(chunk_size, length))
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
    return chunks


class FileResponse(Response):
    """A file from disk, with ETag/Last-Modified, HEAD, Range requests and ``pathsend``."""

    chunk_size = 64 * 1024

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        method: str | None = None,
        content_disposition_type: str = "attachment",
    ) -> None:
        self.path = path
        self.status_code = status_code
        self.filename = filename
        if method is not None:
            warnings.warn(
                "The 'method' parameter is not used, and it will be removed.",
                DeprecationWarning,
                stacklevel=2,
            )
        if media_type is None:
            media_type = guess_type(filename or path)[0] or "text/plain"
        self.media_type = media_type
        self.background = background
        self.init_headers(headers)
        self.headers.setdefault("accept-ranges", "bytes")
        if filename is not None:
            quoted = quote(filename)
            if quoted != filename:
                disposition = f"{content_disposition_type}; filename*=utf-8''{quoted}"
            else:
                disposition = f'{content_disposition_type}; filename="{filename}"'
            self.headers.setdefault("content-disposition", disposition)
        self.stat_result = stat_result
        if stat_result is not None:
            self.set_stat_headers(stat_result)

    def set_stat_headers(self, stat_result: os.stat_result) -> None:
        """Set Content-Length, Last-Modified and ETag from ``stat_result`` unless already set."""
        mtime, size = stat_result.st_mtime, stat_result.st_size
        tag = hashlib.md5(f"{mtime}-{size}".encode(), usedforsecurity=False).hexdigest()
        headers = self.headers
        headers.setdefault("content-length", str(size))
        headers.setdefault("last-modified", formatdate(mtime, usegmt=True))
        headers.setdefault("etag", f'"{tag}"')

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = scope["method"].upper() == "HEAD"
        range_header = if_range = None
        for name, value in scope["headers"]:
            if name == b"range" and range_header is None:
                range_header = value.decode("latin-1")
            elif name == b"if-range" and if_range is None:
                if_range = value.decode("latin-1")
        pathsend = (
            not head
            and range_header is None
            and "http.response.pathsend" in scope.get("extensions", {})
        )
        read_body = not (head or pathsend)
        if self.stat_result is not None and not read_body:
            stat_result, file = self.stat_result, None
        else:
            stat_result, file = await anyio.to_thread.run_sync(
                _stat_and_open, self.path, self.stat_result, read_body
            )
        try:
            if self.stat_result is None:
                self.set_stat_headers(stat_result)
            if range_header is None or (
                if_range is not None and not self._if_range_matches(if_range)
            ):
                await self._send_whole(send, file, stat_result.st_size, pathsend)
            elif not await self._send_ranges(scope, receive, send, file, range_header, stat_result):
                return
        finally:
            if file is not None:
                file.close()
        if self.background is not None:
            await self.background()

    async def _send_ranges(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        file: BinaryIO | None,
        range_header: str,
        stat_result: os.stat_result,
    ) -> bool:
        """Answer a Range request; False if it was refused (400 or 416)."""
        size = stat_result.st_size
        try:
            ranges = _parse_range(range_header, size)
        except _MalformedRange as error:
            await PlainTextResponse(error.message, status_code=400)(scope, receive, send)
            return False
        except _UnsatisfiableRange:
            headers = {"content-range": f"bytes */{size}"}
            await PlainTextResponse(status_code=416, headers=headers)(scope, receive, send)
            return False
        if ranges is None:
            await self._send_whole(send, file, size, pathsend=False)
        elif len(ranges) == 1:
            await self._send_single_range(send, file, ranges[0], size)
        else:
            await self._send_multiple_ranges(send, file, ranges, size)
        return True

    def _if_range_matches(self, if_range: str) -> bool:
        headers = self.headers
        return if_range == headers.get("last-modified") or if_range == headers.get("etag")

    async def _send_whole(
        self, send: Send, file: BinaryIO | None, size: int, pathsend: bool
    ) -> None:
        """The 200 response: the file read by chunks, by pathsend, or headers only (HEAD)."""
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if file is not None:
            await self._send_span(send, file, 0, size, more_after=False)
        elif pathsend:
            await send({"type": "http.response.pathsend", "path": os.path.abspath(self.path)})
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_single_range(
        self, send: Send, file: BinaryIO | None, span: tuple[int, int], size: int
    ) -> None:
        start, end = span
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        headers["content-length"] = str(end - start)
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        if file is None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            await self._send_span(send, file, start, end - start, more_after=False)

    async def _send_multiple_ranges(
        self, send: Send, file: BinaryIO | None, ranges: list[tuple[int, int]], size: int
    ) -> None:
        boundary = token_hex(13)
        headers = MutableHeaders(raw=list(self.raw_headers))
        part_type = headers.get("content-type", "")
        part_heads = [
            f"--{boundary}\r\nContent-Type: {part_type}\r\n"
            f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n".encode("latin-1")
            for start, end in ranges
        ]
        closing = f"--{boundary}--".encode("latin-1")
        length = sum(
            len(head) + end - start + 2
            for head, (start, end) in zip(part_heads, ranges, strict=True)
        )
        headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        headers["content-length"] = str(length + len(closing))
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        if file is None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        separator = b""
        for head, (start, end) in zip(part_heads, ranges, strict=True):
            await send({"type": "http.response.body", "body": separator + head, "more_body": True})
            await self._send_span(send, file, start, end - start, more_after=True)
            separator = b"\r\n"
        await send({"type": "http.response.body", "body": b"\r\n" + closing, "more_body": False})

    async def _send_span(
        self, send: Send, file: BinaryIO, offset: int, length: int, *, more_after: bool
    ) -> None:
        """Send ``length`` bytes of ``file`` from ``offset``, read in chunks in a worker thread."""
        chunk_size = self.chunk_size
        while True:
            chunks = await anyio.to_thread.run_sync(_read_chunks, file, offset, length, chunk_size)
            if not chunks:
                await send({"type": "http.response.body", "body": b"", "more_body": more_after})
                return
            for chunk in chunks:
                offset += len(chunk)
                length -= len(chunk)
                more = length > 0 or more_after
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if length <= 0:
                return
