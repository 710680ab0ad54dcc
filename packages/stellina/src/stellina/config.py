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

    def _writable(self, key: str, action: str) -> MutableMapping[str, str]:
        if key in self._has_been_read:
            message = (
                f"Attempting to {action} environ['{key}'], but the value has already been read."
            )
            raise EnvironError(message)
        return self._environ

    def __getitem__(self, key: str) -> str:
        self._has_been_read.add(key)
        return self._environ[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._writable(key, "set")[key] = value

    def __delitem__(self, key: str) -> None:
        del self._writable(key, "delete")[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


environ = Environ()


def _unquoted(value: str) -> str:
    """`value` without one pair of matching surrounding quotes, if it has them."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _read_env_file(path: str | Path, encoding: str) -> dict[str, str]:
    """The `KEY=value` lines of an env file (comments and other lines skipped)."""
    entries = (line.strip() for line in Path(path).read_text(encoding=encoding).splitlines())
    pairs = (line.partition("=") for line in entries if "=" in line and not line.startswith("#"))
    return {key.strip(): _unquoted(value.strip()) for key, _, value in pairs}


class Config:
    """Read settings: the environment first, then the env file, then the default."""

    def __init__(
        self,
        env_file: str | Path | None = None,
        environ: Mapping[str, str] = environ,
        env_prefix: str = "",
        encoding: str = "utf-8",
    ) -> None:
        self.environ, self.env_prefix = environ, env_prefix
        missing = env_file is not None and not os.path.isfile(env_file)
        if missing:
            warnings.warn(f"Config file '{env_file}' not found.", stacklevel=2)
        read = env_file is not None and not missing
        self.file_values: dict[str, str] = _read_env_file(env_file, encoding) if read else {}  # type: ignore[arg-type]

    # No cast: the string read, else the default as given.
    @overload
    def __call__(self, key: str, cast: None = None, default: str = ...) -> str: ...

    @overload
    def __call__(self, key: str, cast: None = None, *, default: T) -> str | T: ...

    # A class as cast with a None default: None is returned uncast.
    @overload
    def __call__(self, key: str, cast: type[T], default: None) -> T | None: ...

    # Any other cast: its result (a missing key's default is cast too).
    @overload
    def __call__(self, key: str, cast: Callable[[Any], T], default: Any = ...) -> T: ...

    def __call__(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any:
        return self.get(key, cast, default)

    def get(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any:
        """The value of `key` (with the prefix), cast if asked; KeyError when missing."""
        key = self.env_prefix + key
        for source in (self.environ, self.file_values):
            if key in source:
                return self._perform_cast(key, source[key], cast)
        if default is undefined:
            raise KeyError(f"Config '{key}' is missing, and has no default.")
        return self._perform_cast(key, default, cast)

    def _perform_cast(self, key: str, value: Any, cast: Callable[[Any], Any] | None) -> Any:
        if cast is None or value is None:
            return value
        convert: Callable[[Any], Any] = cast
        if cast is bool and isinstance(value, str):
            value = value.lower()
            convert = _BOOLS.__getitem__
        try:
            return convert(value)
        except (KeyError, TypeError, ValueError):
            name = "bool" if convert is not cast else getattr(cast, "__name__", repr(cast))
            raise ValueError(f"Config '{key}' has value '{value}'. Not a valid {name}.") from None
