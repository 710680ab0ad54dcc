"""Cross-Origin Resource Sharing (CORS) middleware for any ASGI application."""

from __future__ import annotations

__version__ = "0.1.0"

import functools
import re
from collections.abc import Awaitable, Collection
from dataclasses import dataclass, field

from stellina.asgi import TEXT_PLAIN, RawHeaders, add_vary, set_header
from stellina.types import ASGIApp, Message, Receive, Scope, Send

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")
SAFELISTED_HEADERS = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}

_ALLOW_ORIGIN = b"access-control-allow-origin"
_ORIGIN = b"Origin"
_PREFLIGHT_VARY = (
    b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    b"Access-Control-Request-Private-Network"
)


def _unsafe(value: bytes) -> bool:
    """Whether a client value must never be echoed into a response header."""
    return b"\r" in value or b"\n" in value or b"\0" in value


def _send_with_vary(send: Send, message: Message) -> Awaitable[None]:
    """Forward ``message``, adding ``Vary: Origin`` to the response start.

    A plain function returning ``send``'s awaitable: no extra coroutine per message.
    """
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", ()))
        add_vary(headers, _ORIGIN)
        message["headers"] = headers
    return send(message)


def _items(value: Collection[str]) -> Collection[str]:
    """A policy list as given, or, for a string (a common slip: ``allow_origins="https://a"``),
    its comma-separated items: no origin, method or header name holds a comma."""
    if isinstance(value, str):
        return tuple(item for item in (part.strip() for part in value.split(",")) if item)
    return value


@dataclass(eq=False)
class CORSMiddleware:
    """Answer CORS preflight requests and add CORS headers to the other responses.

    The policy is the constructor's arguments; everything that does not depend on the
    request (the preflight headers, the simple-response headers) is derived from it once,
    in `__post_init__`. With credentials a wildcard origin is never sent: the request's
    allowed origin is echoed instead.
    """

    app: ASGIApp
    allow_origins: Collection[str] = ()
    allow_methods: Collection[str] = ("GET",)
    allow_headers: Collection[str] = ()
    allow_credentials: bool = False
    allow_origin_regex: str | None = None
    allow_private_network: bool = False
    expose_headers: Collection[str] = ()
    max_age: int = 600

    allow_all_origins: bool = field(init=False, repr=False)
    allow_all_headers: bool = field(init=False, repr=False)
    _explicit_origin: bool = field(init=False, repr=False)
    _allowed_origins: frozenset[str] = field(init=False, repr=False)
    _allow_headers_lower: frozenset[str] = field(init=False, repr=False)
    _origin_regex: re.Pattern[str] | None = field(init=False, repr=False)
    _simple_headers: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False)
    _preflight_start: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.allow_origins = _items(self.allow_origins)
        self.allow_methods = _items(self.allow_methods)
        self.allow_headers = _items(self.allow_headers)
        self.expose_headers = _items(self.expose_headers)
        self.allow_methods = ALL_METHODS if "*" in self.allow_methods else tuple(self.allow_methods)
        self.allow_all_origins = "*" in self.allow_origins
        self.allow_all_headers = "*" in self.allow_headers
        self.allow_headers = sorted(SAFELISTED_HEADERS | set(self.allow_headers))
        self._explicit_origin = not self.allow_all_origins or self.allow_credentials
        self._allowed_origins = frozenset(self.allow_origins)
        self._allow_headers_lower = frozenset(name.lower() for name in self.allow_headers)
        regex = self.allow_origin_regex
        self._origin_regex = None if regex is None else re.compile(regex)
        self._simple_headers = tuple(self._simple_response_headers())
        self._preflight_start = tuple(self._preflight_headers())

    @property
    def allow_explicit_origin(self) -> bool:
        """Whether an allowed origin is echoed rather than answered with ``*``."""
        return self._explicit_origin

    def _simple_response_headers(self) -> RawHeaders:
        headers: RawHeaders = []
        if self.allow_all_origins:
            headers.append((_ALLOW_ORIGIN, b"*"))
        if self.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        if self.expose_headers:
            exposed = ", ".join(self.expose_headers).encode()
            headers.append((b"access-control-expose-headers", exposed))
        return headers

    def _preflight_headers(self) -> RawHeaders:
        headers: RawHeaders = [(b"vary", _PREFLIGHT_VARY)]
        if not self._explicit_origin:
            headers.append((_ALLOW_ORIGIN, b"*"))
        headers.append((b"access-control-allow-methods", ", ".join(self.allow_methods).encode()))
        headers.append((b"access-control-max-age", str(self.max_age).encode()))
        if not self.allow_all_headers:
            allowed = ", ".join(self.allow_headers).encode()
            headers.append((b"access-control-allow-headers", allowed))
        if self.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

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
                set_header(headers, name, value)
            if self._explicit_origin and self.is_allowed_origin(origin.decode("latin-1")):
                set_header(headers, _ALLOW_ORIGIN, origin)
            add_vary(headers, _ORIGIN)
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
        headers.append((b"content-type", TEXT_PLAIN))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
