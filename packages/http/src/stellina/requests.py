"""HTTP connections and requests: lazy, cached views over an ASGI scope and receive channel."""

from __future__ import annotations

__version__ = "0.1.0"

import operator
import re
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Mapping
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Generic, NoReturn, cast, overload

import anyio

from stellina._uploads import DEFAULT_MAX_PART_SIZE, DEFAULT_MAX_PARTS
from stellina.asgi import (
    MAX_BODY_SIZE_SCOPE_KEY,
    BodyLimit,
    declared_length,
    load_json,
    too_large,
)
from stellina.datastructures import URL, Address, FormData, Headers, QueryParams, State
from stellina.exceptions import ClientDisconnect, HTTPException
from stellina.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import TypeVar

    StateT = TypeVar("StateT", bound=Mapping[str, Any] | State, default=State)
else:
    from typing import TypeVar

    # Type-parameter defaults need Python 3.13 at runtime; only checkers use them.
    StateT = TypeVar("StateT")

_V = TypeVar("_V")

__all__ = [
    "SERVER_PUSH_HEADERS_TO_COPY",
    "ClientDisconnect",
    "HTTPConnection",
    "Request",
    "cookie_parser",
    "empty_receive",
    "empty_send",
]

# The request headers a pushed request inherits (`send_push_promise`).
_PUSH_HEADER_NAMES = frozenset(
    (b"accept", b"accept-encoding", b"accept-language", b"cache-control", b"user-agent")
)
SERVER_PUSH_HEADERS_TO_COPY = {name.decode("latin-1") for name in _PUSH_HEADER_NAMES}
_FORBIDDEN_IN_LINK = re.compile(rb"[\r\n\x00]")

# One pass over a quoted cookie value: `\ooo` octal escapes and `\c` escapes.
_cookie_escape = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))")


def _cookie_unescape(match: re.Match[str]) -> str:
    octal, char = match.groups()
    return chr(int(octal, 8)) if octal else char


def _unquote_cookie_value(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    return _cookie_escape.sub(_cookie_unescape, inner) if "\\" in inner else inner


def cookie_parser(cookie_string: str) -> dict[str, str]:
    """Parse a `Cookie` header leniently, as browsers send it; later names win.

    Chunks without `=` count as a value with an empty name; quoted values are unquoted.
    Runs in time linear in the length of the header.
    """
    cookies: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep:
            key, value = "", key
        key = key.strip()
        value = value.strip()
        if key or value:
            cookies[key] = _unquote_cookie_value(value) if '"' in value else value
    return cookies


class _Lazy(Generic[_V]):
    """A view of the scope, computed on first access and then kept in the instance.

    A non-data descriptor: once the value sits in the instance ``__dict__``, attribute
    lookup finds it there without calling back here.
    """

    def __init__(self, build: Callable[[Any], _V]) -> None:
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, connection: None, owner: type) -> _Lazy[_V]: ...

    @overload
    def __get__(self, connection: object, owner: type) -> _V: ...

    def __get__(self, connection: object | None, owner: type) -> _Lazy[_V] | _V:
        if connection is None:
            return self
        value = connection.__dict__[self.name] = self.build(connection)
        return value


def _base_url_of(scope: Scope) -> URL:
    root_path: str = scope.get("app_root_path", scope.get("root_path", ""))
    base_scope = {
        **scope,
        "path": root_path if root_path.endswith("/") else root_path + "/",
        "query_string": b"",
        "root_path": root_path,
    }
    return URL(scope=base_scope)


