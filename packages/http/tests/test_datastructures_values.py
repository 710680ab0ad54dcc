"""State as items and attributes over one dict; multidict equality and mutation; header
injection refused; the public names of stellina.datastructures."""

from __future__ import annotations

import copy
import pickle

import pytest

from stellina import datastructures
from stellina.datastructures import (
    FormData,
    Headers,
    ImmutableMultiDict,
    MultiDict,
    MutableHeaders,
    QueryParams,
    State,
)


def test_state_items_and_attributes_are_the_same_values() -> None:
    shared = {"old": 1}
    state = State(shared)
    state["item"] = 2
    state.attr = 3
    assert (state.item, state["attr"], state["old"]) == (2, 3, 1)
    assert shared == {"old": 1, "item": 2, "attr": 3}
    assert sorted(state) == ["attr", "item", "old"]
    assert len(state) == 3
    assert "item" in state
    assert "nope" not in state
    del state["item"]
    del state.attr
    assert shared == {"old": 1}
    with pytest.raises(KeyError):
        state["item"]
    with pytest.raises(AttributeError, match="^'State' object has no attribute 'attr'$"):
        state.attr  # noqa: B018


def test_state_copies_and_pickles_its_values() -> None:
    state = State({"a": [1]})
    for other in (copy.copy(state), pickle.loads(pickle.dumps(state))):
        assert other.a == [1]
        assert other["a"] == [1]
    assert copy.deepcopy(state).a is not state.a


def test_state_keys_never_clash_with_its_methods() -> None:
    state = State()
    state.keys = "a value"
    assert state.keys == "a value"
    assert state["keys"] == "a value"


def test_multidict_equality_is_per_key_order() -> None:
    assert MultiDict([("a", 1), ("b", 2)]) == MultiDict([("b", 2), ("a", 1)])
    assert MultiDict([("a", 1), ("a", 2)]) != MultiDict([("a", 2), ("a", 1)])
    assert ImmutableMultiDict([("a", "1")]) != MultiDict([("a", "1")])
    assert QueryParams("a=1&b=2") == QueryParams("b=2&a=1")
    assert FormData([("a", "1")]) != {"a": "1"}


def test_multidict_mutations_keep_pairs_and_lookups_in_step() -> None:
    data = MultiDict([("a", 1), ("b", 2), ("a", 3)])
    data.append("b", 4)
    assert data.getlist("b") == [2, 4]
    data["a"] = 5
    assert data.multi_items() == [("b", 2), ("b", 4), ("a", 5)]
    data.setlist("b", [])
    assert "b" not in data
    assert data.setdefault("c", 6) == 6
    assert data.popitem() == ("c", 6)
    assert data.poplist("a") == [5]
    assert data.pop("a", "gone") == "gone"
    assert len(data) == 0
    with pytest.raises(KeyError):
        data.popitem()
    with pytest.raises(KeyError):
        del data["a"]
    data.update([("x", 1), ("x", 2)], y=3)
    assert data.multi_items() == [("x", 1), ("x", 2), ("y", 3)]
    data.clear()
    assert data.multi_items() == []


def test_getlist_returns_a_copy() -> None:
    data = ImmutableMultiDict([("a", 1)])
    data.getlist("a").append(2)
    assert data.getlist("a") == [1]
    assert data.getlist("missing") == []


def test_too_many_arguments() -> None:
    with pytest.raises(AssertionError, match="Too many arguments."):
        ImmutableMultiDict([], [])  # type: ignore[call-arg]
    with pytest.raises(AssertionError, match="Too many arguments."):
        QueryParams("a", "b")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-ok", "a\r\nx-injected: 1"),
        ("x-ok", "a\nb"),
        ("x-ok", "a\x00"),
        ("bad:name", "v"),
        ("x\r\n", "v"),
    ],
)
def test_header_injection_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="CR, LF and NUL are not allowed"):
        MutableHeaders()[name] = value
    with pytest.raises(ValueError):
        MutableHeaders().append(name, value)
    with pytest.raises(ValueError):
        Headers({name: value})


def test_mutable_headers_change_the_list_they_were_given() -> None:
    raw = [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]
    headers = MutableHeaders(raw=raw)
    del headers["A"]
    assert raw == [(b"b", b"2")]
    headers["B"] = "x"
    headers.add_vary_header("Accept")
    headers.add_vary_header("Cookie")
    assert raw == [(b"b", b"x"), (b"vary", b"Accept, Cookie")]
    assert headers.setdefault("b", "y") == "x"


def test_headers_keep_repeated_names_in_lists() -> None:
    headers = Headers(raw=[(b"a", b"1"), (b"a", b"2")])
    assert headers.keys() == ["a", "a"]
    assert headers.values() == ["1", "2"]
    assert list(headers) == ["a", "a"]
    assert headers["A"] == "1"
    assert repr(headers) == "Headers(raw=[(b'a', b'1'), (b'a', b'2')])"


def test_public_names() -> None:
    for name in datastructures.__all__:
        assert getattr(datastructures, name).__name__ == name
