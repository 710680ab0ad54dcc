"""`Headers` and `MutableHeaders`: case-insensitive views over raw ASGI header pairs."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar, overload

from stellina.asgi import get_header, set_header
from stellina.types import Scope

_T = TypeVar("_T")

RawHeaderList = list[tuple[bytes, bytes]]

_LINE_BREAKING = re.compile(rb"[\r\n\x00]")
_NAME_BREAKING = re.compile(rb"[\r\n\x00:]")


def _encoded(key: str, value: str) -> tuple[bytes, bytes]:
    """The raw pair for header ``key: value``; refuses what could split or inject headers."""
    name, data = key.lower().encode("latin-1"), value.encode("latin-1")
    if _NAME_BREAKING.search(name) or _LINE_BREAKING.search(data):
        raise ValueError(f"Invalid header {name!r}: {data!r} (CR, LF and NUL are not allowed).")
    return name, data


def _name(key: str) -> bytes:
    return key.lower().encode("latin-1")


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive HTTP headers over a raw ``[(bytes, bytes)]`` list.

    The list is used as given and scanned on lookup: nothing is decoded until asked for.
    ``keys()``, ``values()`` and ``items()`` are lists that keep repeated headers.
    """

    __slots__ = ("_list",)

    _list: RawHeaderList

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: RawHeaderList | None = None,
        scope: Scope | None = None,
    ) -> None:
        if headers is not None:
            assert raw is None, 'Cannot set both "headers" and "raw".'
            assert scope is None, 'Cannot set both "headers" and "scope".'
            self._list = [_encoded(key, value) for key, value in headers.items()]
        elif raw is not None:
            assert scope is None, 'Cannot set both "raw" and "scope".'
            self._list = raw
        elif scope is None:
            self._list = []
        elif type(scope["headers"]) is list:
            self._list = scope["headers"]
        else:  # ASGI allows any iterable: make it a list, shared with the scope from now on
            self._list = scope["headers"] = list(scope["headers"])

    @property
    def raw(self) -> RawHeaderList:
        """The ``(name, value)`` byte pairs, names lowercased."""
        return self._list

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(name.decode("latin-1"), data.decode("latin-1")) for name, data in self._list]

    def keys(self) -> list[str]:  # type: ignore[override]
        return [pair[0].decode("latin-1") for pair in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [pair[1].decode("latin-1") for pair in self._list]

    def getlist(self, key: str) -> list[str]:
        """Every value of header ``key``, in order."""
        name = _name(key)
        return [data.decode("latin-1") for found, data in self._list if found == name]

    def mutablecopy(self) -> MutableHeaders:
        """A `MutableHeaders` over a copy of these headers."""
        return MutableHeaders(raw=list(self._list))

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str | _T) -> str | _T: ...

    def get(self, key: str, default: Any = None) -> Any:
        data = get_header(self._list, _name(key))
        return default if data is None else data.decode("latin-1")

    def __getitem__(self, key: str) -> str:
        data = get_header(self._list, _name(key))
        if data is None:
            raise KeyError(key)
        return data.decode("latin-1")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and get_header(self._list, _name(key)) is not None

    def __iter__(self) -> Iterator[str]:
        return (pair[0].decode("latin-1") for pair in self._list)

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        # The same headers in any order: equal as multisets of raw pairs.
        return isinstance(other, Headers) and sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        pairs = self.items()
        if len({name for name, _ in pairs}) == len(pairs):
            return f"{type(self).__name__}({dict(pairs)!r})"
        return f"{type(self).__name__}(raw={self._list!r})"


class MutableHeaders(Headers):
    """Headers changed in place (the raw list itself is modified).

    Names and values carrying CR, LF or NUL are refused with ``ValueError``.
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        """Leave one ``key`` header, with ``value``, where the first one stood."""
        set_header(self._list, *_encoded(key, value))

    def __delitem__(self, key: str) -> None:
        """Remove every ``key`` header (nothing happens when there is none)."""
        name = _name(key)
        self._list[:] = [pair for pair in self._list if pair[0] != name]

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        self.update(_mapping(other))
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        merged = self.mutablecopy()
        merged.update(_mapping(other))
        return merged

    def setdefault(self, key: str, value: str) -> str:
        """The value of ``key``, after setting it to ``value`` if it was absent."""
        found = self.get(key)
        if found is None:
            self.append(key, value)
            return value
        return found

    def update(self, other: Mapping[str, str]) -> None:
        """Set every header of ``other``, each replacing the values it had."""
        for key, value in other.items():
            set_header(self._list, *_encoded(key, value))

    def append(self, key: str, value: str) -> None:
        """Add a header, keeping those of the same name."""
        self._list.append(_encoded(key, value))

    def add_vary_header(self, vary: str) -> None:
        """Add ``vary`` to the end of the Vary header."""
        existing = self.get("vary")
        self["vary"] = vary if existing is None else f"{existing}, {vary}"


def _mapping(other: object) -> Mapping[str, str]:
    if isinstance(other, Mapping):
        return other
    raise TypeError(f"Expected a mapping but got {type(other).__name__}")
