"""Name the distribution to install when a stellina module is missing.

Every piece is its own distribution, so ``from stellina.testclient import TestClient`` after
``pip install stellina`` finds no module. A finder at the end of `sys.meta_path` (after every
finder that could find the module) turns that into a `ModuleNotFoundError` that says what to
install. stellina-asgi's wheel ships a ``.pth`` file that imports this module at startup.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

# Each public module: the distribution that ships it, and the extra of the `stellina`
# meta-package that brings it ("" when `pip install stellina` brings it already).
MODULES: dict[str, tuple[str, str]] = {
    "stellina.applications": ("stellina", ""),
    "stellina.config": ("stellina", ""),
    "stellina.authentication": ("stellina-auth", ""),
    "stellina.middleware.authentication": ("stellina-auth", ""),
    "stellina.background": ("stellina-http", ""),
    "stellina.concurrency": ("stellina-http", ""),
    "stellina.datastructures": ("stellina-http", ""),
    "stellina.exceptions": ("stellina-http", ""),
    "stellina.formparsers": ("stellina-http", ""),
    "stellina.requests": ("stellina-http", ""),
    "stellina.responses": ("stellina-http", ""),
    "stellina.status": ("stellina-http", ""),
    "stellina.websockets": ("stellina-http", ""),
    "stellina.routing": ("stellina-routing", ""),
    "stellina.convertors": ("stellina-routing", ""),
    "stellina.endpoints": ("stellina-routing", ""),
    "stellina.staticfiles": ("stellina-staticfiles", ""),
    "stellina.testclient": ("stellina-testclient", "httpx"),
    "stellina.templating": ("stellina-templating", "jinja2"),
    "stellina.schemas": ("stellina-schemas", "pyyaml"),
    "stellina.middleware.base": ("stellina-basehttp", ""),
    "stellina.middleware.body_limit": ("stellina-bodylimit", ""),
    "stellina.middleware.compress": ("stellina-compress", ""),
    "stellina.middleware.cors": ("stellina-cors", ""),
    "stellina.middleware.csrf": ("stellina-csrf", "itsdangerous"),
    "stellina.middleware.errors": ("stellina-errors", ""),
    "stellina.middleware.exceptions": ("stellina-exceptions", ""),
    "stellina.middleware.gzip": ("stellina-gzip", ""),
    "stellina.middleware.httpsredirect": ("stellina-httpsredirect", ""),
    "stellina.middleware.opentelemetry": ("stellina-opentelemetry", "opentelemetry"),
    "stellina.middleware.sessions": ("stellina-sessions", "itsdangerous"),
    "stellina.middleware.trustedhost": ("stellina-trustedhost", ""),
    "stellina.middleware.wsgi": ("stellina-wsgi", ""),
}


def hint(module: str) -> str | None:
    """What to install to get ``module``, or None if no distribution of ours ships it."""
    found = MODULES.get(module)
    if found is None:
        return None
    distribution, extra = found
    advice = f"install it with `pip install {distribution}`"
    if extra:
        advice += f' (or `pip install "stellina[{extra}]"`)'
    return f"No module named {module!r}: it is in the {distribution} distribution; {advice}"


class MissingPieceFinder:
    """The last finder: it finds nothing, but names the distribution of a missing piece."""

    @classmethod
    def find_spec(
        cls, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        message = hint(fullname)
        if message is not None:
            raise ModuleNotFoundError(message, name=fullname)
        return None


def install() -> None:
    """Put the finder at the end of `sys.meta_path`, once."""
    if MissingPieceFinder not in sys.meta_path:
        sys.meta_path.append(MissingPieceFinder)


install()
