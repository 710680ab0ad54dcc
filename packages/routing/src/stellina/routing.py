"""Routes, mounts, hosts and a Router that dispatches through a path index."""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import traceback
import uuid
import warnings
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Generator,
    Iterable,
    Mapping,
    Sequence,
)
from enum import Enum
from typing import Any, cast

from stellina.concurrency import is_async_callable, run_in_threadpool
from stellina.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    StringConvertor,
    UUIDConvertor,
)
from stellina.datastructures import URL, URLPath
from stellina.exceptions import HTTPException
from stellina.middleware import Middleware
from stellina.requests import Request
from stellina.responses import PlainTextResponse, RedirectResponse, Response
from stellina.types import ASGIApp, Lifespan, Message, Receive, Scope, Send
from stellina.websockets import WebSocket, WebSocketClose

__all__ = [
    "BaseRoute",
    "Host",
    "Match",
    "Mount",
    "NoMatchFound",
    "Route",
    "Router",
    "WebSocketRoute",
    "compile_path",
    "get_name",
    "request_response",
    "websocket_session",
]


class NoMatchFound(Exception):
    """Raised by `url_path_for` when no route has the given name and parameters."""

    def __init__(self, name: str, path_params: Mapping[str, Any]) -> None:
        params = ", ".join(path_params)
        super().__init__(f'No route exists for name "{name}" and params "{params}".')


class Match(Enum):
    """How well a route matches a scope: not at all, by path only (wrong method), or fully."""

    NONE = 0
    PARTIAL = 1
    FULL = 2


# Enum attribute lookups are slow on the hot path; these are the same members.
_NONE, _PARTIAL, _FULL = Match.NONE, Match.PARTIAL, Match.FULL
_NO_MATCH: tuple[Match, Scope] = (_NONE, {})
_Matcher = Callable[[Scope, str], tuple[Match, Scope]]


class _Canned:
    """A plain-text response built once, sent with a fresh header list every time.

    (Middleware may edit the header list of a message it forwards, so it is never shared.)
    """

    __slots__ = ("_body", "_headers", "_status")

    def __init__(self, text: str, status_code: int, headers: Mapping[str, str] | None = None):
        response = PlainTextResponse(text, status_code=status_code, headers=headers)
        self._status, self._body, self._headers = status_code, response.body, response.raw_headers

    def messages(self) -> tuple[Message, Message]:
        """The response start and body messages to send."""
        return (
            {"type": "http.response.start", "status": self._status, "headers": [*self._headers]},
            {"type": "http.response.body", "body": self._body},
        )


_NOT_FOUND = _Canned("Not Found", 404)
_send_response = Response.__call__


def _route_path(scope: Scope) -> str:
    """The part of the path below the scope's root_path (which mounts extend)."""
    return _below_root(scope["path"], scope.get("root_path", ""))


def _below_root(path: str, root_path: str) -> str:
    if not root_path or not path.startswith(root_path):
        return path
    if len(path) == len(root_path):
        return ""
    return path[len(root_path) :] if path[len(root_path)] == "/" else path


def _is_encodable(path: str) -> bool:
    """Whether `path` can go into a URL (a server may hand over lone surrogates)."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return True


def _is_plain_function(endpoint: Any) -> bool:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.isfunction(endpoint) or inspect.ismethod(endpoint)


def _wrap(app: ASGIApp, middleware: Sequence[Middleware] | None) -> ASGIApp:
    if middleware is not None:
        for cls, args, kwargs in reversed(middleware):
            app = cls(app, *args, **kwargs)
    return app


_Respond = Callable[[Request], Awaitable[Response]]


def _responder(func: Callable[[Request], Awaitable[Response] | Response]) -> _Respond:
    """`func` as an async callable; a sync one runs in a worker thread."""
    if is_async_callable(func):
        return cast("_Respond", func)
    sync = cast("Callable[[Request], Response]", func)

    async def respond(request: Request) -> Response:
        return await run_in_threadpool(sync, request)

    return respond


def _serving(respond: _Respond) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await respond(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


def request_response(
    func: Callable[[Request], Awaitable[Response] | Response],
) -> ASGIApp:
    """Turn `func(request) -> response` (sync funcs run in a thread) into an ASGI app."""
    return _serving(_responder(func))


def websocket_session(func: Callable[[WebSocket], Awaitable[None]]) -> ASGIApp:
    """Turn `async func(websocket)` into an ASGI app."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await func(WebSocket(scope, receive=receive, send=send))

    return app


