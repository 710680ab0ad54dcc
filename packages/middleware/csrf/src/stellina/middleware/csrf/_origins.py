"""Origins as CSRFMiddleware compares them: parsed from headers, the app's own, the trusted."""

from __future__ import annotations

import re

from stellina.asgi import get_header, port_number, split_host
from stellina.types import Scope

_DEFAULT_PORTS = {"http": 80, "https": 443}
_AUTHORITY_END = re.compile(r"[/?#]")

#: An origin as compared here: scheme, lowercase host (IP literals in brackets), port number.
Origin = tuple[str, str, int]


def parse_origin(text: str, *, whole: bool = True) -> Origin | None:
    """The origin ``http(s)://host[:port]`` that ``text`` is (or, unless ``whole``, that a URL
    starts with); None when it is not one: another scheme, a userinfo, a malformed host or
    port, ``null``.
    """
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    default = _DEFAULT_PORTS.get(scheme)
    if not sep or default is None:
        return None
    end = _AUTHORITY_END.search(rest)
    if end is not None:
        if whole:
            return None
        rest = rest[: end.start()]
    parts = split_host(rest)
    if parts is None:
        return None
    host, port = parts
    number = port_number(port) if port else default
    return None if number is None else (scheme, host, number)


def own_origin(scope: Scope) -> Origin | None:
    """The origin the request was sent to: its scheme and Host header."""
    host = get_header(scope["headers"], b"host")
    if host is None:
        return None
    return parse_origin(scope.get("scheme", "http") + "://" + host.decode("latin-1"))


def split_trusted(entries: tuple[str, ...]) -> tuple[frozenset[Origin], tuple[Origin, ...]]:
    """The exact origins, and the wildcard ones with their host as a ``.suffix``."""
    exact: set[Origin] = set()
    wildcards: list[Origin] = []
    for entry in entries:
        scheme, sep, rest = entry.partition("://")
        wildcard = rest.startswith("*.")
        origin = parse_origin(scheme + sep + rest[2:] if wildcard else entry)
        if origin is None or "*" in origin[1] or (wildcard and origin[1].startswith("[")):
            raise ValueError(
                "trusted_origins entries must be origins like 'https://app.example.com' or "
                f"'https://*.example.com' (no path, no trailing slash), not {entry!r}"
            )
        if wildcard:
            wildcards.append((origin[0], "." + origin[1], origin[2]))
        else:
            exact.add(origin)
    return frozenset(exact), tuple(wildcards)
