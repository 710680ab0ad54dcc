"""Redirect plain HTTP and WebSocket requests to their secure scheme."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_URL_SAFE = ":/%#?=@[]!$&'()*+,;"
_INSECURE = {"http": "https", "ws": "wss"}
_DEFAULT_PORTS = ("80", "443")


def _netloc(scope: Scope) -> str:
    """The request's host (and port unless 80 or 443), from the Host header or the server."""
    for name, value in scope["headers"]:
        if name == b"host":
            header: str = value.decode("latin-1")
            break
    else:
        server = scope.get("server")
        if server is None:
            return ""
        host, port = server
        header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not header.startswith("["):
        host, _, port = header.partition(":")
    elif "]:" in header:  # an IPv6 literal keeps its brackets
        host, _, port = header.rpartition(":")
    else:
        return header
    return host if port in _DEFAULT_PORTS else header


class HTTPSRedirectMiddleware:
    """Answer every ``http``/``ws`` request with a 307 redirect to ``https``/``wss``.

    The default ports 80 and 443 are dropped from the new URL, any other port is kept, and the
    path and query string are preserved.
    """

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme = scope.get("scheme")
        if scheme not in _INSECURE or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        url = f"{_INSECURE[scheme]}://{_netloc(scope)}"
        url += scope["path"].encode("utf-8", "surrogatepass").decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        location = quote(url.encode("latin-1"), safe=_URL_SAFE).encode("ascii")
        prefix = "websocket." if scope["type"] == "websocket" else ""
        await send(
            {
                "type": prefix + "http.response.start",
                "status": 307,
                "headers": [(b"content-length", b"0"), (b"location", location)],
            }
        )
        await send({"type": prefix + "http.response.body", "body": b""})
