"""MultiPartParser: multipart/form-data bodies, driven with a plain stream."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import AsyncGenerator, Callable, Iterable
from tempfile import SpooledTemporaryFile
from typing import Any

import pytest

from stellina import formparsers
from stellina.datastructures import FormData, Headers, UploadFile
from stellina.formparsers import MultiPartException, MultiPartParser, MultipartPart

BOUNDARY = "a7f3c2e1d0b9"


def content_type(boundary: str = BOUNDARY, extra: str = "") -> Headers:
    return Headers({"content-type": f"multipart/form-data; boundary={boundary}{extra}"})


def field(name: str, value: bytes | str, *, headers: Iterable[bytes] = ()) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    head = [b'Content-Disposition: form-data; name="%s"' % name.encode(), *headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + value


def file(
    name: str,
    filename: bytes | str,
    content: bytes,
    content_type: str = "text/plain",
) -> bytes:
    if isinstance(filename, str):
        filename = filename.encode()
    return (
        b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
        b"Content-Type: %s\r\n\r\n" % (name.encode(), filename, content_type.encode())
    ) + content


def body_of(*parts: bytes, boundary: str = BOUNDARY, close: bool = True) -> bytes:
    delimiter = b"--" + boundary.encode()
    out = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts)
    return out + delimiter + b"--\r\n" if close else out


async def stream_of(chunks: Iterable[bytes]) -> AsyncGenerator[bytes, None]:
    for chunk in chunks:
        yield chunk


def split_every(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


async def parse(
    body: bytes, headers: Headers | None = None, chunk_size: int = 65536, **limits: Any
) -> FormData:
    chunks = [*split_every(body, chunk_size), b""]
    headers = content_type() if headers is None else headers
    parser = MultiPartParser(headers, stream_of(chunks), **limits)
    return await parser.parse()


async def text_of(upload: UploadFile | str) -> bytes:
    assert isinstance(upload, UploadFile)
    return await upload.read()


@pytest.mark.anyio
async def test_fields_and_files() -> None:
    body = body_of(
        field("title", "hello"),
        file("doc", "notes.txt", b"line 1\r\nline 2\r\n"),
        field("title", "again"),
        file("doc", "data.bin", b"\x00\xff" * 10, content_type="application/octet-stream"),
    )
    form = await parse(body)
    assert form.getlist("title") == ["hello", "again"]
    first, second = form.getlist("doc")
    assert isinstance(first, UploadFile)
    assert isinstance(second, UploadFile)
    assert first.filename == "notes.txt"
    assert first.content_type == "text/plain"
    assert first.size == 16
    assert await first.read() == b"line 1\r\nline 2\r\n"
    assert second.content_type == "application/octet-stream"
    assert await second.read() == b"\x00\xff" * 10
    assert first.headers.raw == [
        (b"content-disposition", b'form-data; name="doc"; filename="notes.txt"'),
        (b"content-type", b"text/plain"),
    ]
    assert [key for key, _ in form.multi_items()] == ["title", "doc", "title", "doc"]
    await form.close()
    assert first.file.closed
    assert second.file.closed


@pytest.mark.anyio
async def test_empty_form_and_empty_values() -> None:
    assert (await parse(b"--" + BOUNDARY.encode() + b"--\r\n")).multi_items() == []
    form = await parse(body_of(field("empty", b""), file("upload", "", b"")))
    assert form["empty"] == ""
    upload = form["upload"]
    assert isinstance(upload, UploadFile)
    assert upload.filename == ""
    assert upload.size == 0
    assert await upload.read() == b""


@pytest.mark.anyio
async def test_field_values_are_not_stripped_or_unquoted() -> None:
    form = await parse(body_of(field("a", b"  x+y%20z\r\n")))
    assert form["a"] == "  x+y%20z\r\n"


@pytest.mark.anyio
@pytest.mark.parametrize("chunk_size", [1, 3, 17, 4096])
async def test_result_does_not_depend_on_chunking(chunk_size: int) -> None:
    body = body_of(
        field("a", "first value"),
        file("f", "x.txt", b"--" + BOUNDARY.encode()[:-1] + b"\r\n almost a boundary"),
        field("b", "é"),
    )
    form = await parse(body, chunk_size=chunk_size)
    assert form["a"] == "first value"
    assert form["b"] == "é"
    assert await text_of(form["f"]) == b"--" + BOUNDARY.encode()[:-1] + b"\r\n almost a boundary"


@pytest.mark.anyio
async def test_quoted_boundary_and_extra_params() -> None:
    headers = Headers(
        {"content-type": f'multipart/form-data; charset=utf-8; boundary="{BOUNDARY}"'}
    )
    form = await parse(body_of(field("a", "1")), headers=headers)
    assert form["a"] == "1"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "value", "filename", "charset", "expected_value", "expected_filename"),
    [
        ("naïve", b"ok", "résumé ✓.txt".encode(), "", "ok", "résumé ✓.txt"),
        ("name", "café".encode("latin-1"), "é.txt".encode("latin-1"), "latin-1", "café", "é.txt"),
        ("bad", b"\xff\xfe", b"\xe9.txt", "", "\xff\xfe", "\xe9.txt"),
    ],
    ids=["utf8-names-and-filenames", "charset-parameter", "undecodable-falls-back-to-latin1"],
)
async def test_fields_and_filenames_are_decoded(
    name: str,
    value: bytes,
    filename: bytes,
    charset: str,
    expected_value: str,
    expected_filename: str,
) -> None:
    body = body_of(field(name, value), file("f", filename, b"cv"))
    form = await parse(body, headers=content_type(extra=f"; charset={charset}" if charset else ""))
    assert form[name] == expected_value
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert upload.filename == expected_filename


@pytest.mark.anyio
async def test_unknown_charset_falls_back_to_latin1() -> None:
    unknown = await parse(
        body_of(field("a", b"\xe9")), headers=content_type(extra="; charset=nope")
    )
    assert unknown["a"] == "\xe9"


@pytest.mark.anyio
async def test_windows_path_filenames_keep_only_the_name() -> None:
    form = await parse(body_of(file("f", "C:\\Users\\me\\report.pdf", b"%PDF")))
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert upload.filename == "report.pdf"


@pytest.mark.anyio
async def test_escaped_quotes_in_filename() -> None:
    form = await parse(body_of(file("f", b'say \\"hi\\".txt', b"")))
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert upload.filename == 'say "hi".txt'


@pytest.mark.anyio
async def test_missing_boundary() -> None:
    headers = Headers({"content-type": "multipart/form-data"})
    with pytest.raises(MultiPartException) as info:
        await parse(body_of(field("a", "1")), headers=headers)
    assert info.value.message == "Missing boundary in multipart."
    assert str(info.value) == "Missing boundary in multipart."
    with pytest.raises(MultiPartException, match="Missing boundary in multipart."):
        await parse(body_of(field("a", "1")), headers=Headers())
    with pytest.raises(MultiPartException, match="Missing boundary in multipart."):
        await parse(b"", headers=Headers({"content-type": 'multipart/form-data; boundary=""'}))


@pytest.mark.anyio
async def test_overlong_boundary() -> None:
    boundary = "b" * 300
    with pytest.raises(MultiPartException):
        await parse(body_of(field("a", "1"), boundary=boundary), headers=content_type(boundary))


@pytest.mark.anyio
@pytest.mark.parametrize(
    "part",
    [
        b"Content-Disposition: form-data\r\n\r\nvalue",
        b'Content-Disposition: form-data; filename="x.txt"\r\n\r\nvalue',
        b"Content-Type: text/plain\r\n\r\nvalue",
        b"\r\nvalue",
    ],
)
async def test_part_without_a_name(part: bytes) -> None:
    with pytest.raises(MultiPartException) as info:
        await parse(body_of(part))
    assert info.value.message == 'The Content-Disposition header field "name" must be provided.'


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        b"not a multipart body at all",
        b"--" + BOUNDARY.encode() + b"XX\r\n",
        b"--" + BOUNDARY.encode() + b"\r\nno colon in this header line\r\n\r\nv\r\n",
        b"--" + BOUNDARY.encode() + b"\r\n\x00\x01\x02: x\r\n\r\nv\r\n",
    ],
)
async def test_malformed_bodies_raise_multipart_exception(body: bytes) -> None:
    with pytest.raises(MultiPartException) as info:
        await parse(body)
    assert info.value.message


@pytest.mark.anyio
async def test_too_many_fields() -> None:
    body = body_of(*[field(f"f{i}", "x") for i in range(1001)])
    with pytest.raises(MultiPartException) as info:
        await parse(body)
    assert info.value.message == "Too many fields. Maximum number of fields is 1000."
    ok = await parse(body_of(*[field(f"f{i}", "x") for i in range(1000)]))
    assert len(ok) == 1000


@pytest.mark.anyio
async def test_too_many_files() -> None:
    body = body_of(*[file("f", f"{i}.txt", b"x") for i in range(1001)])
    with pytest.raises(MultiPartException) as info:
        await parse(body)
    assert info.value.message == "Too many files. Maximum number of files is 1000."


@pytest.mark.anyio
async def test_custom_limits() -> None:
    two_files = body_of(file("f", "a", b""), file("f", "b", b""), field("x", "1"))
    with pytest.raises(
        MultiPartException, match=r"^Too many files. Maximum number of files is 1.$"
    ):
        await parse(two_files, max_files=1)
    with pytest.raises(
        MultiPartException, match=r"^Too many fields. Maximum number of fields is 0.$"
    ):
        await parse(two_files, max_fields=0)
    form = await parse(two_files, max_files=float("inf"), max_fields=float("inf"))
    assert len(form.getlist("f")) == 2
    await form.close()


@pytest.mark.anyio
async def test_field_over_max_part_size() -> None:
    limit = 1024 * 1024
    ok = await parse(body_of(field("a", b"x" * limit)))
    value = ok["a"]
    assert isinstance(value, str)
    assert len(value) == limit
    with pytest.raises(MultiPartException) as info:
        await parse(body_of(field("a", b"x" * (limit + 1))))
    assert info.value.message == "Part exceeded maximum size of 1024KB."
    with pytest.raises(MultiPartException, match=r"^Part exceeded maximum size of 2KB.$"):
        await parse(body_of(field("a", b"x" * 2049)), max_part_size=2048)


@pytest.mark.anyio
async def test_files_are_not_limited_by_max_part_size() -> None:
    form = await parse(body_of(file("f", "big.bin", b"y" * 5000)), max_part_size=1024)
    assert await text_of(form["f"]) == b"y" * 5000
    await form.close()


async def endless(prefix: bytes, filler: bytes, counter: list[int]) -> AsyncGenerator[bytes, None]:
    yield prefix
    while True:
        counter[0] += 1
        if counter[0] > 10_000:  # pragma: no cover - the parser failed to stop
            raise AssertionError("the parser kept reading")
        yield filler


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("after_boundary", "filler", "match"),
    [
        (
            b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n',
            b"z" * 65536,
            "Part exceeded maximum size of 1024KB.",
        ),
        (b"\r\nX-Long: ", b"h" * 1024, None),
        (b"\r\n", b"n" * 1024, None),
    ],
    ids=["field", "header-value", "header-name"],
)
async def test_endless_part_is_cut_off(
    after_boundary: bytes, filler: bytes, match: str | None
) -> None:
    counter = [0]
    prefix = b"--" + BOUNDARY.encode() + after_boundary
    parser = MultiPartParser(content_type(), endless(prefix, filler, counter))
    with pytest.raises(MultiPartException, match=match):
        await parser.parse()
    assert counter[0] <= 17


@pytest.mark.anyio
async def test_many_long_part_headers_are_refused() -> None:
    headers = [b"X-Pad-%d: %s" % (i, b"p" * 4000) for i in range(6)]
    with pytest.raises(MultiPartException):
        await parse(body_of(field("a", "1", headers=headers)))


@pytest.mark.anyio
async def test_truncated_body_drops_the_unfinished_part() -> None:
    body = body_of(field("a", "1"), file("f", "x.txt", b"partial"), close=False)
    truncated = body[: body.rindex(b"partial") + 4]
    created: list[UploadFile] = []
    parser = MultiPartParser(content_type(), stream_of([truncated, b""]))
    form = await parser.parse()
    created = [value for _, value in parser.items if isinstance(value, UploadFile)]
    assert form.multi_items() == [("a", "1")]
    assert created == []


@pytest.mark.anyio
async def test_truncated_file_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    spools: list[SpooledTemporaryFile[bytes]] = []

    class Recording(SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, max_size: int) -> None:
            super().__init__(max_size=max_size)
            spools.append(self)

    monkeypatch.setattr(formparsers, "SpooledTemporaryFile", Recording)
    body = body_of(file("done", "a.txt", b"ok"), file("cut", "b.txt", b"partial"), close=False)
    truncated = body[: body.rindex(b"partial") + 4]
    form = await parse(truncated)
    assert list(form.keys()) == ["done"]
    assert len(spools) == 2
    assert not spools[0].closed
    assert spools[1].closed
    await form.close()


async def failing_after(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data
    raise ConnectionResetError("client went away")


ONE_FILE_THEN_FIELDS = body_of(file("f", "a.txt", b"data"), field("x", "1"), field("y", "2"))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("stream", "limits", "error"),
    [
        (lambda: stream_of([ONE_FILE_THEN_FIELDS, b""]), {"max_fields": 1}, MultiPartException),
        (
            lambda: failing_after(ONE_FILE_THEN_FIELDS[: ONE_FILE_THEN_FIELDS.index(b'name="x"')]),
            {},
            ConnectionResetError,
        ),
    ],
    ids=["a-limit-is-hit", "the-stream-fails"],
)
async def test_files_are_closed_when_parsing_fails(
    stream: Callable[[], AsyncGenerator[bytes, None]],
    limits: dict[str, int],
    error: type[Exception],
) -> None:
    parser = MultiPartParser(content_type(), stream(), **limits)
    with pytest.raises(error):
        await parser.parse()
    uploads = [value for _, value in parser.items if isinstance(value, UploadFile)]
    assert len(uploads) == 1
    assert uploads[0].file.closed


@pytest.mark.anyio
async def test_large_file_rolls_to_disk_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    loop_thread = threading.get_ident()
    disk_writes_on_loop: list[int] = []
    rollovers: list[int] = []

    class Recording(SpooledTemporaryFile):  # type: ignore[type-arg]
        def rollover(self) -> None:
            rollovers.append(threading.get_ident())
            super().rollover()

        def write(self, data: bytes) -> int:  # type: ignore[override]
            if self._rolled and threading.get_ident() == loop_thread:  # type: ignore[attr-defined]
                disk_writes_on_loop.append(len(data))
            return super().write(data)

    monkeypatch.setattr(formparsers, "SpooledTemporaryFile", Recording)
    content = bytes(range(256)) * (12 * 1024)  # 3 MiB
    form = await parse(
        body_of(file("f", "big.bin", content), field("after", "x")), chunk_size=65536
    )
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert upload.size == len(content)
    assert upload.file._rolled  # type: ignore[attr-defined]
    assert rollovers
    assert loop_thread not in rollovers
    assert disk_writes_on_loop == []
    assert await upload.read() == content
    assert form["after"] == "x"
    await form.close()


@pytest.mark.anyio
async def test_small_files_stay_in_memory() -> None:
    form = await parse(body_of(file("f", "small.txt", b"s" * 1000)))
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert not upload.file._rolled  # type: ignore[attr-defined]
    await form.close()


@pytest.mark.anyio
async def test_preamble_and_epilogue() -> None:
    body = b"\r\n" + body_of(field("a", "1")) + b"epilogue bytes"
    form = await parse(body)
    assert form["a"] == "1"


def test_exception_carries_message() -> None:
    exc = MultiPartException("Oops.")
    assert exc.message == "Oops."
    assert str(exc) == "Oops."
    assert isinstance(exc, Exception)


def test_module_imports_without_python_multipart() -> None:
    code = """
import sys
sys.modules["python_multipart"] = None
import asyncio
from stellina.datastructures import Headers
from stellina.formparsers import FormParser, MultiPartException, MultiPartParser

async def stream():
    yield b"a=1&b=2"

async def main():
    form = await FormParser(Headers(), stream()).parse()
    print(form.multi_items())
    try:
        MultiPartParser(Headers(), stream())
    except AssertionError as exc:
        print(exc)

asyncio.run(main())
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines() == [
        "[('a', '1'), ('b', '2')]",
        "The `python-multipart` library must be installed to use form parsing.",
    ]


def test_multipart_part_defaults_are_not_shared() -> None:
    first, second = MultipartPart(), MultipartPart()
    assert first.content_disposition is None
    assert first.field_name == ""
    assert first.file is None
    first.data += b"x"
    first.item_headers.append((b"a", b"b"))
    assert second.data == bytearray()
    assert second.item_headers == []
