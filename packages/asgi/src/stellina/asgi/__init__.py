"""The few helpers every plain ASGI piece shares, each written once, here.

- replies: `PlainText` (a canned plain-text response), `INVALID_HOST`, `redirect`;
- headers: `get_header`, `set_header`, `add_vary`, `cookie_values` (a request cookie, raw);
- paths: `route_path`, the path below the scope's ``root_path``;
- hosts: `split_host`, `port_number`, IPv6- and IPvFuture-aware, refusing anything that could
  move the authority of a URL built from the Host header;
- the request body limit: `MAX_BODY_SIZE_SCOPE_KEY`, `BodyLimit` (its ``receive``, its run of
  an app, its 413 reply `CONTENT_TOO_LARGE`), `limit_body` (a layer), `declared_length`,
  `HTTPException` (re-exported by ``stellina.exceptions``);
- `find_exception_handler`, the lookup of ExceptionMiddleware's handlers, and
  `EXCEPTION_MIDDLEWARE_SCOPE_KEY`, where it is found by the layers below it;
- `TrackedSend`, a ``send`` that remembers whether the response has started;
- `load_json`, ``json.loads`` for client input (deep nesting is a ValueError);
- for the compressing middleware: `encoding_qualities`, `accept_encoding`, `MediaTypeFilter`,
  `DEFAULT_EXCLUDED_CONTENT_TYPES`, `memoise`, `gzip_compress`, `run_in_worker_thread`;
- `StellinaDeprecationWarning` (re-exported by ``stellina.exceptions``).
"""

from __future__ import annotations

__version__ = "0.1.0"

import http
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import MethodType
from typing import Any
from urllib.parse import quote

from stellina.types import ASGIApp, Message, Receive, Scope, Send

# What the gzip and compress middleware share.
from ._compression import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    MediaTypeFilter,
    accept_encoding,
    encoding_qualities,
    gzip_compress,
    memoise,
    run_in_worker_thread,
)

__all__ = [
    "CONTENT_TOO_LARGE",
    "DEFAULT_EXCLUDED_CONTENT_TYPES",
    "EXCEPTION_MIDDLEWARE_SCOPE_KEY",
    "INVALID_HOST",
    "MAX_BODY_SIZE_SCOPE_KEY",
    "TEXT_PLAIN",
    "URL_SAFE",
    "BodyLimit",
    "HTTPException",
    "MediaTypeFilter",
    "PlainText",
    "RawHeaders",
    "StellinaDeprecationWarning",
    "TrackedSend",
    "accept_encoding",
    "add_vary",
    "cookie_values",
    "declared_length",
    "encoding_qualities",
    "find_exception_handler",
    "get_header",
    "gzip_compress",
    "limit_body",
    "load_json",
    "memoise",
    "port_number",
    "redirect",
    "route_path",
    "run_in_worker_thread",
    "set_header",
    "split_host",
    "too_large",
]

RawHeaders = list[tuple[bytes, bytes]]

TEXT_PLAIN = b"text/plain; charset=utf-8"
#: Characters left as they are when a URL is percent-encoded for a Location header.
URL_SAFE = ":/%#?=@[]!$&'()*+,;"


# --- replies ---------------------------------------------------------------------------------


class PlainText:
    """A plain-text response built once and sent any number of times.

    Each send gets a fresh header list: middleware may edit the list of a message it forwards.
    With ``websocket=True`` the messages are the WebSocket denial response's.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, body: str | bytes, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers: tuple[tuple[bytes, bytes], ...] = (
            *headers,
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", TEXT_PLAIN),
        )

    def messages(self, *, websocket: bool = False) -> tuple[Message, Message]:
        """The response start and body messages."""
        prefix = "websocket." if websocket else ""
        start = {"type": prefix + "http.response.start", "status": self.status}
        start["headers"] = list(self.headers)
        return start, {"type": prefix + "http.response.body", "body": self.body}

    async def send(self, send: Send, *, websocket: bool = False) -> None:
        """Send the response through ``send``."""
        start, body = self.messages(websocket=websocket)
        await send(start)
        await send(body)


#: The answer to a request whose Host header cannot be used.
INVALID_HOST = PlainText(400, "Invalid host header")


def _location(scheme: str, netloc: str, scope: Scope) -> bytes:
    """The percent-encoded URL of the scope's path and query string at ``scheme://netloc``."""
    url = f"{scheme}://{netloc}" + scope["path"].encode("utf-8", "surrogatepass").decode("latin-1")
    query: bytes = scope.get("query_string", b"")
    if query:
        url += "?" + query.decode("latin-1")
    return quote(url.encode("latin-1"), safe=URL_SAFE).encode("ascii")


