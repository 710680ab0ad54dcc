"""Redirect plain HTTP and WebSocket requests to their secure scheme."""

from __future__ import annotations

__version__ = "0.1.0"

from stellina.asgi import INVALID_HOST, get_header, port_number, redirect, split_host
from stellina.types import ASGIApp, Receive, Scope, Send

_SECURE = {"http": "https", "ws": "wss"}


def _netloc(host: str, port: int | None) -> str:
    """``host`` with ``port``, unless the port is absent or a default one (80, 443)."""
    return host if port is None or port == 80 or port == 443 else f"{host}:{port}"


def _secure_netloc(scope: Scope) -> str | None:
    """The host (and port) the redirect goes to; None when neither source can be used.

    The Host header counts when it is a valid host with an optional port in range;
    otherwise the server's own address does (when it is a host name or IP address), so that
    a hostile header never reaches the URL.
    """
    value = get_header(scope["headers"], b"host")
    if value is not None:
        parts = split_host(value.decode("latin-1"))
        if parts is not None:
            host, port = parts
            number = port_number(port)
            if number is not None or not port:
                return _netloc(host, number)
    server = scope.get("server")
    if not server:
        return None
    host, port = server
    host = f"[{host}]" if ":" in host else host
    if split_host(host) is None:  # a unix socket path, say: no host for a URL
        return None
    return _netloc(host, port)


class HTTPSRedirectMiddleware:
    """Answer every ``http``/``ws`` request with a 307 redirect to ``https``/``wss``.

    The default ports 80 and 443 are dropped from the new URL, any other port is kept, and
    the path and query string are preserved. The host comes from a valid Host header, else
    from the server's address; with neither, the answer is 400 "Invalid host header".
    """

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        secure = _SECURE.get(scope.get("scheme", ""))
        if secure is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        netloc = _secure_netloc(scope)
        if netloc is None:
            await INVALID_HOST.send(send, websocket=scope["type"] == "websocket")
            return
        await redirect(scope, send, netloc, secure)
