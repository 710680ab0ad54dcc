"""The Router: dispatch through the index, 404 / 405 / slash redirects, and the lifespan."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from stellina.asgi import (
    MAX_BODY_SIZE_SCOPE_KEY,
    HTTPException,
    get_header,
    limit_body,
    redirect,
    route_path,
    split_host,
)
from stellina.datastructures import URLPath
from stellina.requests import Request
from stellina.responses import _http_messages
from stellina.types import ASGIApp, Lifespan, Receive, Scope, Send
from stellina.websockets import WebSocketClose

from ._dispatch import Kind, Table
from ._lifespan import lifespan_context, run_handlers, serve_lifespan
from ._mounts import Host, Mount
from ._paths import convert
from ._routes import (
    FULL,
    NONE,
    NOT_FOUND,
    PARTIAL,
    BaseRoute,
    Children,
    Layers,
    MaxBodySize,
    Methods,
    NoMatchFound,
    RequestFunc,
    Route,
    SessionFunc,
    WebSocketRoute,
    first_reversal,
    wrap,
)

__all__ = ["Router"]

_EXACT, _PATTERN, _CALL = Kind.EXACT, Kind.PATTERN, Kind.CALL
_MUTATORS = (
    "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse",
    "__setitem__", "__delitem__", "__iadd__", "__imul__",
)  # fmt: skip


class _RouteList(list[BaseRoute]):
    """The Router's route list: every change bumps `version`, so indexes know they are stale."""

    __slots__ = ("version",)

    def __init__(self, routes: Iterable[BaseRoute] = ()) -> None:
        super().__init__(routes)
        self.version = 0


def _counting(name: str) -> Callable[..., Any]:
    change = getattr(list, name)

    @functools.wraps(change)
    def changing(self: _RouteList, *args: Any, **kwargs: Any) -> Any:
        self.version += 1
        return change(self, *args, **kwargs)

    return changing


for _name in _MUTATORS:
    setattr(_RouteList, _name, _counting(_name))
del _name


def _netloc(scope: Scope) -> str:
    """Where the client reached the app: a valid Host header, else the server address."""
    value = get_header(scope.get("headers") or (), b"host")
    if value is not None:
        text = value.decode("latin-1")
        if split_host(text) is not None:
            return text
    server = scope.get("server")
    if not server:
        return ""
    host, port = server
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scope.get("scheme", "http"))
    return str(host) if port in (None, default) else f"{host}:{port}"


