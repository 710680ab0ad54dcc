"""The route types that serve an endpoint at a path: Route (HTTP) and WebSocketRoute."""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, ClassVar, TypeAlias, cast

from stellina.asgi import (
    CONTENT_TOO_LARGE,
    BodyLimit,
    HTTPException,
    PlainText,
    route_path,
    too_large,
)
from stellina.concurrency import is_async_callable, run_in_threadpool
from stellina.convertors import Convertor
from stellina.datastructures import URLPath
from stellina.middleware import Middleware
from stellina.requests import Request
from stellina.responses import Response
from stellina.types import ASGIApp, Receive, Scope, Send
from stellina.websockets import WebSocket, WebSocketClose

from ._handled import handled
from ._paths import Conversions, compile_path, conversions, convert, fill_template

__all__ = [
    "BaseRoute",
    "Match",
    "NoMatchFound",
    "Route",
    "WebSocketRoute",
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
NONE, PARTIAL, FULL = Match.NONE, Match.PARTIAL, Match.FULL
NO_MATCH: tuple[Match, Scope] = (NONE, {})
NOT_FOUND = PlainText(404, "Not Found")

# The vocabulary of the routing constructors' parameters, named once for every route type
# and the Router (the annotations say what a parameter is; the defaults stay in the signatures).
#: What a route serves: a function of a request / websocket, or an ASGI app.
Endpoint: TypeAlias = Callable[..., Any]
#: A `func(request) -> response`, sync or async.
RequestFunc: TypeAlias = Callable[[Request], Awaitable[Response] | Response]
#: An `async func(websocket)`.
SessionFunc: TypeAlias = Callable[[WebSocket], Awaitable[None]]
#: The HTTP methods a route answers (None: any, or GET/HEAD for a function endpoint).
Methods: TypeAlias = Collection[str] | None
#: The middleware wrapped around what a route, mount or router serves; the first outermost.
Layers: TypeAlias = Sequence[Middleware] | None
#: A request body limit in bytes; None inherits the one set further out.
MaxBodySize: TypeAlias = int | None
#: The child routes of a router or mount.
Children: TypeAlias = Sequence["BaseRoute"] | None


def is_function_endpoint(endpoint: Any) -> bool:
    """Whether `endpoint` is a function (or method, or partial of one) rather than an ASGI app."""
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.isfunction(endpoint) or inspect.ismethod(endpoint)


def wrap(app: ASGIApp, middleware: Layers) -> ASGIApp:
    """`app` inside `middleware` (the first listed outermost); exceptions answered inside."""
    if not middleware:
        return app
    app = handled(app)
    for factory, args, kwargs in reversed(middleware):
        app = factory(app, *args, **kwargs)
    return app


Respond = Callable[[Request], Awaitable[Response]]


def responder(func: RequestFunc) -> Respond:
    """`func` as an async callable; a sync one runs in a worker thread."""
    if is_async_callable(func):
        return cast("Respond", func)
    sync = cast("Callable[[Request], Response]", func)

    async def in_thread(request: Request) -> Response:
        return await run_in_threadpool(sync, request)

    return in_thread


def serving(respond: Respond) -> ASGIApp:
    """The ASGI app answering each request with `respond(request)`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await respond(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


def request_response(func: RequestFunc) -> ASGIApp:
    """Turn `func(request) -> response` (sync funcs run in a thread) into an ASGI app."""
    return serving(responder(func))


def websocket_session(func: SessionFunc) -> ASGIApp:
    """Turn `async func(websocket)` into an ASGI app."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await func(WebSocket(scope, receive=receive, send=send))

    return app


def get_name(endpoint: Endpoint) -> str:
    """The default route name for `endpoint`: its `__name__`, else its class name."""
    return getattr(endpoint, "__name__", endpoint.__class__.__name__)


def first_reversal(
    routes: Iterable[BaseRoute], name: str, params: dict[str, Any]
) -> URLPath | None:
    """The reverse lookup of `name` by the first of `routes` that knows it, or None."""
    for route in routes:
        with contextlib.suppress(NoMatchFound):
            return route.url_path_for(name, **params)
    return None


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
        if match is not NONE:
            scope.update(child_scope)
            await self.handle(scope, receive, send)
        elif scope["type"] == "http":
            await NOT_FOUND.send(send)
        elif scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)


class Described:
    """Equality and repr from lists of attribute names, for the route types."""

    #: The attributes the repr shows, in order.
    _shown: ClassVar[tuple[str, ...]]
    #: The attributes that make two routes of the class defining them equal.
    _compared: ClassVar[tuple[str, ...]]

    def _shown_value(self, attribute: str) -> Any:
        """The value the repr shows for `attribute`."""
        return getattr(self, attribute)

    def _identity(self) -> tuple[Any, ...]:
        family: type[Described] = next(c for c in type(self).__mro__ if "_compared" in vars(c))
        return (family, *(getattr(self, attribute) for attribute in family._compared))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Described) and self._identity() == other._identity()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = (f"{attribute}={self._shown_value(attribute)!r}" for attribute in self._shown)
        return f"{type(self).__name__}({', '.join(fields)})"


