"""CSRF protection for any ASGI application: a signed double-submit token, checked on unsafe
methods together with the request's Origin.

Every HTTP request gets a random token, signed with the secret, in a cookie the page's scripts
can read (set when the request carries no valid one) and in ``scope["csrf_token"]``. An unsafe
request must send the same token back in a header or a form field, and come from the app's own
origin or a trusted one; otherwise it is refused with a 403 naming the reason.
"""

__version__ = "0.1.0"

import functools
import hashlib
import hmac
import re
import secrets
from collections import deque
from collections.abc import Awaitable, Iterable
from typing import Final

import itsdangerous
from itsdangerous.exc import BadData

from stellina.asgi import PlainText, RawHeaders, cookie_values, get_header, route_path
from stellina.types import ASGIApp, Message, Receive, Scope, Send

from ._bodies import (
    BOUNDARY,
    MULTIPART,
    URLENCODED,
    MultipartScan,
    Replay,
    UrlencodedScan,
    header_parameter,
)
from ._origins import Origin, own_origin, parse_origin, split_trusted

__all__ = ["DEFAULT_MAX_BODY_SIZE", "SCOPE_KEY", "CSRFMiddleware"]

#: The scope key holding the request's token (a str): what a form or a script sends back.
SCOPE_KEY: Final = "csrf_token"
#: How many body bytes are scanned for the form field by default (1 MiB).
DEFAULT_MAX_BODY_SIZE: Final = 1024 * 1024

_SALT = b"stellina.middleware.csrf"
# A signed token is under 100 characters: anything much longer is not one of ours, and is
# refused before any HMAC is computed over it.
_MAX_TOKEN_LENGTH = 256
# Cookies of our name tried in one request (a sibling subdomain may add its own).
_MAX_COOKIES = 8
# Signed values verified lately, remembered with their timestamp; emptied when full.
_VERIFIED_ENTRIES = 1024

_ORIGIN_MISSING = PlainText(403, "CSRF origin missing")
_ORIGIN_NOT_TRUSTED = PlainText(403, "CSRF origin not trusted")
_COOKIE_MISSING = PlainText(403, "CSRF cookie missing")
_COOKIE_INVALID = PlainText(403, "CSRF cookie invalid")
_TOKEN_EXPIRED = PlainText(403, "CSRF token expired")
_TOKEN_MISSING = PlainText(403, "CSRF token missing")
_TOKEN_INVALID = PlainText(403, "CSRF token invalid")
_FORM_TOO_LARGE = PlainText(413, "CSRF token not found within the form size limit")


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: header and cookie names
# Characters that every form encoder (browsers, urllib, Go, curl) sends as they are.
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_COOKIE_PATH = re.compile(r"/[\x21-\x3a\x3c-\x7e]*")  # printable ASCII but ';'
_COOKIE_DOMAIN = re.compile(r"\.?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


def _text(name: str, value: object, pattern: re.Pattern[str] | None = None) -> str:
    """``value``, checked to be a non-empty str (matching ``pattern`` in full, if given)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value or (pattern is not None and pattern.fullmatch(value) is None):
        raise ValueError(f"invalid {name}: {value!r}")
    return value


def _strings(name: str, value: object) -> tuple[str, ...]:
    """``value``, a collection of str, as a tuple; a single str (or bytes) is refused."""
    if isinstance(value, str | bytes | bytearray) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a collection of str, not {type(value).__name__}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} entries must be str, not {type(item).__name__}")
    return items


def _check_int(name: str, value: object, minimum: int) -> int:
    """``value``, checked to be an int of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value}")
    return value


def _send_with_cookie(send: Send, cookie: bytes, message: Message) -> Awaitable[None]:
    """Forward ``message``, adding the ``Set-Cookie`` header to the response start."""
    if message["type"] == "http.response.start":
        headers: RawHeaders = list(message.get("headers", ()))
        headers.append((b"set-cookie", cookie))
        message["headers"] = headers
    return send(message)