def get_name(endpoint: Callable[..., Any]) -> str:
    """The default route name for `endpoint`: its `__name__`, else its class name."""
    return getattr(endpoint, "__name__", endpoint.__class__.__name__)


def replace_params(
    path: str, param_convertors: dict[str, Convertor[Any]], path_params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Fill `{name}` placeholders of `path`; return it with the params left unused."""
    for key, value in list(path_params.items()):
        placeholder = "{" + key + "}"
        if placeholder in path:
            path = path.replace(placeholder, param_convertors[key].to_string(value))
            path_params.pop(key)
    return path, path_params


_PARAM_REGEX = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")


def compile_path(path: str) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """Compile a route path (or a case-insensitive host, when it does not start with "/").

    Returns the regex, the format string used for reverse lookups ("/users/{id}") and the
    convertor of each parameter.
    """
    pattern = ["^"]
    path_format: list[str] = []
    convertors: dict[str, Convertor[Any]] = {}
    duplicated: set[str] = set()
    idx = 0
    for match in _PARAM_REGEX.finditer(path):
        name, kind = match.groups("str")
        kind = kind.lstrip(":")
        assert kind in CONVERTOR_TYPES, f"Unknown path convertor '{kind}'"
        convertor = CONVERTOR_TYPES[kind]
        literal = path[idx : match.start()]
        pattern += (re.escape(literal), f"(?P<{name}>{convertor.regex})")
        path_format += (literal, "{" + name + "}")
        if name in convertors:
            duplicated.add(name)
        convertors[name] = convertor
        idx = match.end()
    if duplicated:
        names = ", ".join(sorted(duplicated))
        ending = "s" if len(duplicated) > 1 else ""
        raise ValueError(f"Duplicated param name{ending} {names} at path {path}")
    tail = path[idx:]
    is_host = not path.startswith("/")
    pattern += (re.escape(tail.split(":")[0] if is_host else tail), "$")
    path_format.append(tail)
    # Host names are case-insensitive: a host pattern ignores case (requests' hosts are lowered).
    flags = re.IGNORECASE if is_host else 0
    return re.compile("".join(pattern), flags), "".join(path_format), convertors


_Conversions = tuple[tuple[str, Callable[[str], Any]], ...]
# The built-in convertors convert with a plain call; skipping their method saves a frame.
_FAST_CONVERT: dict[type[Convertor[Any]], Callable[[str], Any]] = {
    IntegerConvertor: int,
    FloatConvertor: float,
    UUIDConvertor: uuid.UUID,
}


def _converting(convertors: dict[str, Convertor[Any]]) -> _Conversions:
    """How to convert each parameter's text (plain `str` ones are kept as matched)."""
    return tuple(
        (name, _FAST_CONVERT.get(type(convertor), convertor.convert))
        for name, convertor in convertors.items()
        if type(convertor) is not StringConvertor
    )


def _convert(match: re.Match[str], converting: _Conversions) -> dict[str, Any] | None:
    """The matched params, converted; None if a value fails conversion (a miss)."""
    params: dict[str, Any] = match.groupdict()
    try:
        for name, convert in converting:
            params[name] = convert(params[name])
    except Exception:
        return None
    return params


def _params(scope: Scope, match: re.Match[str], converting: _Conversions) -> dict[str, Any] | None:
    """The scope's path params updated with `match`'s; None if a value fails conversion."""
    params = _convert(match, converting)
    if params is None:
        return None
    outer = scope.get("path_params")
    return {**outer, **params} if outer else params


class BaseRoute:
    """Something the Router can match a scope against, reverse, and hand the scope to."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """How well `scope` matches, and the scope entries to set when it does."""
        raise NotImplementedError()

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called `name` with `path_params` (NoMatchFound if none)."""
        raise NotImplementedError()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a matched scope."""
        raise NotImplementedError()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a scope with this route alone: 404 / close when it does not match."""
        match, child_scope = self.matches(scope)
        if match is _NONE:
            if scope["type"] == "http":
                for message in _NOT_FOUND.messages():
                    await send(message)
            elif scope["type"] == "websocket":
                await WebSocketClose()(scope, receive, send)
            return
        scope.update(child_scope)
        await self.handle(scope, receive, send)


class _EndpointRoute(BaseRoute):
    """What Route and WebSocketRoute share: an endpoint at a compiled path, for one scope type."""

    scope_type: str
    name: str
    endpoint: Callable[..., Any]
    path_regex: re.Pattern[str]
    path_format: str
    param_convertors: dict[str, Convertor[Any]]
    _converting: _Conversions
    methods: set[str] | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != self.scope_type:
            return _NO_MATCH
        return self._match_path(scope, _route_path(scope))

    def _match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        match = self.path_regex.fullmatch(route_path)
        if match is None:
            return _NO_MATCH
        params = _params(scope, match, self._converting)
        if params is None:
            return _NO_MATCH
        return self._matched(scope, params)

    def _match_static(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        # The Router's index uses this only for the exact path of a parameterless route.
        params = scope.get("path_params")
        return self._matched(scope, dict(params) if params else {})

    def _matched(self, scope: Scope, params: dict[str, Any]) -> tuple[Match, Scope]:
        child_scope = {"endpoint": self.endpoint, "path_params": params}
        methods = self.methods
        if methods and scope["method"] not in methods:
            return _PARTIAL, child_scope
        return _FULL, child_scope

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if name != self.name or path_params.keys() != self.param_convertors.keys():
            raise NoMatchFound(name, path_params)
        path, _ = replace_params(self.path_format, self.param_convertors, path_params)
        return URLPath(path=path, protocol=self.scope_type)


class Route(_EndpointRoute):
    """An HTTP endpoint at a path: a `func(request)` (sync or async) or an ASGI app."""

    _respond: _Respond | None
    scope_type = "http"

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        assert path.startswith("/"), "Routed paths must start with '/'"
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self.include_in_schema = include_in_schema
        respond = None
        if _is_plain_function(endpoint):
            respond = _responder(endpoint)
            self.app = _wrap(_serving(respond), middleware)
            if methods is None:
                methods = ["GET"]
        else:
            self.app = _wrap(endpoint, middleware)
        # The Router calls `respond` itself (one call less) for as long as `app` is unchanged.
        self._respond = None if middleware else respond
        self.methods: set[str] | None = None
        if methods is not None:
            self.methods = {method.upper() for method in methods}
            if "GET" in self.methods:
                self.methods.add("HEAD")
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self._converting = _converting(self.param_convertors)
        self._not_allowed: tuple[frozenset[str], str, _Canned] | None = None

    @property
    def app(self) -> ASGIApp:
        """The ASGI app serving this route (the endpoint wrapped as needed)."""
        return self._app

    @app.setter
    def app(self, app: ASGIApp) -> None:
        self._app = app
        self._respond = None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = self.methods
        if not methods or scope["method"] in methods:
            await self.app(scope, receive, send)
            return
        # The 405 answer is built once per set of methods (which may be changed later).
        cached = self._not_allowed
        if cached is None or cached[0] != methods:
            allow = ", ".join(sorted(methods))
            response = _Canned("Method Not Allowed", 405, {"Allow": allow})
            cached = self._not_allowed = (frozenset(methods), allow, response)
        if "app" in scope:
            raise HTTPException(status_code=405, headers={"Allow": cached[1]})
        for message in cached[2].messages():
            await send(message)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Route)
            and self.path == other.path
            and self.endpoint == other.endpoint
            and self.methods == other.methods
        )

    def __repr__(self) -> str:
        methods = sorted(self.methods or [])
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r}, methods={methods!r})"


