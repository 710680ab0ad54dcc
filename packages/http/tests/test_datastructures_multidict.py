"""ImmutableMultiDict, MultiDict, QueryParams and FormData."""

from __future__ import annotations

import io
import random
from urllib.parse import parse_qsl

import pytest

from stellina.datastructures import (
    FormData,
    ImmutableMultiDict,
    MultiDict,
    QueryParams,
    UploadFile,
)


def test_immutable_multidict_lookups() -> None:
    q = ImmutableMultiDict([("a", "123"), ("a", "456"), ("b", "789")])
    assert "a" in q
    assert "A" not in q
    assert "c" not in q
    assert q["a"] == "456"
    assert q.get("a") == "456"
    assert q.get("nope") is None
    assert q.get("nope", "default") == "default"
    assert q.getlist("a") == ["123", "456"]
    assert q.getlist("missing") == []
    assert list(q.keys()) == ["a", "b"]
    assert list(q.values()) == ["456", "789"]
    assert list(q.items()) == [("a", "456"), ("b", "789")]
    assert len(q) == 2
    assert list(q) == ["a", "b"]
    assert dict(q) == {"a": "456", "b": "789"}
    assert repr(q) == "ImmutableMultiDict([('a', '123'), ('a', '456'), ('b', '789')])"
    with pytest.raises(KeyError):
        q["missing"]


def test_immutable_multidict_key_order_is_first_seen() -> None:
    q = ImmutableMultiDict([("b", 1), ("a", 2), ("b", 3)])
    assert list(q.items()) == [("b", 3), ("a", 2)]


def test_immutable_multidict_sources() -> None:
    assert ImmutableMultiDict() == ImmutableMultiDict([])
    assert ImmutableMultiDict({"a": "1"}).multi_items() == [("a", "1")]
    assert ImmutableMultiDict(a="1", b="2").multi_items() == [("a", "1"), ("b", "2")]
    base = ImmutableMultiDict([("a", "1"), ("a", "2")])
    assert ImmutableMultiDict(base).multi_items() == [("a", "1"), ("a", "2")]
    assert ImmutableMultiDict(base, a="3").getlist("a") == ["1", "2", "3"]
    assert ImmutableMultiDict(iter([("x", 1)])).multi_items() == [("x", 1)]
    with pytest.raises(AssertionError, match="Too many arguments."):
        ImmutableMultiDict([("a", 1)], [("b", 2)])


def test_immutable_multidict_copies_its_source() -> None:
    source = [("a", "1")]
    q = ImmutableMultiDict(source)
    source.append(("b", "2"))
    assert "b" not in q
    items = q.multi_items()
    items.append(("c", "3"))
    assert "c" not in q


def test_immutable_multidict_equality() -> None:
    assert ImmutableMultiDict([("a", "1"), ("b", "2")]) == ImmutableMultiDict(
        [("b", "2"), ("a", "1")]
    )
    assert ImmutableMultiDict([("a", "1"), ("a", "2")]) != ImmutableMultiDict([("a", "2")])
    assert ImmutableMultiDict([("a", "1")]) != {"a": "1"}
    assert ImmutableMultiDict([("a", "1")]) != [("a", "1")]
    # the order of keys does not count, the order of each key's values does
    x, y = object(), object()
    assert ImmutableMultiDict([("k", x), ("j", y)]) == ImmutableMultiDict([("j", y), ("k", x)])
    assert ImmutableMultiDict([("k", x), ("k", y)]) != ImmutableMultiDict([("k", y), ("k", x)])
    assert ImmutableMultiDict([("k", x)]) != ImmutableMultiDict([("k", y)])
    assert ImmutableMultiDict([("k", x)]) != ImmutableMultiDict([("k", x), ("k", x)])


def test_immutable_multidict_is_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(ImmutableMultiDict())