class PathMatching(BaseRoute):
    """Matching by a compiled path pattern, for the scope types in `_scope_types`.

    `_matched` turns a path match (with its converted params) into the route's answer.
    """

    _scope_types: ClassVar[tuple[str, ...]]
    path_regex: re.Pattern[str]
    _steps: Conversions

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in self._scope_types:
            return NO_MATCH
        return self._match_path(scope, route_path(scope))

    def _match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`matches`, for a scope of a type matched here whose route path is `route_path`."""
        found = self.path_regex.fullmatch(route_path)
        if found is None:
            return NO_MATCH
        params = convert(found, self._steps)
        if params is None:
            return NO_MATCH
        return self._matched(scope, params, route_path)

    def _matched(
        self, scope: Scope, params: dict[str, Any], route_path: str
    ) -> tuple[Match, Scope]:
        """The match for a scope whose route path `route_path` matched with `params`."""
        raise NotImplementedError()


class EndpointRoute(Described, PathMatching):
    """What Route and WebSocketRoute share: an endpoint at a compiled path, for one scope type."""

    scope_type: ClassVar[str]
    name: str
    endpoint: Endpoint
    path_format: str
    param_convertors: dict[str, Convertor[Any]]
    methods: set[str] | None = None

    def _compile(self, path: str, endpoint: Endpoint, name: str | None) -> None:
        assert path.startswith("/"), "Routed paths must start with '/'"
        self.path, self.endpoint = path, endpoint
        self.name = get_name(endpoint) if name is None else name
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self._steps = conversions(self.param_convertors)

    def _match_exact(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`_match_path` for a parameterless route whose path is known to be `route_path`."""
        return self._matched(scope, {}, route_path)

    def _matched(
        self, scope: Scope, params: dict[str, Any], route_path: str
    ) -> tuple[Match, Scope]:
        """Below the outer path params; full if the method fits, else partial."""
        outer = scope.get("path_params")
        child_scope = {
            "endpoint": self.endpoint,
            "path_params": {**outer, **params} if outer else params,
        }
        methods = self.methods
        return (PARTIAL if methods and scope["method"] not in methods else FULL), child_scope

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if name != self.name or path_params.keys() != self.param_convertors.keys():
            raise NoMatchFound(name, path_params)
        path, _ = fill_template(self.path_format, self.param_convertors, path_params)
        return URLPath(path=path, protocol=self.scope_type)


class Route(EndpointRoute):
    """An HTTP endpoint at a path: a `func(request)` (sync or async) or an ASGI app.

    `max_body_size` (bytes) replaces, for this route, the body limit set by the application,
    a router or a mount; a declared Content-Length above the limit is refused with 413
    before the endpoint runs.
    """

    scope_type = "http"
    _scope_types = (scope_type,)
    #: The endpoint's responder, which the Router calls itself while `app` is unchanged.
    _respond: Respond | None
    _shown = ("path", "name", "methods")
    _compared = ("path", "endpoint", "methods")

    def __init__(
        self,
        path: str,
        endpoint: Endpoint,
        *,
        methods: Methods = None,
        name: str | None = None,
        include_in_schema: bool = True,
        middleware: Layers = None,
        max_body_size: MaxBodySize = None,
    ) -> None:
        self._compile(path, endpoint, name)
        self.include_in_schema = include_in_schema
        self.max_body_size = max_body_size
        respond = None
        if is_function_endpoint(endpoint):
            respond = responder(endpoint)
            self.app = wrap(serving(respond), middleware)
            methods = ["GET"] if methods is None else methods
        else:
            self.app = wrap(endpoint, middleware)
        # The Router calls `respond` itself (one call less) while nothing else is to be done.
        if not middleware and max_body_size is None:
            self._respond = respond
        self.methods: set[str] | None = None
        if methods is not None:
            self.methods = {method.upper() for method in methods}
            if "GET" in self.methods:
                self.methods.add("HEAD")
        self._refusal: tuple[frozenset[str], str, PlainText] | None = None

    @property
    def app(self) -> ASGIApp:
        """The ASGI app serving this route (the endpoint wrapped as needed)."""
        return self._app

    @app.setter
    def app(self, app: ASGIApp) -> None:
        self._app = app
        self._respond = None

    def _shown_value(self, attribute: str) -> Any:
        return sorted(self.methods or ()) if attribute == "methods" else getattr(self, attribute)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = self.methods
        if not methods or scope["method"] in methods:
            await self._serve(scope, receive, send)
            return
        # The 405 answer is built once per set of methods (which may be changed later).
        refusal = self._refusal
        if refusal is None or refusal[0] != methods:
            allow = ", ".join(sorted(methods))
            answer = PlainText(405, "Method Not Allowed", [(b"allow", allow.encode("latin-1"))])
            refusal = self._refusal = (frozenset(methods), allow, answer)
        if "app" in scope:
            raise HTTPException(status_code=405, headers={"Allow": refusal[1]})
        await refusal[2].send(send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a scope whose method is allowed: the body limit, then `app`."""
        if self.max_body_size is not None:
            await BodyLimit.run(self._checked, self.max_body_size, scope, receive, send)
        else:
            await self._checked(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        if BodyLimit.declared_over(scope):
            if "app" in scope:
                raise too_large()
            await CONTENT_TOO_LARGE.send(send)
            return
        await self.app(scope, receive, send)


class WebSocketRoute(EndpointRoute):
    """A WebSocket endpoint at a path: an `async func(websocket)` or an ASGI app."""

    scope_type = "websocket"
    _scope_types = (scope_type,)
    _shown = ("path", "name")
    _compared = ("path", "endpoint")

    def __init__(
        self,
        path: str,
        endpoint: Endpoint,
        *,
        name: str | None = None,
        middleware: Layers = None,
    ) -> None:
        self._compile(path, endpoint, name)
        app = websocket_session(endpoint) if is_function_endpoint(endpoint) else endpoint
        self.app = wrap(app, middleware)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
