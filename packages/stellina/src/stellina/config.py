"""Settings from the environment and an optional env file, with casts and defaults."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar, overload

T = TypeVar("T")

_BOOLS = {"true": True, "1": True, "false": False, "0": False}


class undefined:
    """Marker for "no default given"."""


class EnvironError(Exception):
    """Raised when an environment variable is changed after it has been read."""


class Environ(MutableMapping[str, str]):
    """A view of `os.environ` that refuses changes to keys already read."""

    def __init__(self, environ: MutableMapping[str, str] = os.environ) -> None:
        self._environ = environ
        self._has_been_read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self._has_been_read.add(key)
        return self._environ[key]

    def __setitem__(self, key: str, value: str) -> None:
        if key in self._has_been_read:
            raise EnvironError(
                f"Attempting to set environ['{key}'], but the value has already been read."
            )
        self._environ[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._has_been_read:
            raise EnvironError(
                f"Attempting to delete environ['{key}'], but the value has already been read."
            )
        del self._environ[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


environ = Environ()


def _read_env_file(path: str | Path, encoding: str) -> dict[str, str]:
    values: dict[str, str] = {}
    with open(path, encoding=encoding) as env_file:
        for raw_line in env_file:
            line = raw_line.strip()
            if line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("\"'")
    return values


class Config:
    """Read settings: the environment first, then the env file, then the default."""

    def __init__(
        self,
        env_file: str | Path | None = None,
        environ: Mapping[str, str] = environ,
        env_prefix: str = "",
        encoding: str = "utf-8",
    ) -> None:
        self.environ = environ
        self.env_prefix = env_prefix
        self.file_values: dict[str, str] = {}
        if env_file is not None:
            if os.path.isfile(env_file):
                self.file_values = _read_env_file(env_file, encoding)
            else:
                warnings.warn(f"Config file '{env_file}' not found.", stacklevel=2)

    @overload
    def __call__(self, key: str, *, default: None) -> str | None: ...

    @overload
    def __call__(self, key: str, cast: type[T], default: T = ...) -> T: ...

    @overload
    def __call__(self, key: str, cast: type[str] = ..., default: str = ...) -> str: ...

    @overload
    def __call__(self, key: str, cast: Callable[[Any], T] = ..., default: Any = ...) -> T: ...

    @overload
    def __call__(self, key: str, cast: type[str] = ..., default: T = ...) -> T | str: ...

    def __call__(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any:
        return self.get(key, cast, default)

    def get(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any:
        """The value of `key` (with the prefix), cast if asked; KeyError when missing."""
        key = self.env_prefix + key
        if key in self.environ:
            return self._perform_cast(key, self.environ[key], cast)
        if key in self.file_values:
            return self._perform_cast(key, self.file_values[key], cast)
        if default is not undefined:
            return self._perform_cast(key, default, cast)
        raise KeyError(f"Config '{key}' is missing, and has no default.")

    def _perform_cast(self, key: str, value: Any, cast: Callable[[Any], Any] | None) -> Any:
        if cast is None or value is None:
            return value
        if cast is bool and isinstance(value, str):
            lowered = value.lower()
            if lowered not in _BOOLS:
                raise ValueError(f"Config '{key}' has value '{lowered}'. Not a valid bool.")
            return _BOOLS[lowered]
        try:
            return cast(value)
        except (TypeError, ValueError):
            name = getattr(cast, "__name__", repr(cast))
            raise ValueError(f"Config '{key}' has value '{value}'. Not a valid {name}.") from None
