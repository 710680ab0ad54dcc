"""Small value types: `Address`, `Secret`, `CommaSeparatedStrings` and `State`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from shlex import shlex
from typing import Any, NamedTuple, overload


class Address(NamedTuple):
    """A network peer: host and port."""

    host: str
    port: int


class Secret:
    """A string kept out of reprs and tracebacks; ``str()`` reveals it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __str__(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return self._value != ""

    def __repr__(self) -> str:
        return type(self).__name__ + "('" + "*" * 10 + "')"


def _split_commas(text: str) -> tuple[str, ...]:
    """``"a, b, 'c, d'"`` as ``("a", "b", "c, d")``: commas split, shell-style quotes group."""
    lexer = shlex(text, posix=True)
    lexer.whitespace, lexer.whitespace_split = ",", True
    return tuple(item.strip() for item in lexer)


class CommaSeparatedStrings(Sequence[str]):
    """A sequence of strings read from ``"a, b, 'c, d'"``, or given as a sequence."""

    __slots__ = ("_items",)

    def __init__(self, value: str | Sequence[str]) -> None:
        self._items = _split_commas(value) if isinstance(value, str) else tuple(value)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._items[index] if isinstance(index, int) else list(self._items[index])

    def __len__(self) -> int:
        return len(self._items)

    def __str__(self) -> str:
        return ", ".join(map(repr, self._items))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._items)!r})"


class State:
    """Arbitrary values, reached as attributes (``state.user``) or items (``state["user"]``).

    They live in one dict, which may be shared: a request's state wraps ``scope["state"]``.
    """

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", {} if state is None else state)

    def __getattr__(self, key: str) -> Any:
        # Through __dict__: copy and unpickle ask before `_state` is set.
        values = self.__dict__.get("_state", {})
        if key in values:
            return values[key]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delattr__(self, key: str) -> None:
        del self._state[key]

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)