def _cookies_of(raw_headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for name, value in raw_headers:
        if name == b"cookie":
            cookies.update(cookie_parser(value.decode("latin-1")))
    return cookies


def _scope_entry(key: str, middleware: str, attribute: str) -> Callable[[HTTPConnection[Any]], Any]:
    """A getter for what ``middleware`` puts in ``scope[key]``, asserting that it ran."""

    def read(connection: HTTPConnection[Any]) -> Any:
        scope = connection.scope
        assert key in scope, f"{middleware} must be installed to access request.{attribute}"
        return scope[key]

    return read


def _on_scope(operation: Callable[..., _V]) -> Callable[..., _V]:
    """A method applying ``operation`` to the connection's scope."""
    return lambda connection, *args: operation(connection.scope, *args)


class HTTPConnection(Mapping[str, Any], Generic[StateT]):
    """What HTTP requests and WebSocket sessions share: a read-only mapping over the scope.

    Connections compare and hash by identity, not as mappings. Their views of the scope
    (``url``, ``headers``, ``cookies``...) are built on first access, once.
    """

    # `__dict__` holds the views once built (and user attributes); the scope is a slot.
    __slots__ = ("__dict__", "__weakref__", "scope")

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        assert scope["type"] in ("http", "websocket")
        self.scope = scope

    # The mapping is the scope's; identity is the connection's own.
    __getitem__ = _on_scope(operator.getitem)
    __iter__ = _on_scope(iter)
    __len__ = _on_scope(len)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @_Lazy
    def url(self) -> URL:
        """The full URL of the connection."""
        return URL(scope=self.scope)

    @_Lazy
    def base_url(self) -> URL:
        """The URL of the application root: scheme, host and root path."""
        return _base_url_of(self.scope)

    @_Lazy
    def headers(self) -> Headers:
        """The request headers: case-insensitive and multi-valued."""
        return Headers(scope=self.scope)

    @_Lazy
    def query_params(self) -> QueryParams:
        """The parsed query string."""
        return QueryParams(self.scope["query_string"])

    @_Lazy
    def cookies(self) -> dict[str, str]:
        """The cookies of every ``Cookie`` header."""
        return _cookies_of(self.scope["headers"])

    @_Lazy
    def _state_view(self) -> State:
        return State(self.scope.setdefault("state", {}))

    @property
    def state(self) -> StateT:
        """Attribute access over ``scope["state"]``, which lifespan state is copied into."""
        return cast(StateT, self._state_view)

    @property
    def app(self) -> Any:
        """The application that received this connection (``scope["app"]``)."""
        return self.scope["app"]

    @property
    def path_params(self) -> dict[str, Any]:
        """The parameters the router extracted from the path."""
        return cast("dict[str, Any]", self.scope.get("path_params", {}))

    @property
    def client(self) -> Address | None:
        """The remote ``(host, port)``, or None when the server does not know it."""
        peer = self.scope.get("client")
        return None if peer is None else Address(*peer)

    @property
    def session(self) -> dict[str, Any]:
        """The session dict set by SessionMiddleware."""
        session: dict[str, Any] = _scope_entry("session", "SessionMiddleware", "session")(self)
        # SessionMiddleware's dict records reads, so the response can vary on the cookie.
        mark_accessed = getattr(session, "mark_accessed", None)
        if mark_accessed is not None:
            mark_accessed()
        return session

    auth = property(
        _scope_entry("auth", "AuthenticationMiddleware", "auth"),
        doc="The credentials set by AuthenticationMiddleware.",
    )
    user = property(
        _scope_entry("user", "AuthenticationMiddleware", "user"),
        doc="The user set by AuthenticationMiddleware.",
    )

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of the route called ``name``, with the given path parameters."""
        provider = self.scope.get("router") or self.scope.get("app")
        if provider is None:
            raise RuntimeError(
                "The `url_for` method can only be used inside a Stellina application "
                "or with a router."
            )
        absolute: URL = provider.url_path_for(name, **path_params).make_absolute_url(
            base_url=self.base_url
        )
        return absolute


async def empty_receive() -> NoReturn:
    """The receive channel of a Request built without one."""
    raise RuntimeError("Receive channel has not been made available")


async def empty_send(message: Message) -> NoReturn:
    """The send channel of a Request built without one."""
    raise RuntimeError("Send channel has not been made available")


_UNSET: Any = object()


_FORM_MEDIA_TYPES = frozenset(("multipart/form-data", "application/x-www-form-urlencoded"))


def _multipart_installed() -> bool:
    return find_spec("python_multipart") is not None


class _FormAwaitable:
    """What `Request.form()` returns: await it, or use it as an async context manager."""

    __slots__ = ("_coro", "_form")

    def __init__(self, coro: Coroutine[Any, Any, FormData]) -> None:
        self._coro = coro

    def __await__(self) -> Generator[Any, None, FormData]:
        return self._coro.__await__()

    async def __aenter__(self) -> FormData:
        self._form = form = await self
        return form

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._form.close()


class Request(HTTPConnection[StateT]):
    """An HTTP request: the scope plus the body, read from `receive` on demand."""

    __slots__ = ("_receive", "_send")

    # Body state, class-level until it changes (see HTTPConnection).
    _stream_consumed = False
    _is_disconnected = False
    _body: bytes | None = None
    _json: Any = _UNSET
    _form: FormData | None = None

    def __init__(
        self, scope: Scope, receive: Receive = empty_receive, send: Send = empty_send
    ) -> None:
        assert scope["type"] == "http"
        self.scope = scope
        self._receive = receive
        self._send = send

    @property
    def method(self) -> str:
        """The HTTP method, upper case."""
        method: str = self.scope["method"]
        return method

    @property
    def receive(self) -> Receive:
        """The ASGI receive channel."""
        return self._receive

    def _own_limit(self) -> int | None:
        """The body limit this request must count itself.

        None when there is none, or when a `BodyLimit` receive already counts the body.
        """
        scope = self.scope
        limit: int | None = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        if limit is None or BodyLimit.of(scope) is not None:
            return None
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            raise too_large()
        return limit

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """Yield the body as it arrives, then a final ``b""``.

        Raises ClientDisconnect if the client goes away, HTTPException(413) past the
        request's body limit, and RuntimeError("Stream consumed") when the body was streamed
        before and not kept.
        """
        if self._body is not None:
            yield self._body
            yield b""
            return
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        limit = self._own_limit()
        receive = self._receive
        received = 0
        # Held in the instance from here: the loop's lookup then stays a fast one.
        self._stream_consumed = False
        while not self._stream_consumed:  # shared: two streams may take turns
            message = await receive()
            if message["type"] == "http.request":
                if not message.get("more_body", False):
                    self._stream_consumed = True
                chunk = message.get("body", b"")
                if chunk:
                    if limit is not None:
                        received += len(chunk)
                        if received > limit:
                            raise too_large()
                    yield chunk
            elif message["type"] == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect()
        yield b""

    async def body(self) -> bytes:
        """The whole body, read once and kept."""
        if self._body is not None:
            return self._body
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        limit = self._own_limit()
        receive = self._receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                if chunk:
                    chunks.append(chunk)
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise too_large()
                if not message.get("more_body", False):
                    break
            elif message["type"] == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect()
        self._stream_consumed = True
        # One message: its bytes as they are; several: one copy into the final bytes.
        body = b"".join(chunks) if len(chunks) != 1 or type(chunks[0]) is not bytes else chunks[0]
        self._body = body
        return body

    async def json(self) -> Any:
        """The body decoded as JSON, once; invalid JSON raises json.JSONDecodeError."""
        if self._json is not _UNSET:
            return self._json
        self._json = data = load_json(await self.body())
        return data

    async def _get_form(
        self,
        max_files: int | float,
        max_fields: int | float,
        max_part_size: int,
        spool_max_size: int | None,
    ) -> FormData:
        if self._form is not None:
            return self._form
        assert _multipart_installed(), (
            "The `python-multipart` library must be installed to use form parsing."
        )
        from stellina.formparsers import FormParser, MultiPartException, MultiPartParser

        media_type = self.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type not in _FORM_MEDIA_TYPES:
            self._form = FormData()
            return self._form
        body = self.stream()
        parser: MultiPartParser | FormParser
        if media_type == "multipart/form-data":
            parser = MultiPartParser(
                self.headers,
                body,
                max_files=max_files,
                max_fields=max_fields,
                max_part_size=max_part_size,
            )
            if spool_max_size is not None:
                parser.spool_max_size = spool_max_size
        else:
            parser = FormParser(
                self.headers, body, max_fields=max_fields, max_part_size=max_part_size
            )
        try:
            self._form = await parser.parse()
        except MultiPartException as exc:
            if "app" in self.scope:  # inside an application: a 400 with the reason
                raise HTTPException(status_code=400, detail=exc.message) from exc
            raise
        finally:
            await body.aclose()  # a parser stopped early leaves the stream open
        return self._form

    def form(
        self,
        *,
        max_files: int | float = DEFAULT_MAX_PARTS,
        max_fields: int | float = DEFAULT_MAX_PARTS,
        max_part_size: int = DEFAULT_MAX_PART_SIZE,
        spool_max_size: int | None = None,
    ) -> _FormAwaitable:
        """The body parsed as a form; await it, or `async with` it to close its files after.

        `spool_max_size` overrides `MultiPartParser.spool_max_size`, the in-memory size of
        each uploaded file. Multipart errors become HTTPException(400) inside an application.
        """
        coro = self._get_form(max_files, max_fields, max_part_size, spool_max_size)
        return _FormAwaitable(coro)

    async def close(self) -> None:
        """Close the files of the parsed form, if any."""
        if self._form is not None:
            await self._form.close()

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away; polls ``receive`` without waiting."""
        if not self._is_disconnected:
            message = await _poll(self._receive)
            if message is not None and message["type"] == "http.disconnect":
                self._is_disconnected = True
        return self._is_disconnected

    async def send_push_promise(self, path: str) -> None:
        """Ask the server to push ``path`` (HTTP/2 server push), if it offers the extension."""
        if "http.response.push" in self.scope.get("extensions", {}):
            inherited = [pair for pair in self.scope["headers"] if pair[0] in _PUSH_HEADER_NAMES]
            await self._send({"type": "http.response.push", "path": path, "headers": inherited})

    async def send_early_hints(self, link: str, /, *additional_links: str) -> None:
        """Send ``103 Early Hints`` with these ``Link`` values, if the server offers it."""
        if "http.response.early_hint" not in self.scope.get("extensions", {}):
            return
        links = [value.encode("latin-1") for value in (link, *additional_links)]
        if any(_FORBIDDEN_IN_LINK.search(value) for value in links):
            raise ValueError("Link header values must not contain CR, LF or NUL characters.")
        await self._send({"type": "http.response.early_hint", "links": links})


async def _poll(receive: Receive) -> Message | None:
    """The next message if one is ready at once, else None (the call is cancelled)."""
    with anyio.move_on_after(0):
        return await receive()
    return None