class Router:
    """Dispatches HTTP and WebSocket scopes to the first matching route; runs the lifespan.

    `max_body_size` (bytes) limits the request bodies below the router, outside its
    middleware; routes and mounts may raise or lower it.
    """

    # `_stack` is per object; everything else lives in `__dict__` (see `app`).
    __slots__ = ("__dict__", "__weakref__", "_bare", "_stack")

    def __init__(
        self,
        routes: Children = None,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        lifespan: Lifespan[Any] | None = None,
        *,
        middleware: Layers = None,
        max_body_size: MaxBodySize = None,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
    ) -> None:
        self.routes = _RouteList(routes or ())
        self.redirect_slashes = redirect_slashes
        self.default: ASGIApp = self.not_found if default is None else default
        self.on_startup = list(on_startup or ())
        self.on_shutdown = list(on_shutdown or ())
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
        self.lifespan_context = lifespan_context(lifespan, self.startup, self.shutdown)
        self.max_body_size = max_body_size
        self._bare: Router = self
        # The layers around the routing, if any; without them `__call__` routes directly.
        self._stack: ASGIApp | None = None
        if middleware or type(self).app is not Router.app or max_body_size is not None:
            stack = wrap(self.app, middleware)
            self._stack = stack if max_body_size is None else limit_body(stack, max_body_size)
        self._http: Table
        self._websocket: Table

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes, tried in order; changing this list (or replacing it) is picked up."""
        return self._routes

    @routes.setter
    def routes(self, routes: Iterable[BaseRoute]) -> None:
        self._routes = routes if isinstance(routes, _RouteList) else _RouteList(routes)
        self._indexed = -1  # the version of the routes the index was built for

    @property
    def middleware_stack(self) -> ASGIApp:
        """The layers around the routing (`app`): the router's middleware and body limit."""
        return self.app if self._stack is None else self._stack

    @middleware_stack.setter
    def middleware_stack(self, app: ASGIApp) -> None:
        self._stack = app

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The default app: 404 (HTTPException inside an application) or a WebSocket close."""
        if scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)
        elif "app" in scope:
            raise HTTPException(status_code=404)
        else:
            start, body = NOT_FOUND.messages()  # (inline: one coroutine less on a miss)
            await send(start)
            await send(body)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called `name` ("mount:route" for nested ones)."""
        found = first_reversal(self._routes, name, path_params)
        if found is None:
            raise NoMatchFound(name, path_params)
        return found

    async def startup(self) -> None:
        """Run the on_startup handlers (sync or async), in order."""
        await run_handlers(self.on_startup)

    async def shutdown(self) -> None:
        """Run the on_shutdown handlers (sync or async), in order."""
        await run_handlers(self.on_shutdown)

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the ASGI lifespan protocol around `lifespan_context`."""
        await serve_lifespan(self.lifespan_context, scope, receive, send)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch `scope` to the first route that fully matches it (no middleware).

        The routing itself is `__call__` (one call less per request); called through the
        layers, it runs on a twin of this router that shares its attributes (`__dict__`)
        but has no layers.
        """
        bare = self._bare
        if bare is self and self._stack is not None:
            bare = object.__new__(type(self))
            bare.__dict__ = self.__dict__
            bare._stack, bare._bare = None, bare
            self._bare = bare
        await Router.__call__(bare, scope, receive, send)

    def _index(self) -> None:
        self._indexed = self._routes.version
        self._http = Table(self._routes, "http")
        self._websocket = Table(self._routes, "websocket")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve `scope` through the layers, then the first route that fully matches it."""
        if scope["type"] == "lifespan" and self._stack is None:
            scope.setdefault("router", self)
            await self.lifespan(scope, receive, send)
            return
        route, app = self._resolve(scope)
        respond = None if route is None else route._respond
        if respond is None or MAX_BODY_SIZE_SCOPE_KEY in scope:
            await app(scope, receive, send)
            return
        response = await respond(Request(scope, receive, send))
        messages = _http_messages(response)
        if messages is None:
            await response(scope, receive, send)
        else:
            await send(messages[0])
            await send(messages[1])

    def _resolve(self, scope: Scope) -> tuple[Route | None, ASGIApp]:
        """What serves the HTTP or WebSocket `scope`: the plain Route of this router that
        fully matches it (None if none does), and the app to call, which is that route's
        `_serve` or else this router's layers, a mount, a 405 or slash redirect, the default
        app. The scope gets the entries the choice implies.

        Callers that serve a Route's endpoint themselves skip a coroutine: `__call__`, and
        the application when nothing stands between it and the router.
        """
        if self._stack is not None:
            return None, self._stack
        if "router" not in scope:
            scope["router"] = self
        if self._routes.version != self._indexed:
            self._index()
        scope_type = scope["type"]
        if scope_type == "http":
            table = self._http
        else:
            assert scope_type == "websocket"
            table = self._websocket
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        # A parameterless Route declared first for this exact path needs no search.
        route: Route | None = table.exact.get(path)
        if route is not None and (not route.methods or scope["method"] in route.methods):
            params = scope.get("path_params")
            params = dict(params) if params else {}
        else:
            route = None
            partial: tuple[BaseRoute, Scope] | None = None
            for candidate, kind, matcher, steps in table.candidates(path):
                if kind <= _PATTERN:  # a plain Route, matched here without a child scope
                    if kind == _PATTERN:
                        found = matcher(path)
                        if found is None:
                            continue
                        params = found.groupdict()
                        try:  # `convert`, inline: this loop is the hot path
                            for name, step in steps:
                                params[name] = step(params[name])
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
                match, child_scope = matcher(scope, path)
                if match is FULL:
                    scope.update(child_scope)
                    scope["route"] = candidate
                    return None, candidate.app if kind == _CALL else candidate.handle
                if match is PARTIAL and partial is None:
                    partial = (candidate, child_scope)
            if route is None:  # no full match: 405, a slash redirect, or the default app
                if partial is not None:
                    partial_route, child_scope = partial
                    scope.update(child_scope)
                    scope["route"] = partial_route
                    return None, partial_route.handle
                if scope_type == "http" and self.redirect_slashes and path != "/":
                    twin = _slash_twin(scope, table, path)
                    if twin is not None:
                        return None, functools.partial(_redirect_to, twin)
                return None, self.default
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        scope["route"] = route
        return route, route._serve

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
        endpoint: RequestFunc,
        methods: Methods = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        """Append a Route."""
        route = Route(
            path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema
        )
        self._routes.append(route)

    def add_websocket_route(
        self,
        path: str,
        endpoint: SessionFunc,
        name: str | None = None,
    ) -> None:
        """Append a WebSocketRoute."""
        self._routes.append(WebSocketRoute(path, endpoint=endpoint, name=name))


async def _redirect_to(twin: Scope, scope: Scope, receive: Receive, send: Send) -> None:
    """Redirect to `twin`, the matching scope for the path with its trailing slash toggled."""
    await redirect(twin, send, _netloc(scope))


def _encodable(path: str) -> bool:
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return True


def _slash_twin(scope: Scope, table: Table, path: str) -> Scope | None:
    """The scope with (or without) the trailing slash, if some route matches it."""
    full_path: str = scope["path"]
    full_path = full_path.rstrip("/") if path.endswith("/") else full_path + "/"
    root_path = scope.get("root_path")
    twin_path = route_path({"path": full_path, "root_path": root_path}) if root_path else full_path
    candidates = table.candidates(twin_path)
    if not candidates or not _encodable(full_path):
        return None  # (lone surrogates from a server: no URL can name the path)
    twin = {**scope, "path": full_path}
    for _, kind, matcher, steps in candidates:
        if kind == _PATTERN:
            found = matcher(twin_path)
            if found is not None and convert(found, steps) is not None:
                return twin
        elif kind == _EXACT or matcher(twin, twin_path)[0] is not NONE:
            return twin
    return None


Mount._router_class = Router
