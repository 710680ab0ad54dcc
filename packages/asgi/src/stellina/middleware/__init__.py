"""The `Middleware` spec, and the namespace every middleware piece installs into.

Middleware pieces are separate distributions that ship only their own module in this
package; `__path__` is extended so that they are found when installed from other source
folders (editable installs), not only side by side in site-packages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pkgutil import extend_path
from typing import Any, ParamSpec, Protocol

from stellina.types import ASGIApp

__path__ = extend_path(__path__, __name__)

__all__ = ["Middleware", "MiddlewareFactory"]

P = ParamSpec("P")


class MiddlewareFactory(Protocol[P]):
    """What `Middleware` accepts: a callable that wraps an ASGI app, usually a class."""

    def __call__(self, app: ASGIApp, /, *args: P.args, **kwargs: P.kwargs) -> ASGIApp: ...


_MiddlewareFactory = MiddlewareFactory  # the name code written for Starlette imports


class Middleware:
    """A middleware factory with the arguments it is built with, once the app is known.

    Unpacks as ``cls, args, kwargs``.
    """

    __slots__ = ("args", "cls", "kwargs")

    def __init__(self, cls: MiddlewareFactory[P], *args: P.args, **kwargs: P.kwargs) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def __repr__(self) -> str:
        arguments = [repr(arg) for arg in self.args]
        arguments.extend(f"{key}={value!r}" for key, value in self.kwargs.items())
        name = getattr(self.cls, "__name__", "")
        return f"{type(self).__name__}({', '.join([name, *arguments])})"
