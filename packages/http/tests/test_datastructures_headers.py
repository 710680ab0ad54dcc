"""Headers and MutableHeaders."""

from __future__ import annotations

from typing import Any

import pytest

from stellina.datastructures import Headers, MutableHeaders


def test_headers_from_raw() -> None:
    h = Headers(raw=[(b"a", b"123"), (b"a", b"456"), (b"b", b"789")])
    assert "a" in h
    assert "A" in h
    assert "b" in h
    assert "B" in h
    assert "c" not in h
    assert h["a"] == "123"
    assert h.get("a") == "123"
    assert h.get("nope", default=None) is None
    assert h.get("nope", "x") == "x"
    assert h.getlist("a") == ["123", "456"]
    assert h.getlist("A") == ["123", "456"]
    assert h.getlist("z") == []
    assert h.keys() == ["a", "a", "b"]
    assert h.values() == ["123", "456", "789"]
    assert h.items() == [("a", "123"), ("a", "456"), ("b", "789")]
    assert list(h) == ["a", "a", "b"]
    assert dict(h) == {"a": "123", "b": "789"}
    assert len(h) == 3
    assert repr(h) == "Headers(raw=[(b'a', b'123'), (b'a', b'456'), (b'b', b'789')])"
    with pytest.raises(KeyError):
        h["missing"]


def test_headers_raw_is_kept_as_given() -> None:
    raw = [(b"a", b"1")]
    h = Headers(raw=raw)
    assert h.raw is raw
    raw.append((b"b", b"2"))
    assert h["b"] == "2"


def test_headers_from_mapping() -> None:
    h = Headers({"Content-Type": "text/plain", "X-A": "1"})
    assert h.raw == [(b"content-type", b"text/plain"), (b"x-a", b"1")]
    assert h["content-type"] == "text/plain"
    assert repr(h) == "Headers({'content-type': 'text/plain', 'x-a': '1'})"


def test_headers_from_scope() -> None:
    raw = [(b"host", b"example.org")]
    scope: dict[str, Any] = {"headers": raw}
    h = Headers(scope=scope)
    assert h.raw is raw
    assert h["host"] == "example.org"


def test_headers_from_scope_with_tuple_is_converted_once() -> None:
    scope: dict[str, Any] = {"headers": ((b"a", b"1"),)}
    h = Headers(scope=scope)
    assert h.raw == [(b"a", b"1")]
    assert scope["headers"] is h.raw
    assert Headers(scope=scope).raw is h.raw


def test_headers_empty() -> None:
    h = Headers()
    assert len(h) == 0
    assert h.raw == []
    assert repr(h) == "Headers({})"
    assert "a" not in h


def test_headers_argument_conflicts() -> None:
    with pytest.raises(AssertionError):
        Headers({"a": "1"}, raw=[])
    with pytest.raises(AssertionError):
        Headers({"a": "1"}, scope={"headers": []})
    with pytest.raises(AssertionError):
        Headers(raw=[], scope={"headers": []})


def test_headers_latin1() -> None:
    h = Headers(raw=[(b"x-name", "café".encode("latin-1"))])
    assert h["x-name"] == "café"
    assert Headers({"x-name": "café"}).raw == [(b"x-name", b"caf\xe9")]
    with pytest.raises(UnicodeEncodeError):
        Headers({"x-name": "✓"})


def test_headers_contains_non_string() -> None:
    h = Headers(raw=[(b"a", b"1")])
    assert not h.__contains__(1)
    assert not h.__contains__(None)
    assert not h.__contains__(b"a")


def test_headers_equality() -> None:
    assert Headers(raw=[(b"a", b"1"), (b"b", b"2")]) == Headers(raw=[(b"b", b"2"), (b"a", b"1")])
    assert Headers(raw=[(b"a", b"1")]) != Headers(raw=[(b"a", b"2")])
    assert Headers(raw=[(b"a", b"1")]) == MutableHeaders(raw=[(b"a", b"1")])
    assert Headers(raw=[(b"a", b"1")]) != {"a": "1"}
    with pytest.raises(TypeError):
        hash(Headers())


def test_headers_mutablecopy() -> None:
    h = Headers(raw=[(b"a", b"1")])
    copy = h.mutablecopy()
    assert isinstance(copy, MutableHeaders)
    copy["a"] = "2"
    assert h["a"] == "1"
    assert copy["a"] == "2"


@pytest.mark.parametrize("value", ["a\r\nb", "a\nb", "a\rb", "a\x00b"])
def test_headers_refuse_cr_lf_from_mapping(value: str) -> None:
    with pytest.raises(ValueError):
        Headers({"x": value})
    with pytest.raises(ValueError):
        Headers({value: "x"})