def test_multidict_setitem_delitem() -> None:
    q = MultiDict([("a", "123"), ("a", "456"), ("b", "789")])
    q["a"] = "x"
    assert q.multi_items() == [("b", "789"), ("a", "x")]
    assert q["a"] == "x"
    del q["a"]
    assert q.multi_items() == [("b", "789")]
    assert "a" not in q
    with pytest.raises(KeyError):
        del q["a"]


def test_multidict_pop_and_poplist() -> None:
    q = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert q.pop("a") == "2"
    assert q.multi_items() == [("b", "3")]
    assert q.pop("missing") is None
    assert q.pop("missing", "d") == "d"
    q = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert q.poplist("a") == ["1", "2"]
    assert q.poplist("a") == []
    assert dict(q) == {"b": "3"}


def test_multidict_popitem() -> None:
    q = MultiDict([("a", "1"), ("b", "2"), ("b", "3")])
    assert q.popitem() == ("b", "3")
    assert q.multi_items() == [("a", "1")]
    assert q.popitem() == ("a", "1")
    with pytest.raises(KeyError):
        q.popitem()


def test_multidict_setdefault() -> None:
    q = MultiDict([("a", "1")])
    assert q.setdefault("a", "x") == "1"
    assert q.setdefault("b", "2") == "2"
    assert q.setdefault("c") is None
    assert q.multi_items() == [("a", "1"), ("b", "2"), ("c", None)]


def test_multidict_setlist_and_append() -> None:
    q = MultiDict([("a", "1"), ("b", "2")])
    q.setlist("a", ["3", "4"])
    assert q.multi_items() == [("b", "2"), ("a", "3"), ("a", "4")]
    assert q["a"] == "4"
    q.setlist("a", [])
    assert "a" not in q
    assert q.multi_items() == [("b", "2")]
    q.append("b", "5")
    assert q.getlist("b") == ["2", "5"]
    assert q["b"] == "5"


def test_multidict_update() -> None:
    q = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    q.update({"a": "x"})
    assert q.multi_items() == [("b", "3"), ("a", "x")]
    q.update([("c", "1"), ("c", "2")], d="4")
    assert q.multi_items() == [("b", "3"), ("a", "x"), ("c", "1"), ("c", "2"), ("d", "4")]
    q.update(MultiDict([("b", "9")]))
    assert q["b"] == "9"
    assert q.getlist("b") == ["9"]
    assert list(q.keys()) == ["a", "b", "c", "d"]


def test_multidict_clear_and_repr() -> None:
    q = MultiDict([("a", "1")])
    assert repr(q) == "MultiDict([('a', '1')])"
    q.clear()
    assert len(q) == 0
    assert q.multi_items() == []
    assert repr(q) == "MultiDict([])"


def test_multidict_equality_is_by_type() -> None:
    assert MultiDict([("a", "1")]) == MultiDict([("a", "1")])
    assert MultiDict([("a", "1")]) != ImmutableMultiDict([("a", "1")])
    assert ImmutableMultiDict([("a", "1")]) != MultiDict([("a", "1")])


def test_queryparams_from_string() -> None:
    q = QueryParams("a=123&a=456&b=789")
    assert q["a"] == "456"
    assert q.getlist("a") == ["123", "456"]
    assert list(q.items()) == [("a", "456"), ("b", "789")]
    assert str(q) == "a=123&a=456&b=789"
    assert repr(q) == "QueryParams('a=123&a=456&b=789')"
    assert QueryParams("a=123&b=456") == QueryParams("b=456&a=123")
    assert QueryParams("a=123") != {"a": "123"}


def test_queryparams_sources() -> None:
    assert QueryParams(b"a=1&b=2").multi_items() == [("a", "1"), ("b", "2")]
    assert QueryParams({"a": "1", "b": 2}).multi_items() == [("a", "1"), ("b", "2")]
    assert QueryParams([("a", 1), ("a", 2)]).multi_items() == [("a", "1"), ("a", "2")]
    assert QueryParams(ImmutableMultiDict([(1, 2)])).multi_items() == [("1", "2")]
    assert QueryParams(a=1).multi_items() == [("a", "1")]
    assert QueryParams("a=1", b=2).multi_items() == [("a", "1"), ("b", "2")]
    assert QueryParams().multi_items() == []
    assert QueryParams("").multi_items() == []
    assert str(QueryParams()) == ""


