"""HTTP connections and requests: lazy, cached views over an ASGI scope and receive channel."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Coroutine, Generator, Iterator, Mapping
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Generic, NoReturn, cast

import anyio

from stellina.datastructures import URL, Address, FormData, Headers, QueryParams, State
from stellina.exceptions import HTTPException
from stellina.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import TypeVar

    StateT = TypeVar("StateT", bound=Mapping[str, Any] | State, default=State)
else:
    from typing import TypeVar

    # Type-parameter defaults need Python 3.13 at runtime; only checkers use them.
    StateT = TypeVar("StateT")

__all__ = [
    "ClientDisconnect",
    "HTTPConnection",
    "Request",
    "cookie_parser",
    "empty_receive",
    "empty_send",
]

SERVER_PUSH_HEADERS_TO_COPY = {
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "user-agent",
}
_PUSH_HEADER_NAMES = frozenset(name.encode("latin-1") for name in SERVER_PUSH_HEADERS_TO_COPY)

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


class ClientDisconnect(Exception):
    """The client went away before the request body was fully read."""


class HTTPConnection(Mapping[str, Any], Generic[StateT]):
    """What HTTP requests and WebSocket sessions share: a read-only mapping over the scope."""

    # `__dict__` and `__weakref__` keep connections open to user attributes and weak
    # references, as plain classes are; the scope stays in a slot.
    __slots__ = ("__dict__", "__weakref__", "scope")

    # Lazy views: these class-level Nones stand until first access stores the view in the
    # instance, so building a connection sets no more than the scope.
    _url: URL | None = None
    _base_url: URL | None = None
    _headers: Headers | None = None
    _query_params: QueryParams | None = None
    _cookies: dict[str, str] | None = None
    _state: State | None = None

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        assert scope["type"] in ("http", "websocket")
        self.scope = scope

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    # Connections compare and hash by identity, not as mappings.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def app(self) -> Any:
        """The application that received this connection (`scope["app"]`)."""
        return self.scope["app"]

    @property
    def url(self) -> URL:
        """The full URL of the connection, built once from the scope."""
        url = self._url
        if url is None:
            self._url = url = URL(scope=self.scope)
        return url

    @property
    def base_url(self) -> URL:
        """The URL of the application root (scheme, host and root path)."""
        if self._base_url is not None:
            return self._base_url
        scope = dict(self.scope)
        root_path = scope.get("app_root_path", scope.get("root_path", ""))
        scope["path"] = root_path if root_path.endswith("/") else root_path + "/"
        scope["query_string"] = b""
        scope["root_path"] = root_path
        self._base_url = url = URL(scope=scope)
        return url

    @property
    def headers(self) -> Headers:
        """The request headers: case-insensitive and multi-valued."""
        headers = self._headers
        if headers is None:
            self._headers = headers = Headers(scope=self.scope)
        return headers

    @property
    def query_params(self) -> QueryParams:
        """The parsed query string."""
        params = self._query_params
        if params is None:
            self._query_params = params = QueryParams(self.scope["query_string"])
        return params

    @property
    def path_params(self) -> dict[str, Any]:
        """The parameters the router extracted from the path."""
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies of every `Cookie` header, parsed once."""
        if self._cookies is not None:
            return self._cookies
        cookies: dict[str, str] = {}
        for key, value in self.scope["headers"]:
            if key == b"cookie":
                cookies.update(cookie_parser(value.decode("latin-1")))
        self._cookies = cookies
        return cookies

    @property
    def client(self) -> Address | None:
        """The remote `(host, port)`, or None when the server does not know it."""
        host_port = self.scope.get("client")
        if host_port is None:
            return None
        return Address(*host_port)

    @property
    def session(self) -> dict[str, Any]:
        """The session dict set by SessionMiddleware."""
        assert "session" in self.scope, (
            "SessionMiddleware must be installed to access request.session"
        )
        session: dict[str, Any] = self.scope["session"]
        # SessionMiddleware's dict records reads, so the response can vary on the cookie.
        mark_accessed = getattr(session, "mark_accessed", None)
        if mark_accessed is not None:
            mark_accessed()
        return session

    @property
    def auth(self) -> Any:
        """The credentials set by AuthenticationMiddleware."""
        assert "auth" in self.scope, (
            "AuthenticationMiddleware must be installed to access request.auth"
        )
        return self.scope["auth"]

    @property
    def user(self) -> Any:
        """The user set by AuthenticationMiddleware."""
        assert "user" in self.scope, (
            "AuthenticationMiddleware must be installed to access request.user"
        )
        return self.scope["user"]

    @property
    def state(self) -> StateT:
        """Attribute access over `scope["state"]`, which lifespan state is copied into."""
        state = self._state
        if state is None:
            self._state = state = State(self.scope.setdefault("state", {}))
        return cast(StateT, state)

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of the route called `name`, with the given path parameters."""
        provider = self.scope.get("router") or self.scope.get("app")
        if provider is None:
            raise RuntimeError(
                "The `url_for` method can only be used inside a Stellina application "
                "or with a router."
            )
        url_path = provider.url_path_for(name, **path_params)
        absolute: URL = url_path.make_absolute_url(base_url=self.base_url)
        return absolute


async def empty_receive() -> NoReturn:
    """The receive channel of a Request built without one."""
    raise RuntimeError("Receive channel has not been made available")


async def empty_send(message: Message) -> NoReturn:
    """The send channel of a Request built without one."""
    raise RuntimeError("Send channel has not been made available")


_UNSET: Any = object()


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

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """Yield the body as it arrives, then a final `b""`.

        Raises ClientDisconnect if the client goes away, and RuntimeError("Stream consumed")
        when the body was already streamed and not kept.
        """
        body = self._body
        if body is not None:
            yield body
            yield b""
            return
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        receive = self._receive
        while not self._stream_consumed:
            message = await receive()
            message_type = message["type"]
            if message_type == "http.request":
                if not message.get("more_body", False):
                    self._stream_consumed = True
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
            elif message_type == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect()
        yield b""

    async def body(self) -> bytes:
        """The whole body, read once and kept."""
        if self._body is not None:
            return self._body
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        receive = self._receive
        chunks: list[bytes] = []
        while True:
            message = await receive()
            message_type = message["type"]
            if message_type == "http.request":
                chunk = message.get("body", b"")
                if not message.get("more_body", False):
                    break
                if chunk:
                    chunks.append(chunk)
            elif message_type == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect()
        self._stream_consumed = True
        if chunks:
            # Several messages: one copy into the final bytes.
            if chunk:
                chunks.append(chunk)
            chunk = b"".join(chunks)
        elif type(chunk) is not bytes:
            chunk = bytes(chunk)
        self._body = chunk
        return chunk

    async def json(self) -> Any:
        """The body decoded as JSON, once; invalid JSON raises json.JSONDecodeError."""
        if self._json is not _UNSET:
            return self._json
        self._json = data = json.loads(await self.body())
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

        content_type = self.headers.get("content-type", "")
        media_type = content_type.partition(";")[0].strip().lower()
        parser: MultiPartParser | FormParser
        if media_type == "multipart/form-data":
            parser = MultiPartParser(
                self.headers,
                self.stream(),
                max_files=max_files,
                max_fields=max_fields,
                max_part_size=max_part_size,
            )
            if spool_max_size is not None:
                parser.spool_max_size = spool_max_size
        elif media_type == "application/x-www-form-urlencoded":
            parser = FormParser(
                self.headers, self.stream(), max_fields=max_fields, max_part_size=max_part_size
            )
        else:
            self._form = FormData()
            return self._form
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            if "app" in self.scope:
                raise HTTPException(status_code=400, detail=exc.message) from exc
            raise
        self._form = form
        return form

    def form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
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
        """Whether the client has gone away; polls `receive` without waiting."""
        if not self._is_disconnected:
            message: Message = {}
            with anyio.CancelScope() as scope:
                scope.cancel()
                message = await self._receive()
            if message.get("type") == "http.disconnect":
                self._is_disconnected = True
        return self._is_disconnected

    async def send_push_promise(self, path: str) -> None:
        """Ask the server to push `path` (HTTP/2 server push), when it offers the extension."""
        if "http.response.push" not in self.scope.get("extensions", {}):
            return
        headers = [
            (key, value) for key, value in self.scope["headers"] if key in _PUSH_HEADER_NAMES
        ]
        await self._send({"type": "http.response.push", "path": path, "headers": headers})

    async def send_early_hints(self, link: str, *additional_links: str) -> None:
        """Send `103 Early Hints` with these `Link` header values, when the server offers it."""
        if "http.response.early_hint" not in self.scope.get("extensions", {}):
            return
        links = [value.encode("latin-1") for value in (link, *additional_links)]
        if any(b"\r" in value or b"\n" in value or b"\0" in value for value in links):
            raise ValueError("Link header values must not contain CR, LF or NUL characters.")
        await self._send({"type": "http.response.early_hint", "links": links})
