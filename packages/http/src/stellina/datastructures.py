"""URLs, headers, query parameters, forms and the other value types of HTTP."""

from __future__ import annotations

import re
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from shlex import shlex
from typing import Any, BinaryIO, NamedTuple, TypeVar, overload
from urllib.parse import SplitResult, unquote, urlencode, urlsplit

from stellina.concurrency import run_in_threadpool
from stellina.types import Scope

_KeyType = TypeVar("_KeyType")
_CovariantValueType = TypeVar("_CovariantValueType", covariant=True)
_T = TypeVar("_T")

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_SECURE_SCHEMES = frozenset(("https", "wss"))
# A Host header is a registered name or a bracketed IP literal, then an optional port.
_VALID_HOST = re.compile(
    r"(?:\[[0-9A-Za-z:.%_\-]+\]|[0-9A-Za-z\-._~!$&'()*+,;=%]+)"  # [IP literal] or name
    r"(?::([0-9]{0,5}))?"  # port
)


class Address(NamedTuple):
    """A network peer: host and port."""

    host: str
    port: int


def _bracket_ipv6(host: str) -> str:
    """Wrap a bare IPv6 address in brackets, as URLs require."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def parse_query_string(query: str) -> list[tuple[str, str]]:
    """Split ``a=1&b=2`` into pairs, keeping blank values, decoding ``+`` and ``%XX``.

    Same result as ``urllib.parse.parse_qsl(query, keep_blank_values=True)``, faster.
    """
    if "%" not in query and "+" not in query:
        pairs: list[tuple[str, str]] = []
        append = pairs.append
        for part in query.split("&"):
            if part:
                name, _, value = part.partition("=")
                append((name, value))
        return pairs
    pieces: list[str] = []
    extend = pieces.extend
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            extend((name, value))
    if "\x00" not in query and "%00" not in query:
        # NUL can then not appear in any decoded piece: decode them all in one call.
        joined = "\x00".join(pieces)
        if "+" in joined:
            joined = joined.replace("+", " ")
        pieces = unquote(joined).split("\x00")
    else:
        pieces = [unquote(piece.replace("+", " ")) for piece in pieces]
    items = iter(pieces)
    return list(zip(items, items, strict=True))


class URL:
    """A URL, split into its components on first access."""

    __slots__ = ("_components", "_url")

    def __init__(self, url: str = "", scope: Scope | None = None, **components: Any) -> None:
        if scope is not None:
            assert not url, 'Cannot set both "url" and "scope".'
            assert not components, 'Cannot set both "scope" and "**components".'
            url = _url_from_scope(scope)
        elif components:
            assert not url, 'Cannot set both "url" and "**components".'
            url = URL("").replace(**components).components.geturl()
        self._url = url
        self._components: SplitResult | None = None

    @property
    def components(self) -> SplitResult:
        components = self._components
        if components is None:
            components = self._components = urlsplit(self._url)
        return components

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        return self.components.path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        return self.components.username

    @property
    def password(self) -> str | None:
        return self.components.password

    @property
    def hostname(self) -> str | None:
        return self.components.hostname

    @property
    def port(self) -> int | None:
        return self.components.port

    @property
    def is_secure(self) -> bool:
        return self.scheme in _SECURE_SCHEMES

    def replace(self, **kwargs: Any) -> URL:
        """A copy with the given components replaced.

        Besides the ``SplitResult`` fields, accepts ``username``, ``password``, ``hostname``
        and ``port``, which rebuild the netloc.
        """
        if "username" in kwargs or "password" in kwargs or "hostname" in kwargs or "port" in kwargs:
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            if hostname is None:
                hostname = self.netloc.rpartition("@")[2]
                if not hostname.endswith("]"):
                    hostname = hostname.rpartition(":")[0] if ":" in hostname else hostname
            else:
                hostname = _bracket_ipv6(hostname)
            netloc = hostname if port is None else f"{hostname}:{port}"
            if username is not None:
                userinfo = username if password is None else f"{username}:{password}"
                netloc = f"{userinfo}@{netloc}"
            kwargs["netloc"] = netloc
        return self.__class__(self.components._replace(**kwargs).geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        """A copy with the given query parameters set, replacing existing values."""
        params = MultiDict(parse_query_string(self.query))
        params.update({str(key): str(value) for key, value in kwargs.items()})
        return self.replace(query=urlencode(params.multi_items()))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """A copy whose query string holds exactly the given parameters."""
        return self.replace(
            query=urlencode([(str(key), str(value)) for key, value in kwargs.items()])
        )

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        """A copy without the given query parameters."""
        removed = {keys} if isinstance(keys, str) else set(keys)
        pairs = [pair for pair in parse_query_string(self.query) if pair[0] not in removed]
        return self.replace(query=urlencode(pairs))

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        url = self._url
        if self.password:
            url = str(self.replace(password="********"))
        return f"{self.__class__.__name__}({url!r})"


def _url_from_scope(scope: Scope) -> str:
    scheme: str = scope.get("scheme", "http")
    path: str = scope["path"]
    query_string: bytes = scope.get("query_string", b"")
    host: str | None = None
    for key, value in scope["headers"]:
        if key == b"host":
            host = value.decode("latin-1")
            match = _VALID_HOST.fullmatch(host)
            if match is None or int(match[1] or 0) > 65535:
                host = None  # malformed: fall back to the server address
            break
    if host is None:
        server = scope.get("server")
        if server is None:
            url = path
        else:
            server_host, port = server
            server_host = _bracket_ipv6(server_host)
            if port is None or port == _DEFAULT_PORTS.get(scheme):
                host = server_host
            else:
                host = f"{server_host}:{port}"
    if host is not None:
        url = f"{scheme}://{host}{path}"
    if query_string:
        try:
            query = query_string.decode()
        except UnicodeDecodeError:
            query = query_string.decode("latin-1")
        url = f"{url}?{query}"
    return url


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
        if isinstance(base_url, str):
            base_url = URL(base_url)
        if self.protocol == "websocket":
            scheme = "wss" if base_url.is_secure else "ws"
        elif self.protocol == "http":
            scheme = "https" if base_url.is_secure else "http"
        else:
            scheme = base_url.scheme
        netloc = self.host or base_url.netloc
        path = base_url.path.rstrip("/") + str(self)
        return URL(scheme=scheme, netloc=netloc, path=path)


class Secret:
    """A string that is hidden in reprs and tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('**********')"

    def __str__(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)