def test_mutable_headers_setitem() -> None:
    h = MutableHeaders(raw=[(b"a", b"1"), (b"b", b"2"), (b"a", b"3"), (b"c", b"4"), (b"a", b"5")])
    h["A"] = "x"
    assert h.raw == [(b"a", b"x"), (b"b", b"2"), (b"c", b"4")]
    h["new"] = "y"
    assert h.raw[-1] == (b"new", b"y")


def test_mutable_headers_delitem() -> None:
    h = MutableHeaders(raw=[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")])
    del h["A"]
    assert h.raw == [(b"b", b"2")]
    del h["missing"]
    assert h.raw == [(b"b", b"2")]


def test_mutable_headers_modify_the_raw_list() -> None:
    raw = [(b"a", b"1")]
    h = MutableHeaders(raw=raw)
    h["b"] = "2"
    h.append("c", "3")
    assert raw == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]
    scope: dict[str, Any] = {"headers": [(b"a", b"1")]}
    MutableHeaders(scope=scope)["a"] = "2"
    assert scope["headers"] == [(b"a", b"2")]


def test_mutable_headers_setdefault() -> None:
    h = MutableHeaders(raw=[(b"a", b"1")])
    assert h.setdefault("A", "2") == "1"
    assert h.setdefault("b", "3") == "3"
    assert h.raw == [(b"a", b"1"), (b"b", b"3")]


def test_mutable_headers_update() -> None:
    h = MutableHeaders(raw=[(b"a", b"1"), (b"a", b"2")])
    h.update({"A": "3", "b": "4"})
    assert h.raw == [(b"a", b"3"), (b"b", b"4")]


def test_mutable_headers_append() -> None:
    h = MutableHeaders()
    h.append("Set-Cookie", "a=1")
    h.append("Set-Cookie", "b=2")
    assert h.getlist("set-cookie") == ["a=1", "b=2"]
    assert h.raw == [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]


def test_mutable_headers_add_vary_header() -> None:
    h = MutableHeaders()
    h.add_vary_header("Origin")
    assert h["vary"] == "Origin"
    h.add_vary_header("Accept-Encoding")
    assert h["vary"] == "Origin, Accept-Encoding"
    assert h.getlist("vary") == ["Origin, Accept-Encoding"]


def test_mutable_headers_or() -> None:
    h = MutableHeaders({"a": "1"})
    merged = h | {"b": "2", "a": "3"}
    assert isinstance(merged, MutableHeaders)
    assert merged.raw == [(b"a", b"3"), (b"b", b"2")]
    assert h.raw == [(b"a", b"1")]
    merged2 = h | Headers({"c": "4"})
    assert merged2["c"] == "4"
    with pytest.raises(TypeError, match="Expected a mapping but got list"):
        h | [("a", "b")]  # type: ignore[operator]


def test_mutable_headers_ior() -> None:
    h = MutableHeaders({"a": "1"})
    same = h
    h |= {"b": "2"}
    assert h is same
    assert h.raw == [(b"a", b"1"), (b"b", b"2")]
    with pytest.raises(TypeError, match="Expected a mapping but got str"):
        h |= "a"  # type: ignore[arg-type]


def test_mutable_headers_repr() -> None:
    h = MutableHeaders({"a": "1"})
    assert repr(h) == "MutableHeaders({'a': '1'})"


@pytest.mark.parametrize("bad", ["a\r\nInjected: 1", "a\nb", "a\rb", "a\x00b"])
def test_mutable_headers_refuse_cr_lf(bad: str) -> None:
    h = MutableHeaders()
    with pytest.raises(ValueError):
        h["x"] = bad
    with pytest.raises(ValueError):
        h[bad] = "x"
    with pytest.raises(ValueError):
        h.append("x", bad)
    with pytest.raises(ValueError):
        h.setdefault("x", bad)
    with pytest.raises(ValueError):
        h.update({"x": bad})
    with pytest.raises(ValueError):
        h.add_vary_header(bad)
    assert h.raw == []


def test_headers_many_entries() -> None:
    raw = [(f"x-{i}".encode(), str(i).encode()) for i in range(10_000)]
    h = Headers(raw=raw)
    assert h["x-9999"] == "9999"
    assert "x-10000" not in h
    assert len(h.getlist("x-1")) == 1


def test_mutable_headers_refuse_colon_in_names() -> None:
    h = MutableHeaders()
    with pytest.raises(ValueError):
        h["x-a: b"] = "1"
    h["x-a"] = "b: c"
    assert h["x-a"] == "b: c"
