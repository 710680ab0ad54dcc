"""Path parameter convertors: the `{name:type}` parts of a route path."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

__all__ = [
    "CONVERTOR_TYPES",
    "Convertor",
    "FloatConvertor",
    "IntegerConvertor",
    "PathConvertor",
    "StringConvertor",
    "UUIDConvertor",
    "register_url_convertor",
]

T = TypeVar("T")


class Convertor(Generic[T]):
    """Turns one matched path fragment (`regex`) into a value, and a value back into text."""

    regex: ClassVar[str] = ""

    def convert(self, value: str) -> T:
        """The Python value for the matched text `value`."""
        raise NotImplementedError()

    def to_string(self, value: T) -> str:
        """The path text for `value`, used to build URLs."""
        raise NotImplementedError()


# --- the built-in convertors: each is a regex, a parser and a renderer ------------------------


def _segment(value: Any) -> str:
    text = str(value)
    assert "/" not in text, "May not contain path separators"
    assert text, "Must not be empty"
    return text


def _natural(value: Any) -> str:
    number = int(value)
    assert number >= 0, "Negative integers are not supported"
    return str(number)


def _decimal(value: Any) -> str:
    number = float(value)
    assert number >= 0.0, "Negative floats are not supported"
    assert not math.isnan(number), "NaN values are not supported"
    assert not math.isinf(number), "Infinite values are not supported"
    # Fixed-point, never an exponent; no trailing zeros, no bare decimal point.
    return format(number, ".20f").rstrip("0").removesuffix(".")


class _Builtin(Convertor[T]):
    """A convertor defined by data: `codec` is (parse the matched text, render a value).

    The router calls the parser directly (no method frame) for convertors that keep `convert`.
    """

    codec: ClassVar[tuple[Callable[[str], Any], Callable[[Any], str]]]

    def convert(self, value: str) -> T:
        result: T = self.codec[0](value)
        return result

    def to_string(self, value: T) -> str:
        return self.codec[1](value)


class StringConvertor(_Builtin[str]):
    """One non-empty path segment, kept as text."""

    regex, codec = "[^/]+", (str, _segment)


class PathConvertor(_Builtin[str]):
    """The rest of the path, slashes included (possibly empty)."""

    regex, codec = ".*", (str, str)


class IntegerConvertor(_Builtin[int]):
    """A run of decimal digits, as a non-negative `int`."""

    regex, codec = "[0-9]+", (int, _natural)


class FloatConvertor(_Builtin[float]):
    """Digits with an optional decimal part, as a non-negative `float`."""

    regex, codec = r"[0-9]+(\.[0-9]+)?", (float, _decimal)


_HEX = "[0-9a-fA-F]"


class UUIDConvertor(_Builtin[uuid.UUID]):
    """A UUID, hyphenated or not, in either case, as a `uuid.UUID`."""

    regex = "-?".join(f"{_HEX}{{{size}}}" for size in (8, 4, 4, 4, 12))
    codec = (uuid.UUID, str)


CONVERTOR_TYPES: dict[str, Convertor[Any]] = {
    key: cls()
    for key, cls in (
        ("str", StringConvertor),
        ("path", PathConvertor),
        ("int", IntegerConvertor),
        ("float", FloatConvertor),
        ("uuid", UUIDConvertor),
    )
}


def register_url_convertor(key: str, convertor: Convertor[Any]) -> None:
    """Make `{name:key}` available in route paths, converted by `convertor`."""
    CONVERTOR_TYPES[key] = convertor
