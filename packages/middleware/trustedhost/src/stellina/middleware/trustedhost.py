"""Host header validation middleware for any ASGI application."""

from __future__ import annotations

__version__ = "0.1.0"

from collections.abc import Iterable, Sequence

from stellina.asgi import INVALID_HOST, get_header, port_number, redirect, split_host
from stellina.types import ASGIApp, Receive, Scope, Send

ENFORCE_DOMAIN_WILDCARD = "Domain wildcard patterns must be like '*.example.com'."

_CACHE_SIZE = 256


def _pattern_host(pattern: str) -> str:
    """An exact pattern as a Host header spells it: lowercase, IPv6 literals in brackets."""
    pattern = pattern.lower()
    return f"[{pattern}]" if ":" in pattern and not pattern.startswith("[") else pattern


class _HostPatterns:
    """The allowed hosts, sorted by kind for constant-time matching."""

    __slots__ = ("any", "exact", "suffixes", "www")

    def __init__(self, patterns: Iterable[str]) -> None:
        exact: set[str] = set()
        suffixes: list[str] = []
        self.any = False
        for pattern in patterns:
            wildcard = pattern.find("*")
            if pattern == "*":
                self.any = True
            elif wildcard == -1:
                exact.add(_pattern_host(pattern))
            elif wildcard == 0 and pattern.startswith("*.") and "*" not in pattern[1:]:
                suffixes.append(pattern[1:].lower())
            else:
                raise AssertionError(ENFORCE_DOMAIN_WILDCARD)
        self.exact = frozenset(exact)
        self.suffixes = tuple(suffixes)
        # "example.com" is redirected to "www.example.com" only when the latter is allowed.
        self.www = frozenset(host[4:] for host in exact if host.startswith("www."))

    def allows(self, host: str) -> bool:
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))


class TrustedHostMiddleware:
    """Refuse requests whose Host header is not one of ``allowed_hosts`` (400).

    Patterns are exact host names (IPv6 literals with or without brackets) or
    ``*.example.com`` wildcards, compared case-insensitively without the port. A Host
    header that is not a plain host and optional port (a userinfo, path, query, fragment,
    space or malformed IP literal in it) matches nothing. With ``www_redirect``, a request
    for ``example.com`` is redirected to ``www.example.com`` when only the latter is allowed.
    """

    __slots__ = ("_accepted", "_patterns", "allow_any", "allowed_hosts", "app", "www_redirect")

    def __init__(
        self, app: ASGIApp, allowed_hosts: Sequence[str] | None = None, www_redirect: bool = True
    ) -> None:
        self.app = app
        self.allowed_hosts = ["*"] if allowed_hosts is None else list(allowed_hosts)
        self.www_redirect = www_redirect
        self._patterns = _HostPatterns(self.allowed_hosts)
        self.allow_any = self._patterns.any
        self._accepted: set[bytes] = set()  # Host header values already allowed (bounded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = get_header(scope["headers"], b"host") or b""
        if raw in self._accepted:
            await self.app(scope, receive, send)
            return
        parts = split_host(raw.decode("latin-1"))
        if parts is not None and self._patterns.allows(parts[0]):
            if len(self._accepted) >= _CACHE_SIZE:
                self._accepted.clear()
            self._accepted.add(raw)
            await self.app(scope, receive, send)
            return
        if parts is not None and self.www_redirect and parts[0] in self._patterns.www:
            host, port = parts
            number = port_number(port)
            await redirect(scope, send, f"www.{host}" if number is None else f"www.{host}:{number}")
            return
        await INVALID_HOST.send(send, websocket=scope["type"] == "websocket")