class WebSocketRoute(_EndpointRoute):
    """A WebSocket endpoint at a path: an `async func(websocket)` or an ASGI app."""

    scope_type = "websocket"

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        assert path.startswith("/"), "Routed paths must start with '/'"
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        app = websocket_session(endpoint) if _is_plain_function(endpoint) else endpoint
        self.app = _wrap(app, middleware)
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self._converting = _converting(self.param_convertors)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, WebSocketRoute)
            and self.path == other.path
            and self.endpoint == other.endpoint
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r})"


class Mount(BaseRoute):
    """An ASGI app (or a list of routes) served below a path prefix."""

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Sequence[BaseRoute] | None = None,
        name: str | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        assert path == "" or path.startswith("/"), "Routed paths must start with '/'"
        assert app is not None or routes is not None, (
            "Either 'app=...', or 'routes=' must be specified"
        )
        self.path = path.rstrip("/")
        self._base_app: ASGIApp = app if app is not None else Router(routes=routes)
        self.app = _wrap(self._base_app, middleware)
        self.name = name
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            self.path + "/{path:path}"
        )
        self._converting = _converting(
            {key: value for key, value in self.param_convertors.items() if key != "path"}
        )

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes of the mounted app, if it has any."""
        return getattr(self._base_app, "routes", [])

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return _NO_MATCH
        return self._match_path(scope, _route_path(scope))

    def _match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        match = self.path_regex.fullmatch(route_path)
        if match is None:
            return _NO_MATCH
        params = _convert(match, self._converting)
        if params is None:
            return _NO_MATCH
        remaining = len(params.pop("path")) + 1
        outer = scope.get("path_params")
        if outer:
            params = {**outer, **params}
        root_path = scope.get("root_path", "")
        return _FULL, {
            "path_params": params,
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": root_path + route_path[:-remaining],
            "endpoint": self.app,
        }

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            path_params["path"] = path_params["path"].lstrip("/")
            path, remaining = replace_params(self.path_format, self.param_convertors, path_params)
            if not remaining:
                return URLPath(path=path)
        elif self.name is None or name.startswith(self.name + ":"):
            child_name = name if self.name is None else name[len(self.name) + 1 :]
            path_kwarg = path_params.get("path")
            path_params["path"] = ""
            prefix, remaining = replace_params(self.path_format, self.param_convertors, path_params)
            if path_kwarg is not None:
                remaining["path"] = path_kwarg
            for route in self.routes or []:
                try:
                    url = route.url_path_for(child_name, **remaining)
                except NoMatchFound:
                    continue
                return URLPath(path=prefix.rstrip("/") + str(url), protocol=url.protocol)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mount) and self.path == other.path and self.app == other.app

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{type(self).__name__}(path={self.path!r}, name={name!r}, app={self.app!r})"


def _request_host(scope: Scope) -> str:
    for key, value in scope.get("headers") or ():
        if key == b"host":
            return str(value.decode("latin-1").split(":")[0].lower())
    return ""


class Host(BaseRoute):
    """An ASGI app served for requests whose Host header matches a pattern."""

    def __init__(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        assert not host.startswith("/"), "Host must not start with '/'"
        self.host = host
        self.app = app
        self.name = name
        self.host_regex, self.host_format, self.param_convertors = compile_path(host)
        self._converting = _converting(self.param_convertors)

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes of the app served for this host, if it has any."""
        return getattr(self.app, "routes", [])

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return _NO_MATCH
        match = self.host_regex.fullmatch(_request_host(scope))
        if match is None:
            return _NO_MATCH
        params = _params(scope, match, self._converting)
        if params is None:
            return _NO_MATCH
        return _FULL, {"path_params": params, "endpoint": self.app}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            path = path_params.pop("path")
            host, remaining = replace_params(self.host_format, self.param_convertors, path_params)
            if not remaining:
                return URLPath(path=path, host=host)
        elif self.name is None or name.startswith(self.name + ":"):
            child_name = name if self.name is None else name[len(self.name) + 1 :]
            host, remaining = replace_params(self.host_format, self.param_convertors, path_params)
            for route in self.routes or []:
                try:
                    url = route.url_path_for(child_name, **remaining)
                except NoMatchFound:
                    continue
                return URLPath(path=str(url), protocol=url.protocol, host=host)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Host) and self.host == other.host and self.app == other.app

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{type(self).__name__}(host={self.host!r}, name={name!r}, app={self.app!r})"