class CSRFMiddleware:
    """Refuse unsafe HTTP requests that lack the client's signed CSRF token or come from an
    untrusted origin (403, plain text, with the reason).

    Arguments (all but ``app`` and ``secret`` keyword-only):

    - ``secret``: the signing key (str or bytes, not empty);
    - ``cookie_name``, ``header_name``, ``field_name``: where the token travels: the cookie
      the middleware sets, the request header and the form field a client sends it back in;
    - ``safe_methods``: methods never checked (they must not change state);
    - ``exempt_paths``: path prefixes never checked, matched at segment boundaries against
      the path below ``root_path``: ``"/hooks"`` covers ``/hooks`` and ``/hooks/...``, not
      ``/hooks-x``; a path with a ``.`` or ``..`` segment is never exempt;
    - ``trusted_origins``: origins besides the app's own (its scheme and Host header) that
      may send unsafe requests, like ``"https://app.example.com"``; ``"https://*.example.com"``
      trusts every subdomain of ``example.com`` (not ``example.com`` itself);
    - ``cookie_path``, ``cookie_domain``, ``cookie_samesite``: the cookie's attributes;
    - ``cookie_secure``: the cookie's ``Secure`` flag; None sets it on https requests;
    - ``max_age``: the token's lifetime in seconds (also the cookie's ``Max-Age``); None:
      no expiry, a browser-session cookie;
    - ``max_body_size``: how many bytes of a form body are read, at most, to find the field
      when the header is absent; the body read is replayed to the app.

    The token of the request is in ``scope["csrf_token"]`` (`SCOPE_KEY`) for every HTTP
    request. WebSocket and lifespan scopes pass through untouched.
    """

    __slots__ = (
        "_attributes",
        "_cookie_key",
        "_exempt_exact",
        "_exempt_prefixes",
        "_header_key",
        "_secure_attributes",
        "_trusted_exact",
        "_trusted_wildcards",
        "_verified",
        "app",
        "cookie_domain",
        "cookie_name",
        "cookie_path",
        "cookie_samesite",
        "cookie_secure",
        "exempt_paths",
        "field_name",
        "header_name",
        "max_age",
        "max_body_size",
        "safe_methods",
        "signer",
        "trusted_origins",
    )

    def __init__(
        self,
        app: ASGIApp,
        secret: str | bytes,
        *,
        cookie_name: str = "csrftoken",
        header_name: str = "x-csrftoken",
        field_name: str = "csrf_token",
        safe_methods: Iterable[str] = ("GET", "HEAD", "OPTIONS", "TRACE"),
        exempt_paths: Iterable[str] = (),
        trusted_origins: Iterable[str] = (),
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        cookie_secure: bool | None = None,
        cookie_samesite: str = "lax",
        max_age: int | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        if not isinstance(secret, str | bytes):
            raise TypeError(f"secret must be a str or bytes, not {type(secret).__name__}")
        if not secret:
            raise ValueError("secret must not be empty")
        self.app = app
        self.signer = itsdangerous.TimestampSigner(secret, salt=_SALT, digest_method=hashlib.sha256)
        self._verified: dict[bytes, tuple[bytes, int]] = {}
        self.cookie_name = _text("cookie_name", cookie_name, _TOKEN)
        self.header_name = _text("header_name", header_name, _TOKEN).lower()
        self.field_name = _text("field_name", field_name, _FIELD_NAME)
        self.safe_methods = frozenset(
            _text("safe_methods entry", method, _TOKEN).upper()
            for method in _strings("safe_methods", safe_methods)
        )
        self.exempt_paths = _strings("exempt_paths", exempt_paths)
        for path in self.exempt_paths:
            if not path.startswith("/"):
                raise ValueError(f"exempt_paths entries must start with '/', not {path!r}")
        self._exempt_exact = frozenset(path for path in self.exempt_paths if path[-1] != "/")
        self._exempt_prefixes = tuple(
            path if path[-1] == "/" else path + "/" for path in self.exempt_paths
        )
        self.trusted_origins = _strings("trusted_origins", trusted_origins)
        self._trusted_exact, self._trusted_wildcards = split_trusted(self.trusted_origins)
        self.cookie_path = _text("cookie_path", cookie_path, _COOKIE_PATH)
        if cookie_domain is not None:
            _text("cookie_domain", cookie_domain, _COOKIE_DOMAIN)
        self.cookie_domain = cookie_domain
        if cookie_secure is not None and not isinstance(cookie_secure, bool):
            raise TypeError("cookie_secure must be True, False or None")
        self.cookie_secure = cookie_secure
        samesite = _SAMESITE.get(_text("cookie_samesite", cookie_samesite).lower())
        if samesite is None:
            raise ValueError(
                f"cookie_samesite must be 'lax', 'strict' or 'none', not {cookie_samesite!r}"
            )
        if samesite == "None" and cookie_secure is False:
            raise ValueError("cookie_samesite='none' needs a Secure cookie: cookie_secure=False")
        self.cookie_samesite = samesite
        self.max_age = None if max_age is None else _check_int("max_age", max_age, 1)
        self.max_body_size = _check_int("max_body_size", max_body_size, 0)
        self._check_prefix()
        self._cookie_key = self.cookie_name.encode("ascii")
        self._header_key = self.header_name.encode("ascii")
        attributes = f"; Path={self.cookie_path}"
        if cookie_domain is not None:
            attributes += f"; Domain={cookie_domain}"
        if self.max_age is not None:
            attributes += f"; Max-Age={self.max_age}"
        attributes += f"; SameSite={samesite}"
        self._attributes = attributes.encode("ascii")
        self._secure_attributes = self._attributes + b"; Secure"

    def _check_prefix(self) -> None:
        """The rules browsers apply to ``__Secure-`` and ``__Host-`` cookie names."""
        name = self.cookie_name.lower()
        if name.startswith(("__secure-", "__host-")) and self.cookie_secure is not True:
            raise ValueError(f"a {self.cookie_name!r} cookie needs cookie_secure=True")
        if name.startswith("__host-") and (self.cookie_path != "/" or self.cookie_domain):
            raise ValueError(
                f"a {self.cookie_name!r} cookie needs cookie_path='/' and no cookie_domain"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = self._read_cookie(scope["headers"])
        if isinstance(cookie, PlainText):
            problem: PlainText | None = cookie
            token = secrets.token_urlsafe(32).encode("ascii")
            signed = self.signer.sign(token)
            send = functools.partial(_send_with_cookie, send, self._set_cookie(scope, signed))
        else:
            problem = None
            signed, token = cookie
        scope[SCOPE_KEY] = signed.decode("latin-1")
        if scope["method"] in self.safe_methods or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        refusal = self._origin_refusal(scope) or problem
        if refusal is not None:
            await refusal.send(send)
            return
        submitted = get_header(scope["headers"], self._header_key)
        if submitted is not None:
            if self._matches(token, submitted):
                await self.app(scope, receive, send)
            else:
                await _TOKEN_INVALID.send(send)
            return
        await self._check_form(token, scope, receive, send)

    def _read_cookie(
        self, headers: Iterable[tuple[bytes, bytes]]
    ) -> tuple[bytes, bytes] | PlainText:
        """The first validly signed (cookie value, token) of the request, else the refusal
        that its absence earns: cookie missing, invalid or expired.
        """
        name = self._cookie_key
        problem = _COOKIE_MISSING
        for tried, candidate in enumerate(cookie_values(headers, name), 1):
            if tried > _MAX_COOKIES:
                return problem
            token = self._unsign(candidate)
            if not isinstance(token, PlainText):
                return candidate, token
            if problem is not _TOKEN_EXPIRED:
                problem = token
        return problem

    def _unsign(self, signed: bytes) -> bytes | PlainText:
        """The token of a signed value, else why it is none: `_COOKIE_INVALID` or
        `_TOKEN_EXPIRED`.

        Verified values are remembered (a bounded table) with their timestamp, so that a
        client's token is checked with an HMAC once, not on every request; the age is
        checked each time.
        """
        known = self._verified.get(signed)
        if known is None:
            if len(signed) > _MAX_TOKEN_LENGTH:
                return _COOKIE_INVALID
            try:
                token, signed_at = self.signer.unsign(signed, return_timestamp=True)
            except BadData:
                return _COOKIE_INVALID
            if len(self._verified) >= _VERIFIED_ENTRIES:
                self._verified.clear()
            known = self._verified[signed] = (token, int(signed_at.timestamp()))
        token, timestamp = known
        if self.max_age is not None:
            age = self.signer.get_timestamp() - timestamp
            if age > self.max_age or age < 0:
                return _TOKEN_EXPIRED
        return token

    def _set_cookie(self, scope: Scope, signed: bytes) -> bytes:
        """The ``Set-Cookie`` value carrying a new signed token."""
        secure = self.cookie_secure
        if secure is None:
            secure = scope.get("scheme") == "https"
        return (
            self._cookie_key
            + b"="
            + signed
            + (self._secure_attributes if secure else self._attributes)
        )

    def _exempt(self, scope: Scope) -> bool:
        """Whether the request's path is under one of ``exempt_paths``."""
        if not self._exempt_prefixes:
            return False
        path = route_path(scope) or "/"
        if path not in self._exempt_exact and not path.startswith(self._exempt_prefixes):
            return False
        segments = path.split("/")
        return "." not in segments and ".." not in segments

    def _origin_refusal(self, scope: Scope) -> PlainText | None:
        """None when the request comes from a trusted origin (or, over plain http, does not
        say where it comes from), else the refusal.
        """
        headers = scope["headers"]
        value = get_header(headers, b"origin")
        if value is not None:
            host = get_header(headers, b"host")
            scheme: str = scope.get("scheme", "http")
            if host is not None and value == scheme.encode() + b"://" + host:
                return None  # the same origin, spelt as the browser spelt the Host header
            origin = parse_origin(value.decode("latin-1"))
        elif scope.get("scheme") != "https":
            return None
        else:
            value = get_header(headers, b"referer")
            if value is None:
                return _ORIGIN_MISSING
            origin = parse_origin(value.decode("latin-1"), whole=False)
        if origin is not None and (self._trusts(origin) or origin == own_origin(scope)):
            return None
        return _ORIGIN_NOT_TRUSTED

    def _trusts(self, origin: Origin) -> bool:
        if origin in self._trusted_exact:
            return True
        scheme, host, port = origin
        return any(
            scheme == trusted_scheme and port == trusted_port and host.endswith(suffix)
            for trusted_scheme, suffix, trusted_port in self._trusted_wildcards
        )

    def _matches(self, token: bytes, submitted: bytes) -> bool:
        """Whether ``submitted`` is a valid signed value of ``token`` (constant time)."""
        unsigned = self._unsign(submitted)
        return not isinstance(unsigned, PlainText) and hmac.compare_digest(token, unsigned)

    def _scanner(self, scope: Scope) -> UrlencodedScan | MultipartScan | None:
        """A scanner for the field in the request's form body; None for any other body."""
        value = get_header(scope["headers"], b"content-type")
        if value is None:
            return None
        content_type = value.decode("latin-1")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type == URLENCODED:
            return UrlencodedScan(self.field_name)
        if media_type == MULTIPART:
            boundary = header_parameter(content_type, "boundary")
            if boundary is not None and BOUNDARY.fullmatch(boundary):
                return MultipartScan(self.field_name, boundary.encode("latin-1"))
        return None

    async def _check_form(self, token: bytes, scope: Scope, receive: Receive, send: Send) -> None:
        """Look for the token in the form body, then run the app with the body replayed."""
        scanner = self._scanner(scope)
        if scanner is None:
            await _TOKEN_MISSING.send(send)
            return
        buffered: deque[Message] = deque()
        size = 0
        more = True
        value = None
        while value is None and more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before the field came: nobody to answer
            buffered.append(message)
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            room = self.max_body_size - size
            size += len(chunk)
            if len(chunk) > room:  # the scan stops at the limit
                value = scanner.feed(chunk[:room], False)
            else:
                value = scanner.feed(chunk, not more)
            if value is None and size > self.max_body_size:
                await _FORM_TOO_LARGE.send(send)
                return
        if value is None:
            await _TOKEN_MISSING.send(send)
        elif self._matches(token, value):
            await self.app(scope, Replay(buffered, receive), send)
        else:
            await _TOKEN_INVALID.send(send)
