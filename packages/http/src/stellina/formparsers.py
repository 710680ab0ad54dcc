"""Streaming parsers for urlencoded and multipart form bodies."""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import AsyncGenerator, Callable
from enum import Enum, EnumMeta
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from stellina._uploads import DEFAULT_MAX_PART_SIZE, DEFAULT_MAX_PARTS
from stellina.asgi import StellinaDeprecationWarning
from stellina.datastructures import FormData, Headers, UploadFile

try:
    import python_multipart.multipart as _multipart
    from python_multipart.exceptions import FormParserError
except ImportError:  # the `multipart` extra is not installed
    _multipart = None  # type: ignore[assignment]
    FormParserError = ValueError  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["FormMessage", "FormParser", "MultiPartException", "MultiPartParser", "MultipartPart"]

_MISSING_MULTIPART = "The `python-multipart` library must be installed to use form parsing."

# Part headers are kept on each UploadFile, so they are bounded per part.
_MAX_PART_HEADERS_SIZE = 16 * 1024
# File data is collected and written in batches of about this size, so that a file
# that lives on disk costs one thread hop per batch rather than one per received chunk.
# Under uvicorn (benchmarks/soak: 256 MiB uploads) 256-512 KiB was fastest: while a batch is
# written nothing is read from the socket, and 1 MiB batches stalled it for 20% of the time.
_WRITE_BATCH_SIZE = 256 * 1024


class _DeprecatedOnCall(EnumMeta):
    def __call__(
        cls,
        value: Any,
        names: Any = None,
        *,
        module: str | None = None,
        qualname: str | None = None,
        type: type | None = None,
        start: int = 1,
        boundary: Any = None,
    ) -> Any:
        warnings.warn(
            f"`{cls.__name__}` is deprecated and will be removed in a future version.",
            StellinaDeprecationWarning,
            stacklevel=2,
        )
        if names is None:
            return super().__call__(value)
        return super().__call__(
            value,
            names,
            module=module,
            qualname=qualname,
            type=type,
            start=start,
            boundary=boundary,
        )


class FormMessage(Enum, metaclass=_DeprecatedOnCall):
    """The events of the old callback-based urlencoded parser (deprecated, unused)."""

    FIELD_START = 1
    FIELD_NAME = 2
    FIELD_DATA = 3
    FIELD_END = 4
    END = 5