class CommaSeparatedStrings(Sequence[str]):
    """A list of strings read from ``"a, b, 'c, d'"`` (shell-style quoting allowed)."""

    __slots__ = ("_items",)

    def __init__(self, value: str | Sequence[str]) -> None:
        if isinstance(value, str):
            lexer = shlex(value, posix=True)
            lexer.whitespace = ","
            lexer.whitespace_split = True
            self._items = [item.strip() for item in lexer]
        else:
            self._items = list(value)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._items!r})"

    def __str__(self) -> str:
        return ", ".join(repr(item) for item in self._items)


class ImmutableMultiDict(Mapping[_KeyType, _CovariantValueType]):
    """A read-only mapping that keeps every value of repeated keys.

    Plain lookups return the last value of a key; ``getlist`` and ``multi_items`` see all.
    """

    __slots__ = ("_dict", "_list")

    _dict: dict[_KeyType, _CovariantValueType]
    _list: list[tuple[_KeyType, _CovariantValueType]]

    def __init__(
        self,
        *args: ImmutableMultiDict[_KeyType, _CovariantValueType]
        | Mapping[_KeyType, _CovariantValueType]
        | Iterable[tuple[_KeyType, _CovariantValueType]],
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        items = _pairs_of(args[0]) if args else []
        if kwargs:
            items.extend(kwargs.items())
        self._list = items
        self._dict = dict(items)

    def getlist(self, key: Any) -> list[_CovariantValueType]:
        """Every value of ``key``, in order."""
        return [value for item_key, value in self._list if item_key == key]

    def keys(self) -> KeysView[_KeyType]:
        return self._dict.keys()

    def values(self) -> ValuesView[_CovariantValueType]:
        return self._dict.values()

    def items(self) -> ItemsView[_KeyType, _CovariantValueType]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[_KeyType, _CovariantValueType]]:
        """Every ``(key, value)`` pair, repeated keys included, in order."""
        return list(self._list)

    def __getitem__(self, key: _KeyType) -> _CovariantValueType:
        return self._dict[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[_KeyType]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, self.__class__):
            return False
        try:
            return sorted(self._list) == sorted(other._list)
        except TypeError:  # keys or values that do not order: compare as multisets
            remaining = list(other._list)
            for item in self._list:
                try:
                    remaining.remove(item)
                except ValueError:
                    return False
            return not remaining

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.multi_items()!r})"


