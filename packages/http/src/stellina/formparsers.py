"""Streaming parsers for urlencoded and multipart form bodies."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING, BinaryIO, cast

from stellina.datastructures import FormData, Headers, UploadFile, parse_query_string

try:
    import python_multipart.multipart as _multipart
    from python_multipart.exceptions import FormParserError
except ImportError:  # the `multipart` extra is not installed
    _multipart = None  # type: ignore[assignment]
    FormParserError = ValueError  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

_MISSING_MULTIPART = "The `python-multipart` library must be installed to use form parsing."

# Part headers are kept on each UploadFile, so they are bounded per part.
_MAX_PART_HEADERS_SIZE = 16 * 1024
# File data is collected and written in batches of about this size, so that a file
# that lives on disk costs one thread hop per batch rather than one per received chunk.
_WRITE_BATCH_SIZE = 1024 * 1024


@dataclass
class MultipartPart:
    """One part of a multipart body, as far as it has been parsed."""

    content_disposition: bytes | None = None
    field_name: str = ""
    data: bytearray = field(default_factory=bytearray)
    file: UploadFile | None = None
    item_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class MultiPartException(Exception):
    """A multipart body that cannot be accepted; ``message`` says why."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class FormParser:
    """Parses an ``application/x-www-form-urlencoded`` body as it streams in.

    At most ``max_fields`` fields, each at most ``max_part_size`` bytes (name and value,
    still encoded); past either limit parsing stops with a ``MultiPartException``.
    """

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        self.headers = headers
        self.stream = stream
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self._fields = 0

    async def parse(self) -> FormData:
        """Read the whole stream and return its fields, in order."""
        items: list[tuple[str, str | UploadFile]] = []
        tail: list[bytes] = []  # bytes after the last "&" seen, not yet parsed
        tail_size = 0
        async for chunk in self.stream:
            cut = chunk.rfind(b"&")
            if cut < 0:
                if chunk:
                    tail.append(chunk)
                    tail_size += len(chunk)
                    if tail_size > self.max_part_size + 1:  # one field, "=" aside
                        raise self._too_large()
                continue
            head = chunk[:cut]
            if tail:
                tail.append(head)
                head = b"".join(tail)
                tail.clear()
            items.extend(self._fields_of(head))
            tail_size = len(chunk) - cut - 1
            if tail_size:
                tail.append(chunk[cut + 1 :])
        if tail:
            items.extend(self._fields_of(b"".join(tail)))
        return FormData(items)

    def _fields_of(self, data: bytes) -> list[tuple[str, str]]:
        """The fields of whole ``&``-separated segments, counted and size-checked."""
        for segment in data.split(b"&"):
            if segment:
                if len(segment) - (b"=" in segment) > self.max_part_size:
                    raise self._too_large()
                self._fields += 1
                if self._fields > self.max_fields:
                    raise MultiPartException(
                        f"Too many fields. Maximum number of fields is {self.max_fields}."
                    )
        return parse_query_string(data.decode("latin-1"))

    def _too_large(self) -> MultiPartException:
        return MultiPartException(
            f"Field exceeded maximum size of {int(self.max_part_size / 1024)}KB."
        )


def _decode(data: bytes | bytearray, charset: str) -> str:
    """Decode with the body's charset, falling back to latin-1 (which never fails)."""
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return data.decode("latin-1")


