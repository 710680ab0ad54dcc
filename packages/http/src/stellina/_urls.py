"""`URL` and `URLPath`: URLs split on demand, and built safely from an ASGI scope."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Generic, TypeVar, overload
from urllib.parse import SplitResult, urlencode, urlsplit

from stellina._multidict import MultiDict, parse_query_string
from stellina.asgi import port_number, split_host
from stellina.types import Scope

_T = TypeVar("_T")

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_SECURE_SCHEMES = frozenset(("https", "wss"))
_AUTHORITY_PARTS = frozenset(("username", "password", "hostname", "port"))
# Characters of a decoded scope path that would end the path or move the authority.
_PATH_ESCAPES = str.maketrans({"?": "%3F", "#": "%23", "\\": "%5C"})


class _Part(Generic[_T]):
    """A read-only URL attribute, read from the `SplitResult` of the same name."""

    __slots__ = ("name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, url: None, owner: type) -> _Part[_T]: ...

    @overload
    def __get__(self, url: URL, owner: type) -> _T: ...

    def __get__(self, url: URL | None, owner: type) -> _Part[_T] | _T:
        if url is None:
            return self
        value: _T = getattr(url.components, self.name)
        return value


class URL:
    """A URL; its components are split out on first access, then kept."""

    __slots__ = ("_split", "_url")

    scheme: _Part[str] = _Part()
    netloc: _Part[str] = _Part()
    path: _Part[str] = _Part()
    query: _Part[str] = _Part()
    fragment: _Part[str] = _Part()
    username: _Part[str | None] = _Part()
    password: _Part[str | None] = _Part()
    hostname: _Part[str | None] = _Part()
    port: _Part[int | None] = _Part()

    def __init__(self, url: str = "", scope: Scope | None = None, **components: Any) -> None:
        if scope is not None:
            assert not url, 'Cannot set both "url" and "scope".'
            assert not components, 'Cannot set both "scope" and "**components".'
            url = url_from_scope(scope)
        elif components:
            assert not url, 'Cannot set both "url" and "**components".'
            url = str(URL().replace(**components))
        self._url = url
        self._split: SplitResult | None = None

    @property
    def components(self) -> SplitResult:
        """The `urllib.parse.SplitResult` of the URL."""
        if self._split is None:
            self._split = urlsplit(self._url)
        return self._split

    @property
    def is_secure(self) -> bool:
        """Whether the scheme is ``https`` or ``wss``."""
        return self.components.scheme in _SECURE_SCHEMES

    def replace(self, **kwargs: Any) -> URL:
        """A copy with the given components replaced.

        Besides the `SplitResult` fields, takes ``username``, ``password``, ``hostname`` and
        ``port``, from which the netloc is rebuilt (a bare IPv6 hostname gets its brackets).
        """
        if _AUTHORITY_PARTS.intersection(kwargs):
            kwargs["netloc"] = self._netloc_with(kwargs)
        return type(self)(self.components._replace(**kwargs).geturl())

    def _netloc_with(self, changes: dict[str, Any]) -> str:
        """The netloc with the authority parts in ``changes`` (popped from it) applied."""
        userinfo, at, hostport = self.components.netloc.rpartition("@")
        user, colon, secret = userinfo.partition(":")
        current_user = user if at else None
        current_password = secret if colon else None
        user = changes.pop("username", current_user)
        secret = changes.pop("password", current_password)
        port = changes.pop("port", self.port)
        host = changes.pop("hostname", None)
        if host is None:  # keep the current host, without its port
            bracket = hostport.find("]")
            host = hostport[: bracket + 1] if bracket != -1 else hostport.partition(":")[0]
        elif _is_bare_ipv6(host):
            host = f"[{host}]"
        netloc = host if port is None else f"{host}:{port}"
        if user is None:
            return netloc
        return f"{user}@{netloc}" if secret is None else f"{user}:{secret}@{netloc}"

    def include_query_params(self, **kwargs: Any) -> URL:
        """A copy with the given query parameters set, replacing existing values."""
        params = MultiDict(parse_query_string(self.query))
        params.update({str(key): str(value) for key, value in kwargs.items()})
        return self.replace(query=urlencode(params.multi_items()))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """A copy whose query string holds exactly the given parameters."""
        pairs = [(str(key), str(value)) for key, value in kwargs.items()]
        return self.replace(query=urlencode(pairs))

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        """A copy without the given query parameters."""
        removed = {keys} if isinstance(keys, str) else set(keys)
        kept = [pair for pair in parse_query_string(self.query) if pair[0] not in removed]
        return self.replace(query=urlencode(kept))

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        shown = self if not self.password else self.replace(password="********")
        return f"{type(self).__name__}({shown._url!r})"


def _is_bare_ipv6(host: str) -> bool:
    if ":" not in host or host.startswith("["):
        return False
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _authority(scope: Scope, scheme: str) -> str | None:
    """The host (and port) of a request: its Host header if valid, else the server address."""
    for name, value in scope["headers"]:
        if name == b"host":
            host: str = value.decode("latin-1")
            parts = split_host(host)
            # urlsplit refuses an IPvFuture literal with an upper-case "V": so do we.
            if (
                parts is not None
                and (not parts[1] or port_number(parts[1]) is not None)
                and not host.startswith("[V")
            ):
                return host
            break  # a Host header that could not be used as is: fall back to the server
    server = scope.get("server")
    if server is None:
        return None
    host, port = server
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return str(host)
    return f"{host}:{port}"


def url_from_scope(scope: Scope) -> str:
    """The URL of the request in ``scope``.

    The path can never change the authority: ``?``, ``#`` and ``\\`` in it are escaped, a
    path not starting with ``/`` gets one, and without an authority a leading ``//`` becomes
    ``/%2F``.
    """
    scheme: str = scope.get("scheme", "http")
    path: str = scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        path = path.translate(_PATH_ESCAPES)
    if not path.startswith("/"):
        path = "/" + path
    authority = _authority(scope, scheme)
    if authority is not None:
        url = f"{scheme}://{authority}{path}"
    elif path.startswith("//"):
        url = "/%2F" + path[2:]
    else:
        url = path
    query_string: bytes = scope.get("query_string", b"")
    if not query_string:
        return url
    try:
        query = query_string.decode()
    except UnicodeDecodeError:
        query = query_string.decode("latin-1")
    return f"{url}?{query}"


class URLPath(str):
    """A path produced by ``url_path_for``, which can become an absolute URL."""

    protocol: str
    host: str

    def __new__(cls, path: str, protocol: str = "", host: str = "") -> URLPath:
        assert protocol in ("http", "websocket", "")
        return str.__new__(cls, path)

    def __init__(self, path: str, protocol: str = "", host: str = "") -> None:
        self.protocol = protocol
        self.host = host

    def make_absolute_url(self, base_url: str | URL) -> URL:
        """Join this path onto ``base_url``, picking ws/wss or http/https as needed."""
        base = URL(base_url) if isinstance(base_url, str) else base_url
        scheme = {
            "websocket": "wss" if base.is_secure else "ws",
            "http": "https" if base.is_secure else "http",
        }.get(self.protocol, base.scheme)
        path = base.path.rstrip("/") + str(self)
        return URL(scheme=scheme, netloc=self.host or base.netloc, path=path)
