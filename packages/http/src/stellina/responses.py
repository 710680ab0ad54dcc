"""HTTP responses: plain, HTML, text, JSON, redirect, streaming and file."""

from __future__ import annotations

import hashlib
import json
import json.encoder
import os
import stat
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from email.utils import formatdate
from mimetypes import guess_type
from secrets import token_hex
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import anyio
import anyio.to_thread

from stellina._cookies import Expires, SameSite, set_cookie_value
from stellina._ranges import (
    MalformedRangeHeader,
    RangeNotSatisfiable,
    byteranges_layout,
    parse_ranges,
)
from stellina._sending import (
    MESSAGE_TYPES,
    denial_send,
    send_raises_on_disconnect,
    unless_disconnected,
    wait_for_disconnect,
)
from stellina.asgi import URL_SAFE, get_header, set_header
from stellina.background import BackgroundTask
from stellina.concurrency import iterate_in_threadpool
from stellina.datastructures import Headers, MutableHeaders
from stellina.requests import ClientDisconnect
from stellina.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from stellina.datastructures import URL

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "MalformedRangeHeader",
    "PlainTextResponse",
    "RangeNotSatisfiable",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]

Content = str | bytes | memoryview
SyncContentStream = Iterable[Content]
AsyncContentStream = AsyncIterable[Content]
ContentStream = AsyncContentStream | SyncContentStream

RawHeaders = list[tuple[bytes, bytes]]
FilePath = str | os.PathLike[str]


# Content-Type headers by charset, then media type; bounded. Header tuples are immutable,
# so responses share them and build none per response.
_content_types: dict[str, dict[str, tuple[bytes, bytes]]] = {}
# Statuses whose responses carry no Content-Length: informational, 204 and 304 (and invalid).
_NO_CONTENT_LENGTH = frozenset((*range(200), 204, 304))
# Content-Length headers of small bodies.
_small_lengths = [(b"content-length", b"%d" % size) for size in range(1024)]


def _content_type(media_type: str, charset: str) -> tuple[bytes, bytes]:
    """Build (and keep) the Content-Type header for ``media_type``.

    Text types get ``charset`` if they lack one. Responses look in `_content_types` first and
    call this only when the header is not there.
    """
    cache = _content_types.get(charset)
    if cache is None:
        cache = {}
        if len(_content_types) < 8:
            _content_types[charset] = cache
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
        self._describe(status_code, media_type, background)
        self.body = self.render(content)
        self.init_headers(headers)

    def _describe(
        self, status_code: int, media_type: str | None, background: BackgroundTask | None
    ) -> None:
        """Set what every response has besides its body; None keeps the class's media type."""
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background

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
        if body is not None and add_length and self.status_code not in _NO_CONTENT_LENGTH:
            size = len(body) if type(body) is bytes else memoryview(body).nbytes
            raw.append(_small_lengths[size] if size < 1024 else (b"content-length", b"%d" % size))
        media_type = self.media_type
        if media_type is not None and add_type:
            by_type = _content_types.get(self.charset)
            header = None if by_type is None else by_type.get(media_type)
            raw.append(_content_type(media_type, self.charset) if header is None else header)
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
        expires: Expires = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: SameSite = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a Set-Cookie header; raises ValueError for values that cannot be sent safely."""
        header = set_cookie_value(
            key, str(value), domain, expires, httponly, max_age, partitioned, path, samesite, secure
        )
        self.raw_headers.append((b"set-cookie", header))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: SameSite = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a Set-Cookie header that expires the cookie ``key`` now."""
        # Max-Age=0 and an Expires of now: every client drops the cookie.
        header = set_cookie_value(
            key, "", domain, 0, httponly, 0, partitioned, path, samesite, secure
        )
        self.raw_headers.append((b"set-cookie", header))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, body = MESSAGE_TYPES[scope["type"]]
        await send({"type": start, "status": self.status_code, "headers": self.raw_headers})
        await send({"type": body, "body": self.body})
        background = self.background
        if background is not None:
            await background()