class MultiPartParser:
    """Parses a ``multipart/form-data`` body as it streams in.

    Fields are held in memory up to ``max_part_size`` bytes each; files spool into
    ``UploadFile`` objects that move to disk past ``spool_max_size``, with disk writes
    done in a worker thread.
    """

    spool_max_size = 1024 * 1024
    """The in-memory size of each uploaded file before it moves to disk."""
    max_part_size = 1024 * 1024
    """The default maximum size of a non-file part."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        if _multipart is None:
            raise AssertionError(_MISSING_MULTIPART)
        self.headers = headers
        self.stream = stream
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self.items: list[tuple[str, str | UploadFile]] = []
        self._charset = "utf-8"
        self._files = 0
        self._fields = 0
        self._part = MultipartPart()
        self._headers_size = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        # File data not yet written; every file created (to close on error).
        self._pending: list[tuple[UploadFile, bytes]] = []
        self._pending_size = 0
        self._uploads: list[UploadFile] = []

    # python-multipart callbacks: plain functions, so they only collect; parse() awaits.

    def on_part_begin(self) -> None:
        self._part = MultipartPart()
        self._headers_size = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._header_value += data[start:end]

    def _grow_headers(self, size: int) -> None:
        self._headers_size += size
        if self._headers_size > _MAX_PART_HEADERS_SIZE:
            raise MultiPartException(
                f"Part headers exceeded maximum size of {_MAX_PART_HEADERS_SIZE // 1024}KB."
            )

    def on_header_end(self) -> None:
        name = bytes(self._header_name).lower()
        value = bytes(self._header_value)
        if name == b"content-disposition":
            self._part.content_disposition = value
        self._part.item_headers.append((name, value))
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        assert _multipart is not None
        part = self._part
        _, options = _multipart.parse_options_header(part.content_disposition)
        try:
            part.field_name = _decode(options[b"name"], self._charset)
        except KeyError:
            raise MultiPartException(
                'The Content-Disposition header field "name" must be provided.'
            ) from None
        if b"filename" in options:
            self._files += 1
            if self._files > self.max_files:
                raise MultiPartException(
                    f"Too many files. Maximum number of files is {self.max_files}."
                )
            # Owned by the UploadFile, which the caller closes.
            spool = SpooledTemporaryFile(max_size=self.spool_max_size)  # noqa: SIM115
            upload = UploadFile(
                file=cast(BinaryIO, spool),
                size=0,
                filename=_decode(options[b"filename"], self._charset),
                headers=Headers(raw=part.item_headers),
            )
            self._uploads.append(upload)
            part.file = upload
        else:
            self._fields += 1
            if self._fields > self.max_fields:
                raise MultiPartException(
                    f"Too many fields. Maximum number of fields is {self.max_fields}."
                )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        upload = part.file
        if upload is None:
            if len(part.data) + end - start > self.max_part_size:
                raise MultiPartException(
                    f"Part exceeded maximum size of {int(self.max_part_size / 1024)}KB."
                )
            part.data += data[start:end]
        elif end > start:
            self._pending.append((upload, data[start:end]))
            self._pending_size += end - start

    def on_part_end(self) -> None:
        part = self._part
        if part.file is None:
            self.items.append((part.field_name, _decode(part.data, self._charset)))
        else:
            self.items.append((part.field_name, part.file))

    async def _flush(self) -> None:
        """Write pending file data, one write per run of data for the same file."""
        pending = self._pending
        start = 0
        while start < len(pending):
            upload = pending[start][0]
            stop = start + 1
            while stop < len(pending) and pending[stop][0] is upload:
                stop += 1
            if stop - start == 1:
                await upload.write(pending[start][1])
            else:
                await upload.write(b"".join([piece for _, piece in pending[start:stop]]))
            start = stop
        pending.clear()
        self._pending_size = 0

    async def parse(self) -> FormData:
        """Read the whole stream and return its fields and files, in order.

        Raises MultiPartException for a missing boundary, a malformed body or a
        limit exceeded; files created so far are closed first.
        """
        assert _multipart is not None
        _, params = _multipart.parse_options_header(self.headers.get("content-type"))
        charset = params.get(b"charset")
        if charset:
            self._charset = charset.decode("latin-1")
        boundary = params.get(b"boundary")
        if not boundary:
            raise MultiPartException("Missing boundary in multipart.")
        callbacks: MultipartCallbacks = {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }
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
                raise MultiPartException(f"Malformed multipart body: {exc}") from exc
            await self._flush()
            kept: set[int] = set()
            for _, value in self.items:
                if isinstance(value, UploadFile):
                    kept.add(id(value))
                    await value.seek(0)
        except BaseException:
            for upload in self._uploads:
                upload.file.close()
            raise
        # A part cut off by the end of the body is dropped, and so is its file.
        for upload in self._uploads:
            if id(upload) not in kept:
                upload.file.close()
        return FormData(self.items)