def _pairs_of(value: Any) -> list[Any]:
    """The ``(key, value)`` pairs of a multidict, a mapping or an iterable of pairs."""
    if not value:
        return []
    if isinstance(value, ImmutableMultiDict):
        return list(value._list)
    if hasattr(value, "multi_items"):
        return list(value.multi_items())
    if hasattr(value, "keys"):
        return list(value.items())
    return list(value)


class MultiDict(ImmutableMultiDict[Any, Any]):
    """A mutable ``ImmutableMultiDict``."""

    __slots__ = ()

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setlist(key, [value])

    def __delitem__(self, key: Any) -> None:
        del self._dict[key]
        self._list = [item for item in self._list if item[0] != key]

    def pop(self, key: Any, default: Any = None) -> Any:
        """Remove every value of ``key``; return the last one, or ``default``."""
        if key not in self._dict:
            return default
        self._list = [item for item in self._list if item[0] != key]
        return self._dict.pop(key)

    def popitem(self) -> tuple[Any, Any]:
        """Remove the most recently inserted key with all its values; return its last value."""
        key, value = self._dict.popitem()
        self._list = [item for item in self._list if item[0] != key]
        return key, value

    def poplist(self, key: Any) -> list[Any]:
        """Remove ``key``; return all its values."""
        values = [value for item_key, value in self._list if item_key == key]
        self.pop(key)
        return values

    def clear(self) -> None:
        self._dict.clear()
        self._list.clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self._dict:
            self._dict[key] = default
            self._list.append((key, default))
        return self._dict[key]

    def setlist(self, key: Any, values: list[Any]) -> None:
        """Replace every value of ``key`` with ``values`` (removes the key when empty)."""
        if not values:
            self.pop(key, None)
            return
        self._list = [item for item in self._list if item[0] != key]
        self._list.extend((key, value) for value in values)
        self._dict[key] = values[-1]

    def append(self, key: Any, value: Any) -> None:
        """Add one more value for ``key``."""
        self._list.append((key, value))
        self._dict[key] = value

    def update(
        self,
        *args: MultiDict | Mapping[Any, Any] | list[tuple[Any, Any]],
        **kwargs: Any,
    ) -> None:
        """Replace the values of every key present in the arguments."""
        other = MultiDict(*args, **kwargs)
        replaced = other._dict
        self._list = [item for item in self._list if item[0] not in replaced]
        self._list.extend(other._list)
        self._dict.update(replaced)


