"""Set-Cookie header values, refusing anything that would make the header invalid or injectable."""

from __future__ import annotations

import http.cookies
import re
import sys
import time
from datetime import datetime
from email.utils import format_datetime, formatdate
from typing import Literal

__all__ = ["Expires", "SameSite", "set_cookie_value"]

SameSite = Literal["lax", "strict", "none"] | None
#: An Expires attribute: a datetime, seconds from now, or an HTTP date as it is to be sent.
Expires = datetime | str | int | None

# Cookie names are RFC 6265 tokens, as http.cookies accepts them, and no attribute's name.
_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]+")
_RESERVED_NAMES = frozenset(http.cookies.Morsel().keys()) | {"partitioned"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_IN_ATTRIBUTE = re.compile(r"[\x00-\x1f\x7f;]")
_SAMESITE_VALUES = frozenset(("strict", "lax", "none"))
_quote_value = http.cookies.SimpleCookie().value_encode
# http.cookies learnt the Partitioned attribute in Python 3.14; Starlette refuses it before.
_PARTITIONED_SUPPORTED = sys.version_info >= (3, 14)


class InvalidCookie(http.cookies.CookieError, ValueError):
    """A cookie argument that would produce an invalid or injectable Set-Cookie header."""


class InvalidSameSite(AssertionError, ValueError):
    """An unknown SameSite value (an AssertionError, as Starlette raises, and a ValueError)."""


def _attribute(name: str, value: str) -> str:
    if _UNSAFE_IN_ATTRIBUTE.search(value):
        raise InvalidCookie(f"Invalid cookie {name} {value!r}: control characters or ';'.")
    return value


def _expiry(expires: datetime | str | int) -> str:
    """The Expires date: a datetime, seconds from now, or an HTTP date as given."""
    if isinstance(expires, datetime):
        return format_datetime(expires, usegmt=True)
    if isinstance(expires, int):
        return formatdate(time.time() + expires, usegmt=True)
    return _attribute("expires", expires)


def set_cookie_value(
    key: str,
    value: str,
    domain: str | None,
    expires: Expires,
    httponly: bool,
    max_age: int | None,
    partitioned: bool,
    path: str | None,
    samesite: SameSite,
    secure: bool,
    /,
) -> bytes:
    """The Set-Cookie header value for ``key`` and ``value``, then the attributes, given (and
    written) in the alphabetical order that http.cookies uses."""
    if not _NAME.fullmatch(key) or key.lower() in _RESERVED_NAMES:
        raise InvalidCookie(f"Illegal key {key!r}")
    if _CONTROL.search(value):
        raise InvalidCookie(f"Invalid cookie value {value!r}: control characters.")
    if partitioned and not _PARTITIONED_SUPPORTED:
        raise ValueError("Partitioned cookies are only supported in Python 3.14 and above.")
    if samesite is not None and samesite.lower() not in _SAMESITE_VALUES:
        raise InvalidSameSite("samesite must be either 'strict', 'lax' or 'none'")
    when = None if expires is None else _expiry(expires)
    attributes = (
        ("Domain", domain and _attribute("domain", domain)),
        ("expires", when),
        ("HttpOnly", httponly),
        ("Max-Age", None if max_age is None else str(max_age)),
        ("Partitioned", partitioned),
        ("Path", path and _attribute("path", path)),
        ("SameSite", samesite),
        ("Secure", secure),
    )
    text = f"{key}={_quote_value(value)[1]}"
    for name, setting in attributes:
        if setting is True:
            text += "; " + name
        elif setting:
            text += f"; {name}={setting}"
    return text.encode("latin-1")