def _http_messages(response: object) -> tuple[Message, Message] | None:
    """The start and body messages that make up all of ``response``'s HTTP answer, for a
    caller to send itself (one coroutine less); None when the response does more: its own
    ``__call__``, or a background task."""
    if (
        isinstance(response, Response)
        and type(response).__call__ is Response.__call__
        and response.background is None
    ):
        start = {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
        return start, {"type": "http.response.body", "body": response.body}
    return None


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

    def render(self, content: Any) -> bytes:
        try:
            chunks = _json_fast(content, 0)
        except RecursionError:
            return _json_checked.encode(content).encode("utf-8")
        return "".join(chunks).encode("utf-8")

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        # Response's, but ``content`` is required.
        self._describe(status_code, media_type, background)
        self.body = self.render(content)
        self.init_headers(headers)


class RedirectResponse(Response):
    """An empty response that sends the client to ``url`` (307 unless told otherwise)."""

    def __init__(
        self,
        url: str | URL,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self._describe(status_code, None, background)
        self.body = b""
        self.init_headers(headers)
        location = quote(str(url), safe=URL_SAFE).encode("ascii")
        set_header(self.raw_headers, b"location", location)


class HTMLResponse(Response):
    """A ``text/html`` response."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """A ``text/plain`` response."""

    media_type = "text/plain"


class StreamingResponse(Response):
    """A response whose body comes from a sync or async iterable of str or bytes."""

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self._describe(status_code, media_type, background)
        self.body_iterator: AsyncContentStream = (
            content if isinstance(content, AsyncIterable) else iterate_in_threadpool(content)
        )
        self.init_headers(headers)

    async def listen_for_disconnect(self, receive: Receive) -> None:
        """Return once the client has disconnected."""
        await wait_for_disconnect(receive)

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
        if scope["type"] != "http":
            await self.stream_response(denial_send(send))
        elif send_raises_on_disconnect(scope):
            try:
                await self.stream_response(send)
            except OSError:
                raise ClientDisconnect() from None
        else:
            await unless_disconnected(
                receive, lambda: self.stream_response(send), self.listen_for_disconnect
            )
        if self.background is not None:
            await self.background()


# A body to send: literal bytes, or an (offset, length) slice of the file.
_Piece = bytes | tuple[int, int]
# File reads per worker-thread hop: fewer hops, at most this many chunks held in memory.
_READS_PER_HOP = 4
_RANGE_METHODS = frozenset(("GET", "HEAD"))


def _stat_file(path: FilePath) -> os.stat_result:
    try:
        stat_result = os.stat(path)
    except FileNotFoundError:
        raise RuntimeError(f"File at path {path} does not exist.") from None
    if not stat.S_ISREG(stat_result.st_mode):
        raise RuntimeError(f"File at path {path} is not a file.")
    return stat_result


def _read_batch(file: IO[bytes], offset: int, length: int, chunk_size: int) -> list[bytes]:
    """Up to ``_READS_PER_HOP`` chunks of ``file[offset:offset + length]``; fewer at EOF."""
    file.seek(offset)
    chunks: list[bytes] = []
    while length > 0 and len(chunks) < _READS_PER_HOP:
        chunk = file.read(min(chunk_size, length))
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
    return chunks


def _content_disposition(disposition_type: str, filename: str) -> tuple[bytes, bytes]:
    """The Content-Disposition header: a plain quoted filename, or RFC 5987 UTF-8 if needed."""
    quoted = quote(filename)
    if quoted == filename:
        text = f'{disposition_type}; filename="{filename}"'
    else:
        text = f"{disposition_type}; filename*=utf-8''{quoted}"
    value = text.encode("latin-1")
    if b"\r" in value or b"\n" in value:
        raise ValueError(f"Invalid content disposition {text!r}: CR or LF.")
    return b"content-disposition", value


class FileResponse(Response):
    """A file from disk, with ETag/Last-Modified, HEAD, Range requests and ``pathsend``.

    The file is opened and read in worker threads; with the server's ``http.response.pathsend``
    extension a whole-file GET hands the path to the server instead. Range requests are
    answered for GET and HEAD of a 200 response, up to ``max_ranges`` ranges (more: the whole
    file); an If-Range that is not the current (strong) ETag or Last-Modified gets the whole file.
    """

    chunk_size = 64 * 1024
    max_ranges = 100

    def __init__(
        self,
        path: FilePath,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        content_disposition_type: str = "attachment",
    ) -> None:
        if media_type is None:
            media_type = guess_type(filename or path)[0] or "application/octet-stream"
        self._describe(status_code, media_type, background)
        self.path, self.filename, self.stat_result = path, filename, stat_result
        self.init_headers(headers)
        raw = self.raw_headers
        known = {name for name, _ in raw}
        if b"accept-ranges" not in known:
            raw.append((b"accept-ranges", b"bytes"))
        if filename is not None and b"content-disposition" not in known:
            raw.append(_content_disposition(content_disposition_type, filename))
        if stat_result is not None:
            self.set_stat_headers(stat_result)

    def set_stat_headers(self, stat_result: os.stat_result) -> None:
        """Add Content-Length, Last-Modified and ETag from ``stat_result`` unless already set."""
        mtime, size = stat_result.st_mtime, stat_result.st_size
        tag = hashlib.md5(f"{mtime}-{size}".encode(), usedforsecurity=False).hexdigest()
        raw = self.raw_headers
        present = {name for name, _ in raw}
        for name, value in (
            (b"content-length", b"%d" % size),
            (b"last-modified", formatdate(mtime, usegmt=True).encode("ascii")),
            (b"etag", b'"%s"' % tag.encode("ascii")),
        ):
            if name not in present:
                raw.append((name, value))

    def generate_multipart(
        self, ranges: Sequence[tuple[int, int]], boundary: str, max_size: int, content_type: str
    ) -> tuple[int, Callable[[int, int], bytes]]:
        """The length of a multipart/byteranges body of the half-open ``ranges``, and a
        function giving the head of the part of ``(start, end)``."""
        return byteranges_layout(ranges, boundary, max_size, content_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == "http"
        if not http:
            send = denial_send(send)
        stat_result = self.stat_result
        if stat_result is None:
            stat_result = await anyio.to_thread.run_sync(_stat_file, self.path)
            self.set_stat_headers(stat_result)
        head = http and scope["method"].upper() == "HEAD"
        try:
            status, headers, pieces = self._plan(scope, http, stat_result.st_size)
        except MalformedRangeHeader as error:
            await PlainTextResponse(error.content, status_code=400)(scope, receive, send)
            return
        except RangeNotSatisfiable as error:
            refusal = {"content-range": f"bytes */{error.max_size}"}
            await PlainTextResponse(status_code=416, headers=refusal)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif pieces is None:
            path = os.fspath(self.path)
            if not os.path.isabs(path):  # resolving it reads the working directory: a syscall
                path = await anyio.to_thread.run_sync(os.path.abspath, path)
            await send({"type": "http.response.pathsend", "path": path})
        elif http and not send_raises_on_disconnect(scope):
            await unless_disconnected(receive, lambda: self._send_file(send, pieces))
        else:
            await self._send_file(send, pieces)
        if self.background is not None:
            await self.background()

    def _plan(
        self, scope: Scope, http: bool, size: int
    ) -> tuple[int, RawHeaders, list[_Piece] | None]:
        """The status, headers and body pieces to send (None: the whole file by pathsend)."""
        spans = None
        if http and self.status_code == 200 and scope["method"].upper() in _RANGE_METHODS:
            range_value = if_range = None
            for name, value in scope["headers"]:
                if name == b"range" and range_value is None:
                    range_value = value
                elif name == b"if-range" and if_range is None:
                    if_range = value
            if range_value is not None and (if_range is None or self._still_current(if_range)):
                spans = parse_ranges(range_value.decode("latin-1"), size, self.max_ranges)
        if spans is None:
            pathsend = http and "http.response.pathsend" in scope.get("extensions", ())
            return self.status_code, self.raw_headers, None if pathsend else [(0, size)]
        headers = list(self.raw_headers)
        if len(spans) == 1:
            start, end = spans[0]
            set_header(headers, b"content-range", b"bytes %d-%d/%d" % (start, end - 1, size))
            set_header(headers, b"content-length", b"%d" % (end - start))
            return 206, headers, [(start, end - start)]
        boundary = token_hex(13)
        part_type = (get_header(headers, b"content-type") or b"").decode("latin-1")
        length, part_head = self.generate_multipart(spans, boundary, size, part_type)
        content_type = b"multipart/byteranges; boundary=" + boundary.encode("ascii")
        set_header(headers, b"content-type", content_type)
        set_header(headers, b"content-length", b"%d" % length)
        pieces: list[_Piece] = []
        for start, end in spans:
            pieces += (part_head(start, end), (start, end - start), b"\r\n")
        pieces.append(b"--%s--" % boundary.encode("ascii"))
        return 206, headers, pieces

    def _still_current(self, if_range: bytes) -> bool:
        """Whether an If-Range value is this file's Last-Modified or strong ETag."""
        if if_range.startswith(b"W/"):
            return False
        raw = self.raw_headers
        return if_range == get_header(raw, b"etag") or if_range == get_header(raw, b"last-modified")

    async def _send_file(self, send: Send, pieces: list[_Piece]) -> None:
        """Open the file in a worker thread and send ``pieces``; the file is closed however
        the sending ends."""
        try:
            file = await anyio.open_file(self.path, mode="rb")
        except FileNotFoundError:
            raise RuntimeError(f"File at path {self.path} does not exist.") from None
        try:
            last = len(pieces) - 1
            for index, piece in enumerate(pieces):
                more = index < last
                if isinstance(piece, bytes):
                    await send({"type": "http.response.body", "body": piece, "more_body": more})
                else:
                    offset, length = piece
                    await self._send_slice(send, file.wrapped, offset, length, more)
        finally:
            file.wrapped.close()  # closing a file opened for reading does not block

    async def _send_slice(
        self, send: Send, file: IO[bytes], offset: int, length: int, more_after: bool
    ) -> None:
        """Send ``file[offset:offset + length]`` in chunks read by worker threads."""
        if length == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": more_after})
            return
        chunk_size = self.chunk_size
        while length > 0:
            chunks = await anyio.to_thread.run_sync(_read_batch, file, offset, length, chunk_size)
            if not chunks:
                raise RuntimeError(f"File at path {self.path} is shorter than expected.")
            for chunk in chunks:
                offset += len(chunk)
                length -= len(chunk)
                more = length > 0 or more_after
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
