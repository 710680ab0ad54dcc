"""The route types that hand a scope on to another app: Mount (by path prefix) and Host."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stellina.asgi import BodyLimit, get_header, split_host
from stellina.datastructures import URLPath
from stellina.types import ASGIApp, Receive, Scope, Send

from ._paths import compile_path, conversions, convert, fill_template, replace_params
from ._routes import (
    FULL,
    NO_MATCH,
    BaseRoute,
    Children,
    Described,
    Layers,
    Match,
    MaxBodySize,
    NoMatchFound,
    PathMatching,
    first_reversal,
    wrap,
)

if TYPE_CHECKING:
    from ._router import Router

__all__ = ["Host", "Mount"]

_ROUTED = ("http", "websocket")


class _Delegating(Described, BaseRoute):
    """A route handing scopes on to an app of its own, with reverse lookups into it.

    `url_path_for(self.name, path=...)` names the route itself (`own_url`); a name
    `"{self.name}:{inner}"`, or any name when the route has none, is looked up among the
    app's routes (`inner_url`).
    """

    name: str | None
    app: ASGIApp

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes of the app handed on to, if it has any."""
        routes: list[BaseRoute] = getattr(self._target, "routes", [])
        return routes

    @property
    def _target(self) -> Any:
        """The app whose routes are this route's children."""
        return self.app

    def _shown_value(self, attribute: str) -> Any:
        return (self.name or "") if attribute == "name" else getattr(self, attribute)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        url: URLPath | None = None
        if self.name is None or name != self.name:
            prefix = "" if self.name is None else self.name + ":"
            if name.startswith(prefix):
                url = self._inner_url(name[len(prefix) :], path_params)
        elif "path" in path_params:
            url = self._own_url(dict(path_params))
        if url is None:
            raise NoMatchFound(name, path_params)
        return url

    def _own_url(self, params: dict[str, Any]) -> URLPath | None:
        """The URL of `params["path"]` below this route, or None."""
        raise NotImplementedError()

    def _inner_url(self, name: str, params: dict[str, Any]) -> URLPath | None:
        """The URL of the inner route called `name`, or None."""
        raise NotImplementedError()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class Mount(_Delegating, PathMatching):
    """An ASGI app (or a list of routes) served below a path prefix.

    The mounted app sees the prefix moved from `path` to `root_path`. `max_body_size`
    (bytes) sets the request body limit below the mount.
    """

    _shown = ("path", "name", "app")
    _compared = ("path", "app")
    _scope_types = _ROUTED
    _router_class: Callable[..., Router]  # set by the router module (which imports this one)

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Children = None,
        name: str | None = None,
        *,
        middleware: Layers = None,
        max_body_size: MaxBodySize = None,
    ) -> None:
        assert path == "" or path.startswith("/"), "Routed paths must start with '/'"
        assert app is not None or routes is not None, (
            "Either 'app=...', or 'routes=' must be specified"
        )
        self.path = path.rstrip("/")
        self._base_app: ASGIApp = app if app is not None else self._router_class(routes=routes)
        self.app = wrap(self._base_app, middleware)
        self.name = name
        self.max_body_size = max_body_size
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            self.path + "/{path:path}"
        )
        self._steps = conversions(
            {key: conv for key, conv in self.param_convertors.items() if key != "path"}
        )
        #: The matched prefix when it is always the same (no params of its own), else None.
        self._prefix = self.path if len(self.param_convertors) == 1 else None

    @property
    def _target(self) -> Any:
        return self._base_app  # the mounted app, not the middleware around it

    def _matched(
        self, scope: Scope, params: dict[str, Any], route_path: str
    ) -> tuple[Match, Scope]:
        """The prefix moves from the path to `root_path`; the rest is the mounted app's."""
        prefix = self._prefix
        if prefix is None:
            prefix = route_path[: len(route_path) - len(params.pop("path")) - 1]
        else:
            del params["path"]
        outer = scope.get("path_params")
        root_path = scope.get("root_path", "")
        return FULL, {
            "path_params": {**outer, **params} if outer else params,
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": root_path + prefix,
            "endpoint": self.app,
        }

    def _own_url(self, params: dict[str, Any]) -> URLPath | None:
        params["path"] = params["path"].lstrip("/")
        path, unused = fill_template(self.path_format, self.param_convertors, params)
        return None if unused else URLPath(path=path)

    def _inner_url(self, name: str, params: dict[str, Any]) -> URLPath | None:
        prefix, unused = replace_params(
            self.path_format, self.param_convertors, {**params, "path": ""}
        )
        if "path" in params:
            unused["path"] = params["path"]
        found = first_reversal(self.routes, name, unused)
        if found is None:
            return None
        return URLPath(path=prefix.rstrip("/") + found, protocol=found.protocol)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.max_body_size is not None and scope["type"] == "http":
            await BodyLimit.run(self.app, self.max_body_size, scope, receive, send)
        else:
            await self.app(scope, receive, send)


def request_host(scope: Scope) -> str | None:
    """The lowercased host name of the Host header ("" when absent); None when invalid."""
    value = get_header(scope.get("headers") or (), b"host")
    if value is None:
        return ""
    parts = split_host(value.decode("latin-1"))
    return None if parts is None else parts[0]


class Host(_Delegating):
    """An ASGI app served for requests whose Host header matches a pattern (port ignored).

    IP literals are written as in URLs (`[::1]`); a request with an invalid Host header
    matches no Host route.
    """

    _shown = ("host", "name", "app")
    _compared = ("host", "app")

    def __init__(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        assert not host.startswith("/"), "Host must not start with '/'"
        self.host, self.app, self.name = host, app, name
        compiled = compile_path(host)
        self.host_regex, self.host_format, self.param_convertors = compiled
        self._steps = conversions(self.param_convertors)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in _ROUTED:
            return NO_MATCH
        host = request_host(scope)
        found = None if host is None else self.host_regex.fullmatch(host)
        params = None if found is None else convert(found, self._steps)
        if params is None:
            return NO_MATCH
        outer = scope.get("path_params")
        return FULL, {"path_params": {**outer, **params} if outer else params, "endpoint": self.app}

    def _own_url(self, params: dict[str, Any]) -> URLPath | None:
        path = params.pop("path")
        host, unused = replace_params(self.host_format, self.param_convertors, params)
        return None if unused else URLPath(path=path, host=host)

    def _inner_url(self, name: str, params: dict[str, Any]) -> URLPath | None:
        host, unused = replace_params(self.host_format, self.param_convertors, params)
        found = first_reversal(self.routes, name, unused)
        return (
            None if found is None else URLPath(path=str(found), protocol=found.protocol, host=host)
        )
