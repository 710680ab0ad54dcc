"""Cross-Origin Resource Sharing (CORS) middleware for any ASGI application."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")
SAFELISTED_HEADERS = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}

_ALLOW_ORIGIN = b"access-control-allow-origin"
_VARY = b"vary"
_ORIGIN = b"Origin"
_VARY_ORIGIN = (_VARY, _ORIGIN)
_PREFLIGHT_VARY = (
    b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    b"Access-Control-Request-Private-Network"
)
_TEXT_PLAIN = (b"content-type", b"text/plain; charset=utf-8")


def _unsafe(value: bytes) -> bool:
    """Whether a client value must never be echoed into a response header."""
    return b"\r" in value or b"\n" in value or b"\0" in value


def _set_header(headers: Headers, name: bytes, value: bytes) -> None:
    """Replace every ``name`` header (names are lowercase in ASGI) by one with ``value``."""
    found = -1
    for index in range(len(headers) - 1, -1, -1):
        if headers[index][0] == name:
            if found != -1:
                del headers[found]
            found = index
    if found == -1:
        headers.append((name, value))
    else:
        headers[found] = (name, value)


def _add_vary(headers: Headers, token: bytes) -> None:
    """Add ``token`` to the ``Vary`` header unless it is listed already."""
    for index, (name, value) in enumerate(headers):
        if name == _VARY:
            tokens = [part.strip().lower() for part in value.split(b",")]
            if token.lower() not in tokens:
                headers[index] = (_VARY, value + b", " + token)
            return
    headers.append((_VARY, token))


def _send_with_vary(send: Send, message: Message) -> Awaitable[None]:
    """Forward ``message``, adding ``Vary: Origin`` to the response start.

    A plain function returning ``send``'s awaitable: no extra coroutine per message.
    """
    if message["type"] == "http.response.start":
        headers = message.get("headers", ())
        for name, _ in headers:
            if name == _VARY:
                headers = list(headers)
                _add_vary(headers, _ORIGIN)
                break
        else:
            headers = [*headers, _VARY_ORIGIN]
        message["headers"] = headers
    return send(message)


class CORSMiddleware:
    """Answer CORS preflight requests and add CORS headers to the other responses.

    Everything that does not depend on the request is computed here, once.
    """

    __slots__ = (
        "_allow_headers_lower",
        "_allowed_origins",
        "_explicit_origin",
        "_origin_regex",
        "_preflight_start",
        "_simple_headers",
        "allow_all_headers",
        "allow_all_origins",
        "allow_credentials",
        "allow_headers",
        "allow_methods",
        "allow_origins",
        "allow_private_network",
        "app",
        "expose_headers",
        "max_age",
    )

    def __init__(
        self,
        app: ASGIApp,
        allow_origins: Collection[str] = (),
        allow_methods: Collection[str] = ("GET",),
        allow_headers: Collection[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        allow_private_network: bool = False,
        expose_headers: Collection[str] = (),
        max_age: int = 600,
    ) -> None:
        if "*" in allow_methods:
            allow_methods = ALL_METHODS
        self.app = app
        self.allow_origins = tuple(allow_origins)
        self.allow_methods = tuple(allow_methods)
        self.allow_all_origins = "*" in allow_origins
        self.allow_all_headers = "*" in allow_headers
        self.allow_headers = sorted(SAFELISTED_HEADERS | set(allow_headers))
        self.allow_credentials = allow_credentials
        self.allow_private_network = allow_private_network
        self.expose_headers = tuple(expose_headers)
        self.max_age = max_age
        self._allow_headers_lower = frozenset(name.lower() for name in self.allow_headers)
        self._origin_regex = None if allow_origin_regex is None else re.compile(allow_origin_regex)
        self._allowed_origins = frozenset(allow_origins)
        # With credentials a wildcard is never sent: the request's origin is echoed instead.
        self._explicit_origin = not self.allow_all_origins or allow_credentials

        simple: Headers = []
        if self.allow_all_origins:
            simple.append((_ALLOW_ORIGIN, b"*"))
        if allow_credentials:
            simple.append((b"access-control-allow-credentials", b"true"))
        if expose_headers:
            simple.append((b"access-control-expose-headers", ", ".join(expose_headers).encode()))
        self._simple_headers = tuple(simple)

        start: Headers = [(_VARY, _PREFLIGHT_VARY)]
        if not self._explicit_origin:
            start.append((_ALLOW_ORIGIN, b"*"))
        start.append((b"access-control-allow-methods", ", ".join(self.allow_methods).encode()))
        start.append((b"access-control-max-age", str(max_age).encode()))
        if not self.allow_all_headers:
            start.append((b"access-control-allow-headers", ", ".join(self.allow_headers).encode()))
        if allow_credentials:
            start.append((b"access-control-allow-credentials", b"true"))
        self._preflight_start = tuple(start)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
                break
        if origin is None or _unsafe(origin):
            await self.app(scope, receive, functools.partial(_send_with_vary, send))
            return
        if scope["method"] == "OPTIONS":
            for name, _ in scope["headers"]:
                if name == b"access-control-request-method":
                    await self._preflight(scope, origin, send)
                    return
        await self.app(scope, receive, functools.partial(self._send_simple, send, origin))

    def is_allowed_origin(self, origin: str) -> bool:
        """Whether ``origin`` may read responses."""
        if self.allow_all_origins or origin in self._allowed_origins:
            return True
        return self._origin_regex is not None and self._origin_regex.fullmatch(origin) is not None

    def _send_simple(self, send: Send, origin: bytes, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            for name, value in self._simple_headers:
                _set_header(headers, name, value)
            if self._explicit_origin and self.is_allowed_origin(origin.decode("latin-1")):
                _set_header(headers, _ALLOW_ORIGIN, origin)
            _add_vary(headers, _ORIGIN)
            message["headers"] = headers
        return send(message)

    async def _preflight(self, scope: Scope, origin: bytes, send: Send) -> None:
        method = requested_headers = private_network = None
        for name, value in scope["headers"]:
            if name == b"access-control-request-method":
                method = value if method is None else method
            elif name == b"access-control-request-headers":
                requested_headers = value if requested_headers is None else requested_headers
            elif name == b"access-control-request-private-network":
                private_network = value if private_network is None else private_network

        headers = list(self._preflight_start)
        failures = []
        if self.is_allowed_origin(origin.decode("latin-1")):
            if self._explicit_origin:
                headers.append((_ALLOW_ORIGIN, origin))
        else:
            failures.append(b"origin")
        if method is None or method.decode("latin-1") not in self.allow_methods:
            failures.append(b"method")
        if requested_headers is not None:
            if _unsafe(requested_headers):
                failures.append(b"headers")
            elif self.allow_all_headers:
                headers.append((b"access-control-allow-headers", requested_headers))
            elif any(
                part.strip().decode("latin-1") not in self._allow_headers_lower
                for part in requested_headers.lower().split(b",")
            ):
                failures.append(b"headers")
        if private_network is not None:
            if self.allow_private_network:
                headers.append((b"access-control-allow-private-network", b"true"))
            else:
                failures.append(b"private-network")

        if failures:
            status, body = 400, b"Disallowed CORS " + b", ".join(failures)
        else:
            status, body = 200, b"OK"
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append(_TEXT_PLAIN)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