async def redirect(scope: Scope, send: Send, netloc: str, scheme: str | None = None) -> None:
    """Answer with an empty 307 to the scope's path and query string at ``netloc``.

    The scheme is the scope's unless given; a WebSocket scope gets the redirect as its
    denial response.
    """
    location = _location(scheme or scope.get("scheme", "http"), netloc, scope)
    prefix = "websocket." if scope["type"] == "websocket" else ""
    headers = [(b"content-length", b"0"), (b"location", location)]
    await send({"type": prefix + "http.response.start", "status": 307, "headers": headers})
    await send({"type": prefix + "http.response.body", "body": b""})


# --- headers ---------------------------------------------------------------------------------


def get_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of the lowercase header ``name``, or None."""
    for key, value in headers:
        if key == name:
            return value
    return None


def cookie_values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> Iterator[bytes]:
    """The raw values of the request's cookies called ``name``, in the order sent: stripped,
    and without the double quotes a value may be wrapped in. Nothing else is decoded."""
    for key, value in headers:
        if key != b"cookie" or name not in value:
            continue
        for pair in value.split(b";"):
            cookie_name, sep, found = pair.partition(b"=")
            if sep and cookie_name.strip() == name:
                found = found.strip()
                if len(found) > 1 and found[0] == found[-1] == 0x22:  # a quoted value
                    found = found[1:-1]
                yield found


def set_header(headers: RawHeaders, name: bytes, value: bytes) -> None:
    """Leave exactly one ``name`` header, with ``value``, where the first one stood."""
    position = -1
    index = 0
    while index < len(headers):
        if headers[index][0] != name:
            index += 1
        elif position == -1:
            position = index
            index += 1
        else:
            del headers[index]
    if position == -1:
        headers.append((name, value))
    else:
        headers[position] = (name, value)


def add_vary(headers: RawHeaders, token: bytes) -> None:
    """List ``token`` in the ``Vary`` header, unless it is there already (or ``*`` is).

    Several ``Vary`` headers are merged into one, where the first stood, so that the
    response carries a single list.
    """
    first = -1
    merged = b""
    index = 0
    while index < len(headers):
        name, value = headers[index]
        if name != b"vary":
            index += 1
        elif first == -1:
            first, merged = index, value
            index += 1
        else:
            merged += b", " + value
            del headers[index]
    if first == -1:
        headers.append((b"vary", token))
        return
    listed = {part.strip().lower() for part in merged.split(b",")}
    if token.lower() not in listed and b"*" not in listed:
        merged += b", " + token
    headers[first] = (b"vary", merged)


# --- paths -----------------------------------------------------------------------------------


def route_path(scope: Scope) -> str:
    """The scope's path below its ``root_path`` (the part a mounted app routes on).

    The root path counts only when it ends at a segment boundary of the path; the path of
    the root itself is ``""``.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if len(path) == len(root):
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


# --- hosts -----------------------------------------------------------------------------------

# RFC 3986 reg-name: unreserved, sub-delims and percent-encoded octets.
_REG_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
_IPV_FUTURE = re.compile(r"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")
_PORT = re.compile(r"[0-9]+")


def split_host(value: str) -> tuple[str, str] | None:
    """Split a Host header value into its lowercased host and its port (``""`` when absent).

    IP literals keep their brackets (``"[::1]"``). None when the value is not a valid
    RFC 3986 host with an optional all-digit port: anything that could carry a userinfo, a
    path, a query or a fragment into a URL built from it is refused, as are malformed IPv6
    literals. The port's range is not checked here: see `port_number`.
    """
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return None
        literal, rest = value[1:end], value[end + 1 :]
        if literal[:1] in ("v", "V"):
            if _IPV_FUTURE.fullmatch(literal) is None:
                return None
        elif "%" in literal or not _is_ipv6(literal):
            return None
        host = value[: end + 1].lower()
    else:
        host, colon, port = value.partition(":")
        if _REG_NAME.fullmatch(host) is None:
            return None
        host = host.lower()
        rest = colon + port
    if not rest:
        return host, ""
    if rest[0] != ":" or _PORT.fullmatch(rest, 1) is None:
        return None
    return host, rest[1:]


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def port_number(port: str) -> int | None:
    """The number of an all-digit port string, or None when empty or above 65535."""
    digits = port.lstrip("0")
    if len(digits) > 5 or not port:
        return None
    number = int(digits) if digits else 0
    return number if number <= 65535 else None


