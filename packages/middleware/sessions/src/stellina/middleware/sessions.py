"""Signed-cookie session middleware for any ASGI application."""

from __future__ import annotations

__version__ = "0.1.0"

import functools
import json
from base64 import b64decode, b64encode
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import InitVar, dataclass, field
from typing import Any, Literal, TypeVar

import itsdangerous
from itsdangerous.exc import BadData

from stellina.asgi import add_vary, cookie_values
from stellina.types import ASGIApp, Message, Receive, Scope, Send

_CLEARED = b"null; path=%s; expires=Thu, 01 Jan 1970 00:00:00 GMT; %s"

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _modifying(method: _Method) -> _Method:
    """``method`` of dict, made to mark the session modified (and accessed) first."""

    @functools.wraps(method)
    def tracked(self: Session, *args: Any, **kwargs: Any) -> Any:
        self.accessed = self.modified = True
        return method(self, *args, **kwargs)

    return tracked  # type: ignore[return-value]


class Session(dict[str, Any]):
    """The session dict of ``scope["session"]``; it records whether it was read or changed.

    Every method that changes the dict marks the session modified (and accessed): the
    mutators that always change it are ``dict``'s own, wrapped; the others mark it only
    when they do change it. ``Request.session`` marks it accessed, which adds
    ``Vary: Cookie`` to the response.
    """

    # Class-level until marked: a session is made by dict's own constructor alone.
    accessed: bool = False
    modified: bool = False

    def mark_accessed(self) -> None:
        """Record that the response depends on the session."""
        self.accessed = True

    def mark_modified(self) -> None:
        """Record that the session must be saved (or cleared)."""
        self.accessed = True
        self.modified = True

    __setitem__ = _modifying(dict.__setitem__)
    __delitem__ = _modifying(dict.__delitem__)
    __ior__ = _modifying(dict.__ior__)
    clear = _modifying(dict.clear)
    update = _modifying(dict.update)

    def pop(self, key: str, *args: Any) -> Any:
        if key in self:
            self.mark_modified()
        return super().pop(key, *args)

    def popitem(self) -> tuple[str, Any]:
        if self:
            self.mark_modified()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.mark_modified()
        return super().setdefault(key, default)


def _check_attribute(name: str, value: str) -> str:
    if any(char in value for char in "\r\n\0;"):
        raise ValueError(f"{name} must not contain CR, LF, NUL or ';': {value!r}")
    return value


@dataclass(eq=False)
class SessionMiddleware:
    """Keep ``scope["session"]`` in a signed, timestamped cookie (JSON, base64).

    The cookie format is the one Starlette uses, so sessions survive a migration. A tampered,
    expired or malformed cookie gives an empty session. The cookie is sent only when the
    session was changed, and cleared when a stored session was emptied. The constructor's
    arguments are the cookie's settings; the secret key only makes the signer, it is not kept.
    """

    app: ASGIApp
    secret_key: InitVar[object]
    session_cookie: str = "session"
    max_age: int | None = 14 * 24 * 60 * 60
    path: str = "/"
    same_site: Literal["lax", "strict", "none"] = "lax"
    https_only: bool = False
    domain: str | None = None
    partitioned: bool = False

    signer: itsdangerous.TimestampSigner = field(init=False, repr=False)
    _name: bytes = field(init=False, repr=False)
    _cookie_prefix: bytes = field(init=False, repr=False)
    _set_suffix: bytes = field(init=False, repr=False)
    _cleared: bytes = field(init=False, repr=False)

    def __post_init__(self, secret_key: object) -> None:
        self.signer = itsdangerous.TimestampSigner(str(secret_key))
        flags = "httponly; samesite=" + _check_attribute("same_site", self.same_site)
        if self.https_only:
            flags += "; secure"
        if self.domain is not None:
            flags += "; domain=" + _check_attribute("domain", self.domain)
        if self.partitioned:
            flags += "; partitioned"
        name = _check_attribute("session_cookie", self.session_cookie).encode("latin-1")
        if not name or b"=" in name or b" " in name:
            raise ValueError(f"invalid session_cookie name: {self.session_cookie!r}")
        self._name = name
        self._cookie_prefix = name + b"="
        path_bytes = _check_attribute("path", self.path).encode("latin-1")
        max_age_part = "" if self.max_age is None else f"Max-Age={self.max_age}; "
        self._set_suffix = (
            b"; path=" + path_bytes + b"; " + f"{max_age_part}{flags}".encode("latin-1")
        )
        self._cleared = self._cookie_prefix + _CLEARED % (path_bytes, flags.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        stored = self._load(scope["headers"])
        scope["session"] = Session() if stored is None else stored
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        await self.app(
            scope, receive, functools.partial(self._send, send, scope, stored is not None)
        )

    def _send(
        self, send: Send, scope: Scope, had_cookie: bool, message: Message
    ) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self._add_headers(message, scope.get("session"), had_cookie)
        return send(message)

    def _load(self, headers: Iterable[tuple[bytes, bytes]]) -> Session | None:
        """The session in the request's cookie, or None when there is no valid one."""
        sent = list(cookie_values(headers, self._name))
        if not sent:
            return None
        raw = sent[-1]  # the last one sent counts
        try:
            data = json.loads(b64decode(self.signer.unsign(raw, max_age=self.max_age)))
        except (BadData, ValueError):
            return None
        return Session(data) if isinstance(data, dict) else None

    def _add_headers(self, message: Message, session: Any, had_cookie: bool) -> None:
        if isinstance(session, Session):
            if not session.accessed:
                return
            modified = session.modified
        else:  # the application replaced the session with another mapping
            modified = True
        headers = list(message.get("headers", ()))
        add_vary(headers, b"Cookie")
        if modified and session:
            payload = b64encode(json.dumps(session).encode())
            cookie = self._cookie_prefix + self.signer.sign(payload) + self._set_suffix
            headers.append((b"set-cookie", cookie))
        elif modified and had_cookie:
            headers.append((b"set-cookie", self._cleared))
        message["headers"] = headers
