"""Small value types: `Address`, `Secret`, `CommaSeparatedStrings` and `State`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from shlex import shlex
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, overload

_R = TypeVar("_R")


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


def _on_namespace(operation: Callable[..., _R]) -> Callable[..., _R]:
    """A method applying ``operation`` (a `dict` method) to the instance's namespace."""
    return lambda state, *args: operation(vars(state), *args)


class State:
    """Arbitrary values, reached as attributes (``state.user``) or items (``state["user"]``).

    The dict given (a request's ``scope["state"]``, for one) becomes the instance's own
    namespace: attributes are read and written natively, and items are that same dict's.
    """

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.__dict__ = {} if state is None else state

    @property
    def _state(self) -> dict[str, Any]:
        return self.__dict__

    def __delattr__(self, key: str) -> None:
        del self.__dict__[key]  # KeyError when absent, as for an item

    if TYPE_CHECKING:
        # For type checkers only: any attribute may be set and read (``app.state.db = ...``).
        # At run time attributes live natively in the namespace dict.
        def __getattr__(self, key: str) -> Any: ...
        def __setattr__(self, key: str, value: Any) -> None: ...

    __getitem__ = _on_namespace(dict.__getitem__)
    __setitem__ = _on_namespace(dict.__setitem__)
    __delitem__ = _on_namespace(dict.__delitem__)
    __iter__ = _on_namespace(dict.__iter__)
    __len__ = _on_namespace(dict.__len__)
    __contains__ = _on_namespace(dict.__contains__)
