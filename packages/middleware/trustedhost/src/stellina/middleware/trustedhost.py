"""Host header validation middleware for any ASGI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import quote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ENFORCE_DOMAIN_WILDCARD = "Domain wildcard patterns must be like '*.example.com'."

_URL_SAFE = ":/%#?=@[]!$&'()*+,;"
_INVALID_HOST = b"Invalid host header"
_INVALID_HOST_HEADERS = [
    (b"content-length", str(len(_INVALID_HOST)).encode()),
    (b"content-type", b"text/plain; charset=utf-8"),
]


def _normalise(host: str) -> str:
    """Lowercase ``host``; IPv6 literals get their brackets, as in a Host header."""
    host = host.lower()
    if ":" in host and "[" not in host:
        return f"[{host}]"
    return host


def _hostname(header: str) -> str:
    """The host part of a Host header value, without the port, lowercased."""
    if header.startswith("["):
        end = header.find("]") + 1
        if end and (len(header) == end or header[end] == ":"):
            return header[:end].lower()
        return header.lower()  # malformed: matches no pattern
    return header.partition(":")[0].lower()


class TrustedHostMiddleware:
    """Refuse requests whose Host header is not one of ``allowed_hosts`` (400).

    Patterns are exact host names or ``*.example.com`` wildcards, compared case-insensitively
    without the port. With ``www_redirect``, a request for ``example.com`` is redirected to
    ``www.example.com`` when only the latter is allowed.
    """

    __slots__ = (
        "_allowed_cache",
        "_exact",
        "_suffixes",
        "_www",
        "allow_any",
        "allowed_hosts",
        "app",
        "www_redirect",
    )

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Sequence[str] | None = None,
        www_redirect: bool = True,
    ) -> None:
        if allowed_hosts is None:
            allowed_hosts = ["*"]
        for pattern in allowed_hosts:
            if "*" in pattern[1:] or (
                pattern.startswith("*") and pattern != "*" and not pattern.startswith("*.")
            ):
                raise AssertionError(ENFORCE_DOMAIN_WILDCARD)
        self.app = app
        self.allowed_hosts = list(allowed_hosts)
        self.allow_any = "*" in allowed_hosts
        self.www_redirect = www_redirect
        self._exact = frozenset(_normalise(p) for p in allowed_hosts if not p.startswith("*"))
        self._suffixes = tuple(p[1:].lower() for p in allowed_hosts if p.startswith("*."))
        self._www = frozenset(host[4:] for host in self._exact if host.startswith("www."))
        self._allowed_cache: set[bytes] = set()  # Host header values already accepted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = b""
        for name, value in scope["headers"]:
            if name == b"host":
                raw = value
                break
        if raw in self._allowed_cache:
            await self.app(scope, receive, send)
            return
        header = raw.decode("latin-1")
        host = _hostname(header)
        if host in self._exact or (self._suffixes and host.endswith(self._suffixes)):
            if len(self._allowed_cache) >= 256:  # bounded: clients choose Host values
                self._allowed_cache.clear()
            self._allowed_cache.add(raw)
            await self.app(scope, receive, send)
            return
        prefix = "websocket." if scope["type"] == "websocket" else ""
        if self.www_redirect and host in self._www:
            url = f"{scope.get('scheme', 'http')}://www.{header}"
            url += scope["path"].encode("utf-8", "surrogatepass").decode("latin-1")
            if scope.get("query_string"):
                url += "?" + scope["query_string"].decode("latin-1")
            location = quote(url.encode("latin-1"), safe=_URL_SAFE).encode("ascii")
            await send(
                {
                    "type": prefix + "http.response.start",
                    "status": 307,
                    "headers": [(b"content-length", b"0"), (b"location", location)],
                }
            )
            await send({"type": prefix + "http.response.body", "body": b""})
            return
        await send(
            {
                "type": prefix + "http.response.start",
                "status": 400,
                "headers": list(_INVALID_HOST_HEADERS),
            }
        )
        await send({"type": prefix + "http.response.body", "body": _INVALID_HOST})
