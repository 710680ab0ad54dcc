"""Routes, mounts, hosts and a Router that dispatches through a path index.

The public API lives here; the implementation is split by job into private modules:
`_paths` (path templates), `_routes` (Route, WebSocketRoute), `_mounts` (Mount, Host),
`_dispatch` (the index), `_router` (Router), `_lifespan`, `_body` (body size limits) and
`_handled` (exception handling below a route's own middleware).
"""

__version__ = "0.1.0"

from stellina.convertors import CONVERTOR_TYPES, Convertor

from ._mounts import Host, Mount
from ._paths import PARAM_FORMAT_REGEX, PARAM_REGEX, compile_path, replace_params
from ._router import Router
from ._routes import (
    BaseRoute,
    Match,
    NoMatchFound,
    Route,
    WebSocketRoute,
    get_name,
    request_response,
    websocket_session,
)

__all__ = [
    "CONVERTOR_TYPES",
    "PARAM_FORMAT_REGEX",
    "PARAM_REGEX",
    "BaseRoute",
    "Convertor",
    "Host",
    "Match",
    "Mount",
    "NoMatchFound",
    "Route",
    "Router",
    "WebSocketRoute",
    "compile_path",
    "get_name",
    "replace_params",
    "request_response",
    "websocket_session",
]