class MultiPartException(Exception):
    """A form body that cannot be accepted; ``message`` says why (sent as the 400's body)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


# --- urlencoded ------------------------------------------------------------------------------


def _form_unquote(data: bytes, start: int = 0) -> str:
    """Decode one urlencoded name or value, ``data[start:]``: ``+`` is a space, ``%XX`` a byte.

    The text of ``unquote_plus(data[start:].decode("latin-1"))``. Without escapes (a large
    plain value, say) the text is decoded in place, with no copy of the bytes. Pure ASCII (what
    browsers send) is decoded in C: ``%`` becomes ``\\x`` for ``codecs.escape_decode``, other
    backslashes doubled first, so that no other escape can occur.
    """
    if data.find(b"%", start) < 0:
        if data.find(b"+", start) < 0:
            return str(memoryview(data)[start:], "latin-1")
        return data[start:].replace(b"+", b" ").decode("latin-1")
    if start:
        data = data[start:]
    if b"+" in data:
        data = data.replace(b"+", b" ")
    if data.isascii():
        escaped = data.replace(b"\\", b"\\\\") if b"\\" in data else data
        try:
            raw: bytes = codecs.escape_decode(escaped.replace(b"%", b"\\x"))[0]
        except ValueError:  # a "%" without two hex digits after it: left as it is
            pass
        else:
            return raw.decode("utf-8", "replace")
    return unquote(data.decode("latin-1"))


def _decode_field(field: bytes) -> tuple[str, str]:
    """The decoded name and value of one ``name=value`` field (no ``=``: an empty value)."""
    equals = field.find(b"=")
    if equals < 0:
        return _form_unquote(field), ""
    return _form_unquote(field[:equals]), _form_unquote(field, equals + 1)


# From this many fields on, one decoding call over all of them beats one call a field; below
# it, joining and splitting again (scans over the whole body) cost more than they save.
_JOINED_DECODING_FROM = 8


def _decode_fields(fields: list[bytes]) -> list[tuple[str, str | UploadFile]]:
    """The decoded ``(name, value)`` of each ``name=value`` field.

    Many fields are decoded in one call over their NUL-joined bytes, then split apart again,
    unless the body holds a NUL (itself or as ``%00``); a few are cheaper decoded each.
    """
    if len(fields) >= _JOINED_DECODING_FROM:
        parts = [field.partition(b"=") for field in fields]
        joined = b"\x00".join([b"%s\x00%s" % (name, value) for name, _, value in parts])
        if joined.count(b"\x00") == 2 * len(parts) - 1 and b"%00" not in joined:
            pieces = iter(_form_unquote(joined).split("\x00"))
            return list(zip(pieces, pieces, strict=True))
    return [_decode_field(field) for field in fields]


# The most pieces of a partial field held as they came (see `FormParser`).
_PIECES_HELD = 32


class FormParser:
    """Parses an ``application/x-www-form-urlencoded`` body as it streams in.

    At most ``max_fields`` fields, each of at most ``max_part_size`` bytes (its name and
    value together, still encoded); past either limit parsing stops with a `MultiPartException`,
    before the excess is buffered. Each byte is copied once into the field it belongs to.
    """

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_fields: int | float = DEFAULT_MAX_PARTS,
        max_part_size: int = DEFAULT_MAX_PART_SIZE,
    ) -> None:
        self.headers = headers
        self.stream = stream
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self._current_fields = 0
        # The field cut off by the end of the chunks so far: its pieces, their size, and where
        # its "=" is (-1: none yet). Pieces are joined once, when the field ends: a field that
        # came in one piece is never copied. Past `_PIECES_HELD` pieces they are moved to
        # `_spilled`, so that a field sent a byte at a time costs no object per byte.
        self._pieces: list[bytes] = []
        self._spilled = bytearray()
        self._size = 0
        self._equals = -1

    @property
    def _field_value(self) -> bytes:
        """The buffered value of the field being received."""
        field = bytes(self._spilled) + b"".join(self._pieces)
        return field[self._equals + 1 :] if self._equals >= 0 else b""

    async def parse(self) -> FormData:
        """Read the whole stream and return its fields, in order."""
        fields: list[bytes] = []
        async for chunk in self.stream:
            last = chunk.rfind(b"&")
            if last < 0:
                self._grow_partial(chunk)
                continue
            first = chunk.find(b"&")
            self._grow_partial(chunk[:first])
            if self._size:
                fields.append(self._take_partial())
            if first < last:
                fields += self._whole_fields(chunk[first + 1 : last])
            self._grow_partial(chunk[last + 1 :])
        if self._size:
            fields.append(self._take_partial())
        return FormData(_decode_fields(fields))

    def _grow_partial(self, piece: bytes) -> None:
        """Add ``piece`` (holding no ``&``) to the partial field, within the size limit."""
        if not piece:
            return
        if self._equals < 0:
            found = piece.find(b"=")
            if found >= 0:
                self._equals = self._size + found
        size = self._size + len(piece)
        # The name and the value count together; the "=" between them does not.
        if size - (self._equals >= 0) > self.max_part_size:
            raise self._too_large()
        pieces = self._pieces
        pieces.append(piece)
        self._size = size
        if len(pieces) > _PIECES_HELD:
            self._spilled += b"".join(pieces)
            pieces.clear()

    def _take_partial(self) -> bytes:
        """The partial field, now whole and counted; the buffer is left empty."""
        self._count(1)
        if self._spilled:
            self._spilled += b"".join(self._pieces)
            field = bytes(self._spilled)
            self._spilled.clear()
        else:
            field = b"".join(self._pieces)
        self._pieces.clear()
        self._size = 0
        self._equals = -1
        return field

    def _whole_fields(self, data: bytes) -> list[bytes]:
        """The non-empty ``&``-separated fields of ``data``, counted and size-checked."""
        fields = [field for field in data.split(b"&") if field]
        limit = self.max_part_size
        if fields and len(max(fields, key=len)) > limit:
            for index, field in enumerate(fields):
                if len(field) - (b"=" in field) > limit:
                    self._count(index)
                    raise self._too_large()
        self._count(len(fields))
        return fields

    def _count(self, more: int) -> None:
        if self._current_fields + more > self.max_fields:
            self._current_fields = int(self.max_fields) + 1
            raise MultiPartException(
                f"Too many fields. Maximum number of fields is {self.max_fields}."
            )
        self._current_fields += more

    def _too_large(self) -> MultiPartException:
        return MultiPartException(
            f"Field exceeded maximum size of {int(self.max_part_size / 1024)}KB."
        )


# --- multipart -------------------------------------------------------------------------------

_CALLBACKS = (
    "on_part_begin",
    "on_part_data",
    "on_part_end",
    "on_header_field",
    "on_header_value",
    "on_header_end",
    "on_headers_finished",
)


# What browsers send for nearly every part: parsed without python-multipart's general parser,
# which gives the same options for it (nothing quoted-escaped, no path in the filename).
_PLAIN_DISPOSITION = re.compile(rb'form-data; name="([^"\\]*)"(?:; filename="([^"\\/]*)")?')


def _disposition_options(value: bytes | None) -> dict[bytes, bytes]:
    """The parameters of a part's Content-Disposition header."""
    assert _multipart is not None
    plain = _PLAIN_DISPOSITION.fullmatch(value) if value else None
    if plain is None:
        return _multipart.parse_options_header(value)[1]
    name, filename = plain.groups()
    return {b"name": name} if filename is None else {b"name": name, b"filename": filename}