# --- the request body limit ------------------------------------------------------------------

#: The scope key holding the body size limit (bytes) that applies to the request.
MAX_BODY_SIZE_SCOPE_KEY = "stellina.max_body_size"
_LIMITER_KEY = "stellina.body_limit"


def _phrase(status_code: int) -> str:
    """The registered reason phrase of a status code, or "" for an unregistered one."""
    try:
        return http.HTTPStatus(status_code).phrase
    except ValueError:
        return ""


class HTTPException(Exception):
    """An error answered with ``status_code``.

    ``detail`` (the status phrase unless given) becomes the body of the default handler's
    plain-text response, ``headers`` its headers.
    """

    def __init__(
        self, status_code: int, detail: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code, self.headers = status_code, headers
        self.detail = _phrase(status_code) if detail is None else detail

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


#: Where an ExceptionMiddleware puts itself in the scope, for the layers below it that answer
#: an exception where it is raised (routing's, inside a route's or mount's own middleware).
EXCEPTION_MIDDLEWARE_SCOPE_KEY = "stellina.exception_middleware"


def find_exception_handler(
    by_class: Mapping[type[BaseException], Callable[..., Any]],
    by_status: Mapping[int, Callable[..., Any]],
    exc: BaseException,
) -> Callable[..., Any] | None:
    """The handler for ``exc``: by status code for an HTTPException, then along its classes."""
    if by_status and isinstance(exc, HTTPException):
        handler = by_status.get(exc.status_code)
        if handler is not None:
            return handler
    for cls in type(exc).__mro__:
        handler = by_class.get(cls)
        if handler is not None:
            return handler
    return None


def load_json(document: str | bytes | bytearray) -> Any:
    """`json.loads` for what a client sent: a document nested too deeply for the parser raises
    `json.JSONDecodeError`, a ValueError like any other malformed document, not RecursionError."""
    try:
        return json.loads(document)
    except RecursionError:
        raise json.JSONDecodeError("Document nested too deeply", "", 0) from None


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when absent or not a number."""
    value = get_header(scope["headers"], b"content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit():
        return None
    # Longer than any real limit, and int() of thousands of digits is slow.
    return int(value) if len(value) <= 18 else 10**18


class BodyLimit:
    """A ``receive`` that counts the request body against a limit inner layers may change.

    One per request, found in the scope (shallow copies of the scope share it), so that an
    app-wide limit can be raised or lowered by a router, mount or route. Once the count
    crosses the limit, every call raises `HTTPException` 413 and `exceeded` is set.
    """

    __slots__ = ("exceeded", "limit", "received", "target")

    def __init__(self, receive: Receive, limit: int | None) -> None:
        self.target = receive
        self.limit = limit
        self.received = 0
        self.exceeded = False

    @classmethod
    def apply(cls, scope: Scope, receive: Receive, limit: int | None) -> Receive:
        """Make ``limit`` the request's body limit; the ``receive`` to pass on.

        Reuses the request's `BodyLimit` when an outer layer installed one; raises 413 at
        once when more than ``limit`` bytes have been received already.
        """
        scope[MAX_BODY_SIZE_SCOPE_KEY] = limit
        limiter: BodyLimit | None = scope.get(_LIMITER_KEY)
        if limiter is None:
            limiter = scope[_LIMITER_KEY] = cls(receive, limit)
            return limiter
        limiter.limit = limit
        if limit is not None and limiter.received > limit:
            limiter.exceeded = True
            raise too_large()
        return receive

    @staticmethod
    def of(scope: Scope) -> BodyLimit | None:
        """The request's `BodyLimit`, if a layer installed one."""
        limiter: BodyLimit | None = scope.get(_LIMITER_KEY)
        return limiter

    @staticmethod
    def declared_over(scope: Scope) -> bool:
        """Whether the request declares a Content-Length above the limit that applies to it."""
        limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        if limit is None:
            return False
        declared = declared_length(scope)
        return declared is not None and declared > limit

    @classmethod
    async def run(
        cls,
        app: ASGIApp,
        limit: int | None,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        always_answer: bool = False,
    ) -> None:
        """Run ``app`` with ``limit`` as the request's body limit.

        Inside an application (``"app"`` in the scope) a crossed limit raises the 413 to the
        application's exception handling. Outside one, or with ``always_answer`` (for a layer
        outside the user's middleware), the client gets `CONTENT_TOO_LARGE`, even when the
        app swallowed the 413 and answered nothing; if the response had started, the 413
        `HTTPException` propagates instead.
        """
        if "app" in scope and not always_answer:
            await app(scope, cls.apply(scope, receive, limit), send)
            return
        guarded = _OverLimitSend(scope, send)
        try:
            await app(scope, cls.apply(scope, receive, limit), guarded)
        except HTTPException as exc:
            if exc.status_code != 413 or not cls._crossed(scope):
                raise
            if guarded.started and not guarded.replaced:
                raise
        else:
            if not cls._crossed(scope) or guarded.started:
                return
        if not guarded.started:
            await CONTENT_TOO_LARGE.send(send)

    @staticmethod
    def _crossed(scope: Scope) -> bool:
        limiter: BodyLimit | None = scope.get(_LIMITER_KEY)
        return limiter is not None and limiter.exceeded

    async def __call__(self) -> Message:
        if self.exceeded:
            raise too_large()
        message = await self.target()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.limit is not None and self.received > self.limit:
                self.exceeded = True
                raise too_large()
        return message


class _OverLimitSend:
    """The ``send`` of an app run under a body limit it knows nothing of (another framework).

    Such an app answers the 413 raised from ``receive`` as its own server error; once the
    limit is crossed, a 5xx it starts is replaced with `CONTENT_TOO_LARGE`, and the rest of
    that answer is dropped.
    """

    __slots__ = ("replaced", "scope", "send", "started")

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self.send = send
        self.started = self.replaced = False

    def __call__(self, message: Message) -> Awaitable[None]:
        # The wrapped send's own awaitable is handed back: no coroutine of ours per message.
        if message["type"] == "http.response.start":
            self.started = True
            if message["status"] >= 500 and BodyLimit._crossed(self.scope):
                self.replaced = True
                return CONTENT_TOO_LARGE.send(self.send)
        elif self.replaced:
            return _dropped()
        return self.send(message)


async def _dropped() -> None:
    """What sending a message of a replaced answer does: nothing."""


def too_large() -> HTTPException:
    """The 413 raised when a request body crosses its limit."""
    return HTTPException(413, "Content Too Large")


#: The reply to a request whose body crosses its limit.
CONTENT_TOO_LARGE = PlainText(413, "Content Too Large")


def limit_body(app: ASGIApp, limit: int, *, always_answer: bool = False) -> ASGIApp:
    """A layer running the HTTP requests it passes to ``app`` under `BodyLimit.run`."""

    async def layer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await BodyLimit.run(app, limit, scope, receive, send, always_answer=always_answer)
        else:
            await app(scope, receive, send)

    return layer


# --- warnings --------------------------------------------------------------------------------


class StellinaDeprecationWarning(UserWarning):
    """Warns of a stellina API that will go away (shown by default, unlike DeprecationWarning)."""


# --- sending ---------------------------------------------------------------------------------


class TrackedSend:
    """Remembers whether the response has started: pass on `forward`, then read `started`.

    `forward` is a bound method, cheaper to call than an instance, and it hands back the
    wrapped ``send``'s awaitable: no coroutine of its own per message.
    """

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    @staticmethod
    def around(send: Send) -> TrackedSend:
        """The tracker of ``send``: the one whose `forward` it is, else a new one.

        A layer right inside another that tracks sees the same messages: one tracker serves
        both, and each message passes one wrapper, not one a layer.
        """
        if isinstance(send, MethodType) and type(send.__self__) is TrackedSend:
            return send.__self__
        return TrackedSend(send)

    def forward(self, message: Message) -> Awaitable[None]:
        """Send ``message``, noting a response start."""
        if message["type"] == "http.response.start":
            self.started = True
        return self.send(message)
