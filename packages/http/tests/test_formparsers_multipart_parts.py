"""Multipart parts: Content-Disposition read like python-multipart, charset looked up once,
malformed bodies refused with "Invalid multipart data.", the deprecated FormMessage."""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator

import pytest
import python_multipart.multipart as reference

from stellina.asgi import StellinaDeprecationWarning
from stellina.datastructures import Headers, UploadFile
from stellina.formparsers import (
    FormMessage,
    MultiPartException,
    MultiPartParser,
    MultipartPart,
    _disposition_options,
)


async def one_chunk(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


def parser_for(
    body: bytes, content_type: str = "multipart/form-data; boundary=b"
) -> MultiPartParser:
    return MultiPartParser(Headers({"content-type": content_type}), one_chunk(body))


@pytest.mark.parametrize(
    "value",
    [
        b'form-data; name="a"',
        b'form-data; name="a"; filename="b.txt"',
        b'form-data; name=""; filename=""',
        b'form-data; name="a;b"; filename="c d.txt"',
        b'form-data; name="\xe6\x96\x87"; filename="\xe6\x96\x87.txt"',
        b'form-data; name="a"; filename="C:\\\\dir\\\\b.txt"',
        b'form-data; name="a"; filename="dir/b.txt"',
        b'form-data; name="a\\"q"',
        b"form-data; name=a; filename=b",
        b'Form-Data; Name="a"',
        b"form-data; filename*=UTF-8''%e2%82%ac.txt; name=\"x\"",
        b"form-data",
    ],
)
def test_disposition_options_match_python_multipart(value: bytes) -> None:
    assert _disposition_options(value) == reference.parse_options_header(value)[1]


@pytest.mark.anyio
async def test_parse_gives_fields_then_files_with_their_headers() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n'
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\nX-Extra: 1\r\n\r\nfile body\r\n"
        b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nagain\r\n'
        b"--b--\r\n"
    )
    form = await parser_for(body).parse()
    try:
        assert form.getlist("title") == ["hello", "again"]
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        assert upload.filename == "a.txt"
        assert upload.content_type == "text/plain"
        assert upload.headers["x-extra"] == "1"
        assert upload.size == 9
        assert await upload.read() == b"file body"
    finally:
        await form.close()


@pytest.mark.anyio
async def test_charset_is_looked_up_once() -> None:
    searched: list[str] = []

    def search(name: str) -> None:
        searched.append(name)

    body = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(20)
    )
    codecs.register(search)  # type: ignore[arg-type]
    try:
        parser = parser_for(
            body + b"--b--\r\n", "multipart/form-data; charset=no-such-cs; boundary=b"
        )
        form = await parser.parse()
    finally:
        codecs.unregister(search)  # type: ignore[arg-type]
    assert len(form) == 20
    assert searched == ["no_such_cs"]


@pytest.mark.anyio
async def test_undecodable_names_fall_back_to_latin_1() -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="\xff"\r\n\r\n\xfe\r\n--b--\r\n'
    form = await parser_for(body).parse()
    assert form.multi_items() == [("\xff", "\xfe")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        b"--b\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(20)) + b"\r\nv\r\n--b--\r\n",
        b"--b\r\nContent-Disposition form-data\r\n\r\nv\r\n--b--\r\n",
    ],
    ids=["too-many-headers", "header-without-colon"],
)
async def test_malformed_bodies_are_invalid_multipart_data(body: bytes) -> None:
    with pytest.raises(MultiPartException, match=r"^Invalid multipart data\.$"):
        await parser_for(body).parse()


@pytest.mark.anyio
async def test_a_boundary_too_long_is_invalid_multipart_data() -> None:
    boundary = "B" * 300
    parser = parser_for(b"", f"multipart/form-data; boundary={boundary}")
    with pytest.raises(MultiPartException, match=r"^Invalid multipart data\.$"):
        await parser.parse()


@pytest.mark.anyio
async def test_huge_part_headers_are_refused() -> None:
    body = b"--b\r\nX-Big: " + b"v" * 40_000 + b"\r\n\r\nv\r\n--b--\r\n"
    with pytest.raises(MultiPartException):
        await parser_for(body).parse()


def test_multipart_part_defaults_are_fresh() -> None:
    first, second = MultipartPart(), MultipartPart()
    first.data += b"x"
    first.item_headers.append((b"a", b"b"))
    assert (second.data, second.item_headers, second.file, second.field_name) == (
        bytearray(),
        [],
        None,
        "",
    )
    assert second.content_disposition is None


def test_form_message_warns_when_called() -> None:
    with pytest.warns(StellinaDeprecationWarning, match="`FormMessage` is deprecated"):
        assert FormMessage(3) is FormMessage.FIELD_DATA
    assert [member.value for member in FormMessage] == [1, 2, 3, 4, 5]
