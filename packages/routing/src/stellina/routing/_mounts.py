"""The route types that hand a scope on to another app: Mount (by path prefix) and Host."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from stellina.asgi import get_header, route_path, split_host
from stellina.datastructures import URLPath
from stellina.middleware import Middleware
from stellina.types import ASGIApp, Receive, Scope, Send

from ._body import with_limit
from ._paths import compile_path, conversions, convert, fill_template, replace_params
from ._routes import FULL, NO_MATCH, BaseRoute, Described, Match, NoMatchFound, wrap

if TYPE_CHECKING:
    from ._router import Router

__all__ = ["Host", "Mount"]

_ROUTED = ("http", "websocket")


def _child_routes(app: Any) -> list[BaseRoute]:
    routes: list[BaseRoute] = getattr(app, "routes", [])
    return routes


def _reverse_inside(
    routes: Sequence[BaseRoute], name: str, params: dict[str, Any]
) -> URLPath | None:
    """The first of `routes` that reverses `name` with `params`, or None."""
    for route in routes:
        try:
            return route.url_path_for(name, **params)
        except NoMatchFound:
            continue
    return None


class Mount(Described, BaseRoute):
    """An ASGI app (or a list of routes) served below a path prefix.

    The mounted app sees the prefix moved from `path` to `root_path`. `max_body_size`
    (bytes) sets the request body limit below the mount.
    """

    shown = ("path", "name", "app")
    compared = ("path", "app")
    router_class: Callable[..., Router]  # set by the router module (which imports this one)

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Sequence[BaseRoute] | None = None,
        name: str | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        assert path == "" or path.startswith("/"), "Routed paths must start with '/'"
        assert app is not None or routes is not None, (
            "Either 'app=...', or 'routes=' must be specified"
        )
        self.path = path.rstrip("/")
        self._base_app: ASGIApp = app if app is not None else self.router_class(routes=routes)
        self.app = wrap(self._base_app, middleware)
        self.name = name
        self.max_body_size = max_body_size
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            self.path + "/{path:path}"
        )
        self.steps = conversions(
            {key: conv for key, conv in self.param_convertors.items() if key != "path"}
        )

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes of the mounted app, if it has any."""
        return _child_routes(self._base_app)

    def shown_value(self, attribute: str) -> Any:
        return (self.name or "") if attribute == "name" else getattr(self, attribute)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in _ROUTED:
            return NO_MATCH
        return self.match_path(scope, route_path(scope))

    def match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`matches`, for a scope of a routed type whose route path is `route_path`."""
        found = self.path_regex.fullmatch(route_path)
        if found is None:
            return NO_MATCH
        params = convert(found, self.steps)
        if params is None:
            return NO_MATCH
        below = len(params.pop("path"))
        outer = scope.get("path_params")
        root_path = scope.get("root_path", "")
        return FULL, {
            "path_params": {**outer, **params} if outer else params,
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": root_path + route_path[: len(route_path) - below - 1],
            "endpoint": self.app,
        }

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            # The mount itself, with `path` below it.
            path_params["path"] = path_params["path"].lstrip("/")
            path, unused = fill_template(self.path_format, self.param_convertors, path_params)
            if not unused:
                return URLPath(path=path)
        elif self.name is None or name.startswith(self.name + ":"):
            inner_name = name if self.name is None else name[len(self.name) + 1 :]
            prefix, inner_params = replace_params(
                self.path_format, self.param_convertors, {**path_params, "path": ""}
            )
            if "path" in path_params:
                inner_params["path"] = path_params["path"]
            found = _reverse_inside(self.routes, inner_name, inner_params)
            if found is not None:
                return URLPath(path=prefix.rstrip("/") + found, protocol=found.protocol)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.max_body_size is not None and scope["type"] == "http":
            await with_limit(self.app, self.max_body_size, scope, receive, send)
        else:
            await self.app(scope, receive, send)


def request_host(scope: Scope) -> str | None:
    """The lowercased host name of the Host header ("" when absent); None when invalid."""
    value = get_header(scope.get("headers") or (), b"host")
    if value is None:
        return ""
    parts = split_host(value.decode("latin-1"))
    return None if parts is None else parts[0]


class Host(Described, BaseRoute):
    """An ASGI app served for requests whose Host header matches a pattern (port ignored).

    IP literals are written as in URLs (`[::1]`); a request with an invalid Host header
    matches no Host route.
    """

    shown = ("host", "name", "app")
    compared = ("host", "app")

    def __init__(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        assert not host.startswith("/"), "Host must not start with '/'"
        self.host = host
        self.app = app
        self.name = name
        self.host_regex, self.host_format, self.param_convertors = compile_path(host)
        self.steps = conversions(self.param_convertors)

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes of the app served for this host, if it has any."""
        return _child_routes(self.app)

    def shown_value(self, attribute: str) -> Any:
        return (self.name or "") if attribute == "name" else getattr(self, attribute)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in _ROUTED:
            return NO_MATCH
        host = request_host(scope)
        found = None if host is None else self.host_regex.fullmatch(host)
        params = None if found is None else convert(found, self.steps)
        if params is None:
            return NO_MATCH
        outer = scope.get("path_params")
        return FULL, {"path_params": {**outer, **params} if outer else params, "endpoint": self.app}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            path = path_params.pop("path")
            host, unused = replace_params(self.host_format, self.param_convertors, path_params)
            if not unused:
                return URLPath(path=path, host=host)
        elif self.name is None or name.startswith(self.name + ":"):
            inner_name = name if self.name is None else name[len(self.name) + 1 :]
            host, inner_params = replace_params(
                self.host_format, self.param_convertors, path_params
            )
            found = _reverse_inside(self.routes, inner_name, inner_params)
            if found is not None:
                return URLPath(path=str(found), protocol=found.protocol, host=host)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
