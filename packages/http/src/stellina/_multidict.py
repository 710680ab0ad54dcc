"""Multi-valued mappings: `ImmutableMultiDict`, `MultiDict` and `QueryParams`.

A multidict keeps its ``(key, value)`` pairs in order, and beside them an index from each key
to its values, so that a lookup, ``getlist`` and equality never scan the pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeAlias, TypeVar
from urllib.parse import unquote, urlencode

_KeyType = TypeVar("_KeyType")
_CovariantValueType = TypeVar("_CovariantValueType", covariant=True)


def parse_query_string(query: str) -> list[tuple[str, str]]:
    """Split ``a=1&b=2`` into pairs, keeping blank values, decoding ``+`` and ``%XX``.

    The result of ``urllib.parse.parse_qsl(query, keep_blank_values=True)``, faster: the
    pieces are decoded in one ``unquote`` call over their NUL-joined text.
    """
    fields = [part.partition("=") for part in query.split("&") if part]
    if "%" not in query and "+" not in query:
        return [(name, value) for name, _, value in fields]
    if "\x00" in query or "%00" in query:  # NUL would be ambiguous in the joined text
        return [(_unquote_plus(name), _unquote_plus(value)) for name, _, value in fields]
    joined = "\x00".join([f"{name}\x00{value}" for name, _, value in fields])
    pieces = iter(_unquote_plus(joined).split("\x00"))
    return list(zip(pieces, pieces, strict=True))


def _unquote_plus(text: str) -> str:
    return unquote(text.replace("+", " ")) if "+" in text else unquote(text)


def _pairs_of(value: Any) -> list[Any]:
    """The ``(key, value)`` pairs of a multidict, a mapping or an iterable of pairs."""
    if not value:
        return []
    if isinstance(value, ImmutableMultiDict):
        return list(value._pairs)
    if hasattr(value, "multi_items"):
        return list(value.multi_items())
    if hasattr(value, "keys"):
        return list(value.items())
    return list(value)


def _index(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    index: dict[Any, list[Any]] = {}
    for key, value in pairs:
        values = index.get(key)
        if values is None:
            index[key] = [value]
        else:
            values.append(value)
    return index


_Source: TypeAlias = (
    "ImmutableMultiDict[_KeyType, _CovariantValueType] | Mapping[_KeyType, _CovariantValueType]"
    " | Iterable[tuple[_KeyType, _CovariantValueType]]"
)
"""What a multidict is built from: another, a mapping, or ``(key, value)`` pairs."""


class ImmutableMultiDict(Mapping[_KeyType, _CovariantValueType]):
    """A read-only mapping that keeps every value of repeated keys.

    Plain lookups give the last value of a key; ``getlist`` and ``multi_items`` give all.
    Two multidicts are equal when each key has the same values in the same order.
    """

    __slots__ = ("_index", "_pairs")

    _pairs: list[tuple[_KeyType, _CovariantValueType]]
    _index: dict[_KeyType, list[_CovariantValueType]]

    def __init__(self, *args: _Source[_KeyType, _CovariantValueType], **kwargs: Any) -> None:
        if len(args) > 1:
            raise AssertionError("Too many arguments.")
        pairs = _pairs_of(args[0]) if args else []
        pairs.extend(kwargs.items())
        self._set_pairs(pairs)

    def _set_pairs(self, pairs: list[Any]) -> None:
        self._pairs = pairs
        self._index = _index(pairs)

    def getlist(self, key: Any) -> list[_CovariantValueType]:
        """Every value of ``key``, in order (``[]`` when absent)."""
        return list(self._index.get(key, ()))

    def multi_items(self) -> list[tuple[_KeyType, _CovariantValueType]]:
        """Every ``(key, value)`` pair, repeated keys included, in order."""
        return self._pairs[:]

    def __getitem__(self, key: _KeyType) -> _CovariantValueType:
        return self._index[key][-1]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[_KeyType]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and self._index == other._index

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._pairs!r})"


class MultiDict(ImmutableMultiDict[Any, Any]):
    """An `ImmutableMultiDict` that can be changed in place."""

    __slots__ = ()

    def _discard(self, key: Any) -> list[Any]:
        """Remove ``key``; its values, ``[]`` when it was absent."""
        values = self._index.pop(key, None)
        if values is None:
            return []
        self._pairs = [pair for pair in self._pairs if pair[0] != key]
        return values

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setlist(key, [value])

    def __delitem__(self, key: Any) -> None:
        if not self._discard(key):
            raise KeyError(key)

    def pop(self, key: Any, default: Any = None) -> Any:
        """Remove every value of ``key``; the last one, or ``default`` when absent."""
        values = self._discard(key)
        return values[-1] if values else default

    def popitem(self) -> tuple[Any, Any]:
        """Remove the most recently added key with all its values; it and its last value."""
        if not self._index:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self._index))
        return key, self._discard(key)[-1]

    def poplist(self, key: Any) -> list[Any]:
        """Remove ``key``; all its values."""
        return self._discard(key)

    def clear(self) -> None:
        self._set_pairs([])

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self._index:
            self.append(key, default)
        return self[key]

    def setlist(self, key: Any, values: list[Any]) -> None:
        """Make ``values`` the values of ``key`` (an empty list removes it)."""
        if key in self._index:
            self._pairs = [pair for pair in self._pairs if pair[0] != key]
        if values:
            self._index[key] = list(values)
            self._pairs += [(key, value) for value in values]
        else:
            self._index.pop(key, None)

    def append(self, key: Any, value: Any) -> None:
        """Add one more value for ``key``."""
        self._pairs.append((key, value))
        self._index.setdefault(key, []).append(value)

    def update(
        self,
        *args: MultiDict | Mapping[Any, Any] | list[tuple[Any, Any]],
        **kwargs: Any,
    ) -> None:
        """Give every key of the arguments exactly the values the arguments hold for it."""
        incoming = MultiDict(*args, **kwargs)
        replaced = incoming._index
        self._pairs = [pair for pair in self._pairs if pair[0] not in replaced]
        self._pairs += incoming._pairs
        self._index.update(replaced)


class QueryParams(ImmutableMultiDict[str, str]):
    """The parameters of a query string; ``str()`` gives them back URL-encoded."""

    __slots__ = ()

    def __init__(
        self,
        *args: ImmutableMultiDict[Any, Any]
        | Mapping[Any, Any]
        | list[tuple[Any, Any]]
        | str
        | bytes,
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        source = args[0] if args else None
        if isinstance(source, bytes):
            source = source.decode("latin-1")
        if isinstance(source, str):
            pairs = parse_query_string(source)
        else:
            pairs = [(str(key), str(value)) for key, value in _pairs_of(source)]
        pairs += [(str(key), str(value)) for key, value in kwargs.items()]
        self._set_pairs(pairs)

    def __str__(self) -> str:
        return urlencode(self._pairs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"