# --- the dispatch index -------------------------------------------------------------------

# How the Router treats a candidate. EXACT and ROUTE are plain Routes that the Router matches
# itself (EXACT: known to match the path, only its methods are checked); the others run their
# matcher, then on a full match DIRECT calls `route.app` (all the class's own `handle` would
# do) and HANDLE calls `route.handle`.
_EXACT, _ROUTE, _DIRECT, _HANDLE = 0, 1, 2, 3
# (route, kind, matcher: the path regex's fullmatch for ROUTE, params to convert for ROUTE)
_Candidate = tuple[Any, int, Callable[..., Any], _Conversions]
_SEGMENT_CONVERTORS = (StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor)


def _first_segment(path: str) -> str:
    end = path.find("/", 1)
    return path[1:end] if end >= 0 else path[1:]


def _generic_matcher(route: BaseRoute) -> _Matcher:
    def match(scope: Scope, route_path: str) -> tuple[Match, Scope]:
        return route.matches(scope)

    return match


class _Table:
    """Candidate routes per path, in declaration order, for one scope type.

    Parameterless routes sit in a dict by exact path. Routes whose parameters each stay
    within a segment are grouped by (first literal segment, number of "/"); routes that
    can span segments (mounts, `path` params) by first literal segment; anything else
    (hosts, subclasses with their own matching) is a candidate for every path.
    """

    __slots__ = ("by_first", "exact", "static", "unknown")

    def __init__(self, routes: Sequence[BaseRoute], scope_type: str) -> None:
        static: dict[str, list[tuple[int, _Candidate]]] = {}
        fixed: dict[tuple[str | None, int], list[tuple[int, _Candidate]]] = {}
        prefixed: dict[str, list[tuple[int, _Candidate]]] = {}
        generic: list[tuple[int, _Candidate]] = []
        for index, route in enumerate(routes):
            base = next(
                (cls for cls in (Route, WebSocketRoute, Mount) if isinstance(route, cls)), None
            )
            if base is None or type(route).matches is not base.matches:
                generic.append((index, (route, _HANDLE, _generic_matcher(route), ())))
                continue
            if base is not Mount and (base is Route) != (scope_type == "http"):
                continue  # can never match this scope type
            assert isinstance(route, Route | WebSocketRoute | Mount)
            kind = _DIRECT if type(route).handle is base.handle else _HANDLE
            convertors = route.param_convertors
            template = route.path + "/{path:path}" if base is Mount else route.path
            segment = _first_segment(template)
            first = None if "{" in segment else segment
            if base is not Mount and not convertors:
                assert isinstance(route, Route | WebSocketRoute)
                if base is Route and kind == _DIRECT:
                    kind = _EXACT
                candidate: _Candidate = (route, kind, route._match_static, ())
                static.setdefault(template, []).append((index, candidate))
                continue
            if base is Route and kind == _DIRECT:
                assert isinstance(route, Route)
                candidate = (route, _ROUTE, route.path_regex.fullmatch, route._converting)
            else:
                candidate = (route, kind, route._match_path, ())
            if all(type(conv) in _SEGMENT_CONVERTORS for conv in convertors.values()):
                fixed.setdefault((first, template.count("/")), []).append((index, candidate))
            elif first is not None and template.find("/", 1) >= 0:
                prefixed.setdefault(first, []).append((index, candidate))
            else:
                generic.append((index, candidate))

        def bucket(first: str | None, count: int) -> list[tuple[int, _Candidate]]:
            found = fixed.get((first, count), []) + generic
            if first is not None:
                found += fixed.get((None, count), []) + prefixed.get(first, [])
            return found

        def ordered(items: Iterable[tuple[int, _Candidate]]) -> tuple[_Candidate, ...]:
            return tuple(candidate for _, candidate in sorted(items, key=lambda item: item[0]))

        depth = max((count for _, count in fixed), default=0) + 2
        literals = {first for first, _ in fixed if first is not None} | prefixed.keys()
        self.by_first = {
            first: tuple(ordered(bucket(first, count)) for count in range(depth))
            for first in literals
        }
        self.unknown = tuple(ordered(bucket(None, count)) for count in range(depth))
        self.static = {
            path: ordered(found + bucket(_first_segment(path), path.count("/")))
            for path, found in static.items()
        }
        self.exact = {
            path: found[0][0] for path, found in self.static.items() if found[0][1] == _EXACT
        }

    def dynamic(self, route_path: str) -> tuple[_Candidate, ...]:
        """The routes that may match `route_path` when no parameterless route has it."""
        end = route_path.find("/", 1)
        first = route_path[1:end] if end >= 0 else route_path[1:]
        by_count = self.by_first.get(first, self.unknown)
        count = route_path.count("/")
        return by_count[count] if count < len(by_count) else by_count[-1]


