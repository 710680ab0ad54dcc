"""FormParser: application/x-www-form-urlencoded bodies, driven with a plain stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable

import pytest

from stellina.datastructures import FormData, Headers
from stellina.formparsers import FormParser

HEADERS = Headers({"content-type": "application/x-www-form-urlencoded"})


async def stream_of(chunks: Iterable[bytes]) -> AsyncGenerator[bytes, None]:
    for chunk in chunks:
        yield chunk


async def parse(*chunks: bytes, max_fields: float = 1000, max_part_size: int = 1024**2) -> FormData:
    parser = FormParser(
        HEADERS, stream_of(chunks), max_fields=max_fields, max_part_size=max_part_size
    )
    return await parser.parse()


def split_every(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.anyio
async def test_simple_form() -> None:
    form = await parse(b"name=Ada&lang=en&lang=fr", b"")
    assert isinstance(form, FormData)
    assert form.multi_items() == [("name", "Ada"), ("lang", "en"), ("lang", "fr")]
    assert form["lang"] == "fr"


@pytest.mark.anyio
async def test_empty_body() -> None:
    assert (await parse()).multi_items() == []
    assert (await parse(b"")).multi_items() == []
    assert (await parse(b"", b"")).multi_items() == []


@pytest.mark.anyio
async def test_decoding() -> None:
    form = await parse(b"a=caf%C3%A9&b=x+y&c=1%2B1&d=%26%3D&%F0%9F%98%80=smile")
    assert form.multi_items() == [
        ("a", "café"),
        ("b", "x y"),
        ("c", "1+1"),
        ("d", "&="),
        ("\U0001f600", "smile"),
    ]


@pytest.mark.anyio
async def test_blank_and_odd_fields() -> None:
    form = await parse(b"&a=&b&=c&&d=e=f&")
    assert form.multi_items() == [("a", ""), ("b", ""), ("", "c"), ("d", "e=f")]


@pytest.mark.anyio
async def test_semicolon_is_not_a_separator() -> None:
    assert (await parse(b"a=1;b=2")).multi_items() == [("a", "1;b=2")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"a=%", "%"),
        (b"a=%2", "%2"),
        (b"a=%zz", "%zz"),
        (b"a=%C3", "\ufffd"),
        (b"a=%C3%28", "\ufffd("),
        (b"a=\xe9", "\xe9"),
        (b"a=%00", "\x00"),
    ],
)
async def test_bad_percent_encoding_never_raises(body: bytes, expected: str) -> None:
    assert (await parse(body)).multi_items() == [("a", expected)]


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
async def test_result_does_not_depend_on_chunking(size: int) -> None:
    body = b"first=1&second=caf%C3%A9&&third=a+b&empty=&flag&last=%F0%9F%98%80"
    expected = (await parse(body)).multi_items()
    assert (await parse(*split_every(body, size), b"")).multi_items() == expected
    assert expected == [
        ("first", "1"),
        ("second", "café"),
        ("third", "a b"),
        ("empty", ""),
        ("flag", ""),
        ("last", "\U0001f600"),
    ]


@pytest.mark.anyio
async def test_many_fields() -> None:
    body = b"&".join(b"field%d=value%d" % (i, i) for i in range(50_000))
    form = await parse(*split_every(body, 65536), b"", max_fields=50_000)
    assert len(form) == 50_000
    assert form["field0"] == "value0"
    assert form["field49999"] == "value49999"


@pytest.mark.anyio
async def test_one_huge_field_streamed_in_small_chunks() -> None:
    value = b"x" * 2_000_000
    form = await parse(b"big=", *split_every(value, 1000), b"&small=1", max_part_size=2_000_003)
    big = form["big"]
    assert isinstance(big, str)
    assert len(big) == 2_000_000
    assert form["small"] == "1"


@pytest.mark.anyio
async def test_stream_without_final_empty_chunk() -> None:
    assert (await parse(b"a=1&", b"b=2")).multi_items() == [("a", "1"), ("b", "2")]


@pytest.mark.anyio
async def test_stream_errors_propagate() -> None:
    async def broken() -> AsyncGenerator[bytes, None]:
        yield b"a=1&"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await FormParser(HEADERS, broken()).parse()
