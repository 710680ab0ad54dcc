"""The urlencoded parser: the same fields however the body is cut into chunks, decoding equal
to ``unquote_plus`` of the latin-1 text, and limits that stop before the excess is kept."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from urllib.parse import unquote_plus

import pytest

from stellina.datastructures import FormData, Headers
from stellina.formparsers import FormParser, MultiPartException

HEADERS = Headers({"content-type": "application/x-www-form-urlencoded"})


async def chunks_of(pieces: Iterable[bytes]) -> AsyncGenerator[bytes, None]:
    for piece in pieces:
        yield piece


def reference(body: bytes) -> list[tuple[str, str]]:
    """What the parser must give: every non-empty field, split at its first "="."""
    pairs = []
    for field in body.split(b"&"):
        if field:
            name, _, value = field.partition(b"=")
            pairs.append(
                (unquote_plus(name.decode("latin-1")), unquote_plus(value.decode("latin-1")))
            )
    return pairs


async def parse(pieces: Iterable[bytes], **limits: int) -> FormData:
    return await FormParser(HEADERS, chunks_of(pieces), **limits).parse()


TRICKY = [
    b"a=1&b=2",
    b"a=1&&b=&=c&d",
    b"sp=a+b&plus=%2B&pct=100%25",
    b"utf8=%C3%A9%E2%82%AC&bad=%C3&lower=%c3%a9",
    b"broken=%zz%4&tail=%",
    b"raw=\xe9t\xe9&mixed=\xe9%C3%A9",
    b"nul=%00x&bare=a\x00b",
    b"slash=\\x41%41\\&back=\\\\",
    b"eq=a=b=c&==&name%3Dx=1",
    b"k=" + b"abc%2Fxyz%21" * 300,
]


@pytest.mark.anyio
@pytest.mark.parametrize("body", TRICKY)
async def test_decoding_matches_unquote_plus(body: bytes) -> None:
    form = await parse([body])
    assert form.multi_items() == reference(body)


@pytest.mark.anyio
@pytest.mark.parametrize("body", TRICKY[:9])
async def test_every_cut_of_the_body_gives_the_same_fields(body: bytes) -> None:
    expected = reference(body)
    for cut in range(len(body) + 1):
        form = await parse([body[:cut], b"", body[cut:]])
        assert form.multi_items() == expected, cut


@pytest.mark.anyio
async def test_one_byte_chunks() -> None:
    body = b"first=one&second=t%77o&third"
    form = await parse([body[i : i + 1] for i in range(len(body))])
    assert form.multi_items() == [("first", "one"), ("second", "two"), ("third", "")]


@pytest.mark.anyio
async def test_an_empty_body_has_no_fields() -> None:
    assert await parse([]) == FormData()
    assert await parse([b"", b"&&&", b""]) == FormData()


@pytest.mark.anyio
async def test_empty_fields_do_not_count_towards_max_fields() -> None:
    form = await parse([b"&" * 10_000 + b"a=1&b=2" + b"&" * 10_000], max_fields=2)
    assert form.multi_items() == [("a", "1"), ("b", "2")]


@pytest.mark.anyio
@pytest.mark.parametrize("split", [False, True])
async def test_too_many_fields_stops_at_the_first_extra_field(split: bool) -> None:
    body = b"&".join(b"f%d=" % i for i in range(50_000))
    parser = FormParser(HEADERS, chunks_of([body[:7], body[7:]] if split else [body]), max_fields=5)
    with pytest.raises(
        MultiPartException, match=r"^Too many fields\. Maximum number of fields is 5\.$"
    ):
        await parser.parse()
    assert parser._current_fields == 6


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [b"name=" + b"v" * 2049, b"n" * 2049 + b"=v", b"n" * 2049, b"a=1&big=" + b"v" * 2049 + b"&c=3"],
    ids=["value", "name", "name-without-value", "middle-field"],
)
async def test_a_field_over_max_part_size_is_refused(body: bytes) -> None:
    with pytest.raises(MultiPartException, match=r"^Field exceeded maximum size of 2KB\.$"):
        await parse([body], max_part_size=2048)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "chunks", [[b"n" * 1024 + b"=" + b"v" * 1024], [b"n" * 1024, b"=", b"v" * 1024]]
)
async def test_name_and_value_share_the_limit(chunks: list[bytes]) -> None:
    form = await parse(chunks, max_part_size=2048)
    assert form["n" * 1024] == "v" * 1024
    with pytest.raises(MultiPartException, match="Field exceeded maximum size of 2KB"):
        await parse([*chunks, b"v"], max_part_size=2048)


@pytest.mark.anyio
async def test_a_streamed_field_over_the_limit_is_not_buffered_past_it() -> None:
    parser = FormParser(HEADERS, chunks_of([b"f="] + [b"x" * 1000] * 10_000), max_part_size=4096)
    with pytest.raises(MultiPartException, match="Field exceeded maximum size"):
        await parser.parse()
    assert len(parser._field_value) <= 4096


@pytest.mark.anyio
async def test_a_huge_single_chunk_is_refused_without_copying_it() -> None:
    parser = FormParser(HEADERS, chunks_of([b"f=" + b"x" * (32 * 1024 * 1024)]), max_part_size=1024)
    with pytest.raises(MultiPartException):
        await parser.parse()
    assert parser._field_value == b""


@pytest.mark.anyio
async def test_many_fields_in_many_chunks() -> None:
    body = b"&".join(b"field%d=value+%d%%21" % (i, i) for i in range(1000))
    form = await parse([body[i : i + 64] for i in range(0, len(body), 64)])
    assert len(form.multi_items()) == 1000
    assert form["field999"] == "value 999!"


@pytest.mark.anyio
async def test_a_field_sent_a_byte_at_a_time_is_not_held_as_an_object_per_byte() -> None:
    body = b"name=" + b"v%20+" * 2000 + b"&next=1"
    parser = FormParser(HEADERS, chunks_of(body[i : i + 1] for i in range(len(body))))
    form = await parser.parse()
    assert list(form.multi_items()) == reference(body)
    assert parser._pieces == []

    held = FormParser(HEADERS, chunks_of([]))
    for byte in b"name=" + b"x" * 100:
        held._grow_partial(bytes([byte]))
    assert len(held._pieces) <= 32  # the rest was moved into one buffer
    assert held._field_value == b"x" * 100


@pytest.mark.anyio
@pytest.mark.parametrize("count", [32, 33, 34, 66, 99])
@pytest.mark.parametrize("tail", [b"", b"&last=1"])
async def test_a_field_whose_pieces_were_all_moved_to_the_buffer_is_kept(
    count: int, tail: bytes
) -> None:
    # A field of exactly 33 (or 66...) pieces has none left in the list when it ends.
    field = b"f=" + b"x" * (count - 2)
    pieces = [field[i : i + 1] for i in range(len(field))]
    pieces += [tail] if tail else []
    form = await parse(pieces)
    assert list(form.multi_items()) == reference(field + tail)