def _slash_redirect(scope: Scope, table: _Table, route_path: str) -> str | None:
    """The URL with (or without) the trailing slash, if some route matches that path."""
    path: str = scope["path"]
    path = path.rstrip("/") if route_path.endswith("/") else path + "/"
    root_path = scope.get("root_path")
    other_path = _below_root(path, root_path) if root_path else path
    candidates = table.static.get(other_path) or table.dynamic(other_path)
    if not candidates or not _is_encodable(path):
        return None
    redirect_scope = {**scope, "path": path}
    for _, kind, match_path, converting in candidates:
        if kind == _ROUTE:
            match = match_path(other_path)
            found = match is not None and _convert(match, converting) is not None
        else:
            found = match_path(redirect_scope, other_path)[0] is not _NONE
        if found:
            return str(URL(scope=redirect_scope))
    return None


class _RouteList(list[BaseRoute]):
    """The Router's route list: every change bumps `version`, so indexes know they are stale."""

    __slots__ = ("version",)

    def __init__(self, routes: Iterable[BaseRoute] = ()) -> None:
        super().__init__(routes)
        self.version = 0

    def _changed(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(self: _RouteList, *args: Any, **kwargs: Any) -> Any:
            self.version += 1
            return method(self, *args, **kwargs)

        return wrapper

    append = _changed(list.append)
    extend = _changed(list.extend)
    insert = _changed(list.insert)
    remove = _changed(list.remove)
    pop = _changed(list.pop)
    clear = _changed(list.clear)
    sort = _changed(list.sort)
    reverse = _changed(list.reverse)
    __setitem__ = _changed(list.__setitem__)
    __delitem__ = _changed(list.__delitem__)
    __iadd__ = _changed(list.__iadd__)
    __imul__ = _changed(list.__imul__)
    del _changed


# --- lifespan -------------------------------------------------------------------------------


class _DefaultLifespan:
    """Runs the Router's on_startup / on_shutdown handlers around the app's life."""

    def __init__(self, router: Router) -> None:
        self._router = router

    async def __aenter__(self) -> None:
        await self._router.startup()

    async def __aexit__(self, *exc_info: object) -> None:
        await self._router.shutdown()

    def __call__(self, app: object) -> _DefaultLifespan:
        return self


class _SyncLifespan:
    """An async context manager driving a sync one."""

    def __init__(self, manager: contextlib.AbstractContextManager[Any]) -> None:
        self._manager = manager

    async def __aenter__(self) -> Any:
        return self._manager.__enter__()

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return self._manager.__exit__(*exc_info)


def _sync_generator_lifespan(
    func: Callable[[Any], Generator[Any, Any, Any]],
) -> Callable[[Any], _SyncLifespan]:
    manager = contextlib.contextmanager(func)

    @functools.wraps(manager)
    def lifespan(app: Any) -> _SyncLifespan:
        return _SyncLifespan(manager(app))

    return lifespan


# --- the router -----------------------------------------------------------------------------


class Router:
    """Dispatches HTTP and WebSocket scopes to the first matching route; runs the lifespan."""

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
        lifespan: Lifespan[Any] | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        self.routes = _RouteList(routes or ())
        self.redirect_slashes = redirect_slashes
        self.default: ASGIApp = self.not_found if default is None else default
        self.on_startup = [] if on_startup is None else list(on_startup)
        self.on_shutdown = [] if on_shutdown is None else list(on_shutdown)
        if on_startup or on_shutdown:
            warnings.warn(
                "The on_startup and on_shutdown parameters are deprecated; "
                "use the lifespan parameter instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            if lifespan:
                warnings.warn(
                    "The `lifespan` parameter cannot be used with `on_startup` or "
                    "`on_shutdown`. Both `on_startup` and `on_shutdown` will be ignored.",
                    stacklevel=2,
                )
        self.lifespan_context: Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]
        if lifespan is None:
            self.lifespan_context = _DefaultLifespan(self)
        elif inspect.isasyncgenfunction(lifespan):
            warnings.warn(
                "async generator function lifespans are deprecated, "
                "use an @contextlib.asynccontextmanager function instead",
                DeprecationWarning,
                stacklevel=2,
            )
            self.lifespan_context = contextlib.asynccontextmanager(lifespan)
        elif inspect.isgeneratorfunction(lifespan):
            warnings.warn(
                "generator function lifespans are deprecated, "
                "use an @contextlib.asynccontextmanager function instead",
                DeprecationWarning,
                stacklevel=2,
            )
            self.lifespan_context = _sync_generator_lifespan(lifespan)
        else:
            self.lifespan_context = lifespan
        # Without middleware (or an `app` overridden by a subclass) `__call__` routes directly.
        custom = middleware or type(self).app is not Router.app
        self._stack: ASGIApp | None = _wrap(self.app, middleware) if custom else None
        self._http: _Table
        self._websocket: _Table

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes, tried in order; changing this list (or replacing it) is picked up."""
        return self._routes

    @routes.setter
    def routes(self, routes: Iterable[BaseRoute]) -> None:
        self._routes = routes if isinstance(routes, _RouteList) else _RouteList(routes)
        self._indexed = -1  # the version of the routes the index was built for

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The default app: 404 (HTTPException inside an application) or a WebSocket close."""
        if scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)
            return
        if "app" in scope:
            raise HTTPException(status_code=404)
        for message in _NOT_FOUND.messages():
            await send(message)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called `name` ("mount:route" for nested ones)."""
        for route in self._routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)

    async def startup(self) -> None:
        """Run the on_startup handlers (sync or async), in order."""
        for handler in self.on_startup:
            if is_async_callable(handler):
                await handler()
            else:
                handler()

    async def shutdown(self) -> None:
        """Run the on_shutdown handlers (sync or async), in order."""
        for handler in self.on_shutdown:
            if is_async_callable(handler):
                await handler()
            else:
                handler()

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the ASGI lifespan protocol around `lifespan_context`."""
        started = False
        await receive()
        try:
            async with self.lifespan_context(scope.get("app")) as state:
                if state is not None:
                    if "state" not in scope:
                        raise RuntimeError(
                            'The server does not support "state" in the lifespan scope.'
                        )
                    scope["state"].update(state)
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()
        except BaseException:
            message = traceback.format_exc()
            phase = "shutdown" if started else "startup"
            await send({"type": f"lifespan.{phase}.failed", "message": message})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    @property
    def middleware_stack(self) -> ASGIApp:
        """The router's middleware around its routing (`app`)."""
        return self.app if self._stack is None else self._stack

    @middleware_stack.setter
    def middleware_stack(self, app: ASGIApp) -> None:
        self._stack = app

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch `scope` to the first route that fully matches it (no middleware)."""
        await Router.__call__(self, scope, receive, send, _routing=True)

    def _index(self) -> None:
        self._indexed = self._routes.version
        self._http = _Table(self._routes, "http")
        self._websocket = _Table(self._routes, "websocket")

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, *, _routing: bool = False
    ) -> None:
        """Serve `scope` through the middleware, then the first route that fully matches it."""
        # The routing lives here rather than in `app` to save a call per request.
        if self._stack is not None and not _routing:
            await self._stack(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self
        if self._routes.version != self._indexed:
            self._index()
        scope_type = scope["type"]
        if scope_type == "http":
            table = self._http
        elif scope_type == "websocket":
            table = self._websocket
        else:
            assert scope_type == "lifespan"
            await self.lifespan(scope, receive, send)
            return
        route_path = _route_path(scope) if scope.get("root_path") else scope["path"]
        # A parameterless Route declared first for this exact path needs no search.
        route: Route | None = table.exact.get(route_path)
        if route is not None and (not route.methods or scope["method"] in route.methods):
            params = scope.get("path_params")
            params = dict(params) if params else {}
        else:
            route = None
            partial: tuple[BaseRoute, Scope] | None = None
            candidates = table.static.get(route_path) or table.dynamic(route_path)
            for candidate, kind, match_path, converting in candidates:
                if kind <= _ROUTE:  # a plain Route, matched here without a child scope
                    if kind == _ROUTE:
                        match = match_path(route_path)
                        if match is None:
                            continue
                        params = match.groupdict()
                        try:
                            for name, convert in converting:
                                params[name] = convert(params[name])
                        except Exception:
                            continue
                        outer = scope.get("path_params")
                        if outer:
                            params = {**outer, **params}
                    else:
                        params = scope.get("path_params")
                        params = dict(params) if params else {}
                    methods = candidate.methods
                    if not methods or scope["method"] in methods:
                        route = candidate
                        break
                    if partial is None:
                        partial = (
                            candidate,
                            {"endpoint": candidate.endpoint, "path_params": params},
                        )
                    continue
                match, child_scope = match_path(scope, route_path)
                if match is _FULL:
                    scope.update(child_scope)
                    scope["route"] = candidate
                    if kind == _DIRECT:
                        await candidate.app(scope, receive, send)
                    else:
                        await candidate.handle(scope, receive, send)
                    return
                if match is _PARTIAL and partial is None:
                    partial = (candidate, child_scope)
            if route is None:  # no full match: 405, a slash redirect, or the default app
                if partial is not None:
                    partial_route, child_scope = partial
                    scope.update(child_scope)
                    scope["route"] = partial_route
                    await partial_route.handle(scope, receive, send)
                    return
                if scope_type == "http" and self.redirect_slashes and route_path != "/":
                    url = _slash_redirect(scope, table, route_path)
                    if url is not None:
                        await RedirectResponse(url=url)(scope, receive, send)
                        return
                await self.default(scope, receive, send)
                return
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        scope["route"] = route
        respond = route._respond
        if respond is None:
            await route.app(scope, receive, send)
        else:
            response = await respond(Request(scope, receive, send))
            # What Response.__call__ sends for HTTP, sent here: one coroutine less.
            if (
                isinstance(response, Response)
                and type(response).__call__ is _send_response
                and response.background is None
            ):
                start = {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": response.raw_headers,
                }
                await send(start)
                await send({"type": "http.response.body", "body": response.body})
            else:
                await response(scope, receive, send)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Router) and self._routes == other._routes

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Append a Mount of `app` at `path`."""
        self._routes.append(Mount(path, app=app, name=name))

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        """Append a Host route serving `app` for `host`."""
        self._routes.append(Host(host, app=app, name=name))

    def add_route(
        self,
        path: str,
        endpoint: Callable[[Request], Awaitable[Response] | Response],
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        """Append a Route."""
        self._routes.append(
            Route(
                path,
                endpoint=endpoint,
                methods=methods,
                name=name,
                include_in_schema=include_in_schema,
            )
        )

    def add_websocket_route(
        self,
        path: str,
        endpoint: Callable[[WebSocket], Awaitable[None]],
        name: str | None = None,
    ) -> None:
        """Append a WebSocketRoute."""
        self._routes.append(WebSocketRoute(path, endpoint=endpoint, name=name))