def test_queryparams_blank_values_kept() -> None:
    q = QueryParams("a=&b&=c&&d=1&")
    assert q.multi_items() == [("a", ""), ("b", ""), ("", "c"), ("d", "1")]
    assert str(q) == "a=&b=&=c&d=1"


def test_queryparams_decoding() -> None:
    q = QueryParams("name=caf%C3%A9&x=a+b&y=a%2Bb&%E2%9C%93=1&eq=a=b")
    assert q["name"] == "café"
    assert q["x"] == "a b"
    assert q["y"] == "a+b"
    assert q["✓"] == "1"
    assert q["eq"] == "a=b"
    assert str(q) == "name=caf%C3%A9&x=a+b&y=a%2Bb&%E2%9C%93=1&eq=a%3Db"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a=%", [("a", "%")]),
        ("a=%zz", [("a", "%zz")]),
        ("a=%4", [("a", "%4")]),
        ("a=%C3", [("a", "\ufffd")]),
        ("a=%ff%fe", [("a", "\ufffd\ufffd")]),
        ("%=%", [("%", "%")]),
        ("a=%00", [("a", "\x00")]),
        ("a;b=1", [("a;b", "1")]),
        ("&&&", []),
        ("=", [("", "")]),
    ],
)
def test_queryparams_malformed(query: str, expected: list[tuple[str, str]]) -> None:
    assert QueryParams(query).multi_items() == expected


def test_queryparams_bytes_are_latin1_then_percent_decoded_as_utf8() -> None:
    assert QueryParams(b"a=\xe9&b=%C3%A9")["a"] == "\xe9"
    assert QueryParams(b"a=\xe9&b=%C3%A9")["b"] == "é"


def test_queryparams_many_fields() -> None:
    query = "&".join(f"k{i}=v{i}" for i in range(20_000))
    q = QueryParams(query)
    assert len(q) == 20_000
    assert q["k19999"] == "v19999"
    repeated = QueryParams("k=v&" * 20_000)
    assert len(repeated) == 1
    assert len(repeated.getlist("k")) == 20_000


def test_queryparams_is_immutable() -> None:
    q = QueryParams("a=1")
    with pytest.raises(TypeError):
        q["a"] = "2"  # type: ignore[index]


def test_formdata() -> None:
    upload = UploadFile(io.BytesIO(b"data"), filename="file.txt")
    form = FormData([("a", "123"), ("a", "456"), ("b", upload)])
    assert "a" in form
    assert form["a"] == "456"
    assert form.getlist("a") == ["123", "456"]
    assert form["b"] is upload
    assert list(form.keys()) == ["a", "b"]
    assert len(form) == 2
    assert repr(form) == f"FormData([('a', '123'), ('a', '456'), ('b', {upload!r})])"
    assert FormData(form) == form
    assert FormData({"a": "1"}) == FormData([("a", "1")])
    assert FormData(a="1").multi_items() == [("a", "1")]


@pytest.mark.anyio
async def test_formdata_close_closes_files() -> None:
    first, second = io.BytesIO(b"1"), io.BytesIO(b"2")
    form = FormData(
        [("a", UploadFile(first)), ("b", "text"), ("a", UploadFile(second))],
    )
    await form.close()
    assert first.closed
    assert second.closed


def test_queryparams_match_the_standard_library_on_random_input() -> None:
    pieces = ["a", "=", "&", "+", "%", "%2", "%00", "%C3", "%A9", "%26", "%3D", "%zz", "é", "\x00"]
    rng = random.Random(20240601)
    for _ in range(3000):
        query = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        expected = parse_qsl(query, keep_blank_values=True)
        assert QueryParams(query).multi_items() == expected, query