class QueryParams(ImmutableMultiDict[str, str]):
    """The parameters of a query string: ``str()`` gives them back URL-encoded."""

    __slots__ = ()

    def __init__(
        self,
        *args: ImmutableMultiDict[Any, Any]
        | Mapping[Any, Any]
        | list[tuple[Any, Any]]
        | str
        | bytes,
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value = args[0] if args else None
        items: list[tuple[Any, Any]]
        if isinstance(value, str):
            items = parse_query_string(value)
        elif isinstance(value, bytes):
            items = parse_query_string(value.decode("latin-1"))
        else:
            items = [(str(key), str(val)) for key, val in _pairs_of(value)]
        if kwargs:
            items.extend((str(key), str(val)) for key, val in kwargs.items())
        self._list = items
        self._dict = dict(items)

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"


class UploadFile:
    """An uploaded file: a file object plus its name, size and part headers.

    The async methods run blocking disk operations in a worker thread; data held in the
    memory of a ``SpooledTemporaryFile`` is handled directly.
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.filename = filename
        self.file = file
        self.size = size
        self.headers = headers or Headers()
        # 0 means "no limit", as for SpooledTemporaryFile itself.
        self._max_mem_size: int = getattr(file, "_max_size", 0)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type", None)

    @property
    def _in_memory(self) -> bool:
        return not getattr(self.file, "_rolled", True)

    def _will_roll(self, size_to_add: int) -> bool:
        if not self._in_memory:
            return True
        if not self._max_mem_size:
            return False
        return self.file.tell() + size_to_add > self._max_mem_size

    async def write(self, data: bytes) -> None:
        """Append ``data``; in a thread if it goes to disk."""
        if self.size is not None:
            self.size += len(data)
        if self._will_roll(len(data)):
            await run_in_threadpool(self.file.write, data)
        else:
            self.file.write(data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all by default)."""
        if self._in_memory:
            return self.file.read(size)
        return await run_in_threadpool(self.file.read, size)

    async def seek(self, offset: int) -> None:
        """Move to byte ``offset``."""
        if self._in_memory:
            self.file.seek(offset)
        else:
            await run_in_threadpool(self.file.seek, offset)

    async def close(self) -> None:
        """Close the underlying file."""
        if self._in_memory:
            self.file.close()
        else:
            await run_in_threadpool(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(filename={self.filename!r}, "
            f"size={self.size!r}, headers={self.headers!r})"
        )


class FormData(ImmutableMultiDict[str, UploadFile | str]):
    """Parsed form fields: strings, and ``UploadFile`` for file parts."""

    __slots__ = ()

    async def close(self) -> None:
        """Close every uploaded file."""
        for _, value in self._list:
            if isinstance(value, UploadFile):
                await value.close()


_BAD_HEADER_VALUE = re.compile(rb"[\r\n\x00]")
_BAD_HEADER_NAME = re.compile(rb"[\r\n\x00:]")


def _check_header(name: bytes, value: bytes) -> None:
    """Refuse what would let a header split or inject others."""
    if _BAD_HEADER_VALUE.search(value) is not None or _BAD_HEADER_NAME.search(name) is not None:
        raise ValueError(f"Invalid header {name!r}: {value!r} (CR, LF and NUL are not allowed).")


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive HTTP headers over a raw ``[(bytes, bytes)]`` list.

    The raw list is kept as given and scanned on lookup: nothing is decoded until asked.
    """

    __slots__ = ("_list",)

    _list: list[tuple[bytes, bytes]]

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Scope | None = None,
    ) -> None:
        if headers is not None:
            assert raw is None, 'Cannot set both "headers" and "raw".'
            assert scope is None, 'Cannot set both "headers" and "scope".'
            items = [
                (key.lower().encode("latin-1"), value.encode("latin-1"))
                for key, value in headers.items()
            ]
            for key, value in items:
                _check_header(key, value)
            self._list = items
        elif raw is not None:
            assert scope is None, 'Cannot set both "raw" and "scope".'
            self._list = raw
        elif scope is not None:
            raw_headers = scope["headers"]
            if type(raw_headers) is not list:
                # The ASGI spec allows any iterable: keep one list, shared with the scope.
                raw_headers = scope["headers"] = list(raw_headers)
            self._list = raw_headers
        else:
            self._list = []

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The ``(name, value)`` byte pairs, names lowercased."""
        return self._list

    def keys(self) -> list[str]:  # type: ignore[override]
        return [key.decode("latin-1") for key, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [value.decode("latin-1") for _, value in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._list]

    def getlist(self, key: str) -> list[str]:
        """Every value of header ``key``, in order."""
        wanted = key.lower().encode("latin-1")
        return [value.decode("latin-1") for name, value in self._list if name == wanted]

    def mutablecopy(self) -> MutableHeaders:
        """A ``MutableHeaders`` holding a copy of these headers."""
        return MutableHeaders(raw=self._list[:])

    def __getitem__(self, key: str) -> str:
        wanted = key.lower().encode("latin-1")
        for name, value in self._list:
            if name == wanted:
                return value.decode("latin-1")
        raise KeyError(key)

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str | _T) -> str | _T: ...

    def get(self, key: str, default: Any = None) -> Any:
        wanted = key.lower().encode("latin-1")
        for name, value in self._list:
            if name == wanted:
                return value.decode("latin-1")
        return default

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        wanted = key.lower().encode("latin-1")
        for name, _ in self._list:  # noqa: SIM110 - a plain loop is twice as fast as any()
            if name == wanted:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        as_dict = dict(self.items())
        if len(as_dict) == len(self):
            return f"{self.__class__.__name__}({as_dict!r})"
        return f"{self.__class__.__name__}(raw={self.raw!r})"


class MutableHeaders(Headers):
    """Headers that can be changed in place (the raw list is modified).

    Names and values containing CR or LF are refused with ``ValueError``.
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        """Set ``key`` to one value, replacing all existing values in the first one's place."""
        name = key.lower().encode("latin-1")
        encoded = value.encode("latin-1")
        _check_header(name, encoded)
        items = self._list
        first = -1
        for index, item in enumerate(items):
            if item[0] == name:
                first = index
                break
        if first < 0:
            items.append((name, encoded))
            return
        items[first] = (name, encoded)
        for index in range(len(items) - 1, first, -1):
            if items[index][0] == name:
                del items[index]

    def __delitem__(self, key: str) -> None:
        """Remove every value of ``key`` (no error when absent)."""
        name = key.lower().encode("latin-1")
        items = self._list
        for index in range(len(items) - 1, -1, -1):
            if items[index][0] == name:
                del items[index]

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        new = self.mutablecopy()
        new.update(other)
        return new

    def setdefault(self, key: str, value: str) -> str:
        """Return the value of ``key``; set it to ``value`` first if absent."""
        name = key.lower().encode("latin-1")
        for item_name, item_value in self._list:
            if item_name == name:
                return item_value.decode("latin-1")
        encoded = value.encode("latin-1")
        _check_header(name, encoded)
        self._list.append((name, encoded))
        return value

    def update(self, other: Mapping[str, str]) -> None:
        """Set every header of ``other`` (each replaces existing values)."""
        for key, value in other.items():
            self[key] = value

    def append(self, key: str, value: str) -> None:
        """Add a header, keeping existing ones with the same name."""
        name = key.lower().encode("latin-1")
        encoded = value.encode("latin-1")
        _check_header(name, encoded)
        self._list.append((name, encoded))

    def add_vary_header(self, vary: str) -> None:
        """Add ``vary`` to the Vary header."""
        existing = self.get("vary")
        if existing is not None:
            vary = f"{existing}, {vary}"
        self["vary"] = vary


class State:
    """An object for arbitrary attributes, stored in a dict."""

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", {} if state is None else state)

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            # Through __dict__: a copy or unpickle may ask before _state exists.
            return self.__dict__["_state"][key]
        except KeyError:
            raise AttributeError(
                f"'{self.__class__.__name__}' object has no attribute '{key}'"
            ) from None

    def __delattr__(self, key: str) -> None:
        del self._state[key]