class MultipartPart:
    """A part of a multipart body as far as it has been parsed: its headers, its name, and
    its bytes (a field) or its file."""

    __slots__ = ("content_disposition", "data", "field_name", "file", "item_headers")

    def __init__(
        self,
        content_disposition: bytes | None = None,
        field_name: str = "",
        data: bytearray | None = None,
        file: UploadFile | None = None,
        item_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.content_disposition = content_disposition
        self.field_name = field_name
        self.data = bytearray() if data is None else data
        self.file = file
        self.item_headers = [] if item_headers is None else item_headers


# Python's text codecs that are transforms of its own, not charsets a client sends text in.
_NOT_CHARSETS = frozenset(("idna", "punycode", "raw-unicode-escape", "unicode-escape"))


def _text_decoder(charset: str) -> Callable[[bytes | bytearray], str]:
    """Decode with ``charset`` (looked up once), else with latin-1.

    A charset that is unknown, malformed or names no text encoding (``base64``,
    ``undefined``) gives utf-8: the client's label is a hint, never a reason to fail.
    """
    try:
        encoding = codecs.lookup(charset).name
        "a".encode(encoding).decode(encoding)
    except (LookupError, UnicodeError, ValueError):  # ValueError: a NUL in the name
        encoding = "utf-8"
    if encoding in _NOT_CHARSETS:
        encoding = "utf-8"

    def text(data: bytes | bytearray) -> str:
        try:
            return data.decode(encoding)
        except UnicodeError:  # punycode and idna raise it on bad input, not its subclass
            return data.decode("latin-1")

    return text


class MultiPartParser:
    """Parses a ``multipart/form-data`` body as it streams in.

    Fields are held in memory up to ``max_part_size`` bytes each; files spool into
    `UploadFile` objects that move to disk past ``spool_max_size``, with disk writes done in
    a worker thread. python-multipart calls the ``on_*`` methods, which only collect;
    `parse` does the awaiting.
    """

    spool_max_size = 1024 * 1024
    """The in-memory size of each uploaded file before it moves to disk."""
    max_part_size = DEFAULT_MAX_PART_SIZE
    """The default maximum size of a non-file part."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_files: int | float = DEFAULT_MAX_PARTS,
        max_fields: int | float = DEFAULT_MAX_PARTS,
        max_part_size: int = DEFAULT_MAX_PART_SIZE,
    ) -> None:
        if _multipart is None:
            raise AssertionError(_MISSING_MULTIPART)
        self.headers = headers
        self.stream = stream
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self.items: list[tuple[str, str | UploadFile]] = []
        self._text = _text_decoder("utf-8")
        self._files = 0
        self._fields = 0
        self._part = MultipartPart()
        self._headers_size = 0
        self._header_name = b""
        self._header_value = b""
        # File data not yet written, as one buffer per run of data for the same file (so a
        # body sent a byte at a time costs no object per byte); every file created, to close.
        self._pending: list[tuple[UploadFile, bytearray]] = []
        self._pending_size = 0
        self._uploads: list[UploadFile] = []

    def on_part_begin(self) -> None:
        self._part = MultipartPart()
        self._headers_size = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += self._header_bytes(data, start, end)

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += self._header_bytes(data, start, end)

    def _header_bytes(self, data: bytes, start: int, end: int) -> bytes:
        self._headers_size += end - start
        if self._headers_size > _MAX_PART_HEADERS_SIZE:
            raise MultiPartException(
                f"Part headers exceeded maximum size of {_MAX_PART_HEADERS_SIZE // 1024}KB."
            )
        return data[start:end]

    def on_header_end(self) -> None:
        name, value = self._header_name.lower(), self._header_value
        if name == b"content-disposition":
            self._part.content_disposition = value
        self._part.item_headers.append((name, value))
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        assert _multipart is not None
        part = self._part
        options = _disposition_options(part.content_disposition)
        if b"name" not in options:
            raise MultiPartException(
                'The Content-Disposition header field "name" must be provided.'
            )
        part.field_name = self._text(options[b"name"])
        filename = options.get(b"filename")
        if filename is None:
            self._fields += 1
            if self._fields > self.max_fields:
                raise MultiPartException(
                    f"Too many fields. Maximum number of fields is {self.max_fields}."
                )
            return
        self._files += 1
        if self._files > self.max_files:
            raise MultiPartException(
                f"Too many files. Maximum number of files is {self.max_files}."
            )
        # Owned by the UploadFile, which the caller closes.
        spool = SpooledTemporaryFile(max_size=self.spool_max_size)  # noqa: SIM115
        part.file = UploadFile(
            file=spool,
            size=0,
            filename=self._text(filename),
            headers=Headers(raw=part.item_headers),
        )
        self._uploads.append(part.file)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part.file is not None:
            if end > start:
                pending = self._pending
                if not pending or pending[-1][0] is not part.file:
                    pending.append((part.file, bytearray()))
                pending[-1][1].extend(memoryview(data)[start:end])
                self._pending_size += end - start
        elif len(part.data) + end - start > self.max_part_size:
            raise MultiPartException(
                f"Part exceeded maximum size of {int(self.max_part_size / 1024)}KB."
            )
        else:
            part.data += data[start:end]

    def on_part_end(self) -> None:
        part = self._part
        value = part.file if part.file is not None else self._text(part.data)
        self.items.append((part.field_name, value))

    async def _flush(self) -> None:
        """Write the pending file data: one write per run of data for the same file."""
        runs = self._pending
        self._pending = []
        self._pending_size = 0
        for upload, run in runs:
            await upload.write(bytes(run))

    async def parse(self) -> FormData:
        """Read the whole stream and return its fields and files, in order.

        Raises `MultiPartException` for a missing boundary, a malformed body or a limit
        exceeded; the files created so far are closed first.
        """
        assert _multipart is not None
        params = _multipart.parse_options_header(self.headers.get("content-type"))[1]
        charset = params.get(b"charset")
        if charset:
            self._text = _text_decoder(charset.decode("latin-1"))
        boundary = params.get(b"boundary")
        if not boundary:
            raise MultiPartException("Missing boundary in multipart.")
        callbacks = cast("MultipartCallbacks", {name: getattr(self, name) for name in _CALLBACKS})
        try:
            try:
                parser = _multipart.MultipartParser(boundary, callbacks)
                async for chunk in self.stream:
                    if chunk:
                        parser.write(chunk)
                        if self._pending_size >= _WRITE_BATCH_SIZE:
                            await self._flush()
                parser.finalize()
            except FormParserError as exc:
                raise MultiPartException("Invalid multipart data.") from exc
            await self._flush()
            kept = {id(value) for _, value in self.items if isinstance(value, UploadFile)}
            for upload in self._uploads:
                if id(upload) in kept:
                    await upload.seek(0)
        except BaseException:
            for upload in self._uploads:
                upload.file.close()
            raise
        # A part cut off by the end of the body is dropped, and so is its file.
        for upload in self._uploads:
            if id(upload) not in kept:
                upload.file.close()
        return FormData(self.items)
