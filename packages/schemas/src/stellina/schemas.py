"""OpenAPI schemas assembled from the YAML that follows `---` in endpoint docstrings."""

from __future__ import annotations

__version__ = "0.1.0"

import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from stellina.responses import Response
from stellina.routing import Host, Mount, Route

if TYPE_CHECKING:
    from stellina.requests import Request
    from stellina.routing import BaseRoute

__all__ = ["BaseSchemaGenerator", "EndpointInfo", "OpenAPIResponse", "SchemaGenerator"]

_CONVERTOR = re.compile(r":\w+}")
_ENDPOINT_METHODS = ("get", "post", "put", "patch", "delete", "options", "query")


class OpenAPIResponse(Response):
    """A schema dictionary sent as OpenAPI YAML."""

    media_type = "application/vnd.oai.openapi"

    def render(self, content: Any) -> bytes:
        assert isinstance(content, dict), (
            "The schema passed to OpenAPIResponse should be a dictionary."
        )
        return yaml.dump(content, default_flow_style=False).encode("utf-8")


class EndpointInfo(NamedTuple):
    """One documented operation: its path template, lower-case method and handler."""

    path: str
    http_method: str
    func: Callable[..., Any]


def _supports_query(schema: dict[str, Any]) -> bool:
    """Whether the schema's OpenAPI version has the QUERY method (3.2 and later)."""
    version = re.match(r"\s*(\d+)\.(\d+)", str(schema.get("openapi", "")))
    return version is not None and (int(version[1]), int(version[2])) >= (3, 2)


def _qualified_name(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{name}" if module else name


class BaseSchemaGenerator:
    """Walks routes into EndpointInfo entries; subclasses turn them into a schema."""

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        """The schema of `routes`."""
        raise NotImplementedError()

    def get_endpoints(self, routes: list[BaseRoute]) -> list[EndpointInfo]:
        """Every schema-visible operation of `routes`, mounts and hosts included, HEAD excluded.

        Path convertors are dropped (`{id:int}` becomes `{id}`); a function endpoint yields
        one entry per method of its route, an HTTPEndpoint class one per handler it defines.
        """
        endpoints: list[EndpointInfo] = []
        for route in routes:
            if isinstance(route, Mount | Host):
                if not getattr(route, "include_in_schema", True):
                    continue
                prefix = _CONVERTOR.sub("}", route.path) if isinstance(route, Mount) else ""
                endpoints.extend(
                    EndpointInfo(prefix + sub.path, sub.http_method, sub.func)
                    for sub in self.get_endpoints(route.routes or [])
                )
            elif isinstance(route, Route) and route.include_in_schema:
                path = _CONVERTOR.sub("}", route.path)
                endpoint = route.endpoint
                if inspect.isfunction(endpoint) or inspect.ismethod(endpoint):
                    endpoints.extend(
                        EndpointInfo(path, method.lower(), endpoint)
                        for method in sorted(route.methods or ("GET",))
                        if method != "HEAD"
                    )
                else:
                    endpoints.extend(
                        EndpointInfo(path, method, getattr(endpoint, method))
                        for method in _ENDPOINT_METHODS
                        if hasattr(endpoint, method)
                    )
        return endpoints

    def parse_docstring(self, func_or_method: Callable[..., Any]) -> dict[str, Any]:
        """The YAML mapping after the last `---` of the docstring; {} when there is none.

        Invalid YAML raises ValueError naming the endpoint.
        """
        docstring = func_or_method.__doc__
        if not docstring:
            return {}
        try:
            parsed = yaml.safe_load(docstring.rpartition("---")[2])
        except yaml.YAMLError as exc:
            name = _qualified_name(func_or_method)
            raise ValueError(f"Invalid YAML in the docstring of {name}: {exc}") from exc
        return parsed if isinstance(parsed, dict) else {}

    def OpenAPIResponse(self, request: Request) -> Response:
        """The schema of the application's routes, as an OpenAPIResponse."""
        return OpenAPIResponse(self.get_schema(routes=request.app.routes))


class SchemaGenerator(BaseSchemaGenerator):
    """A schema made of `base_schema` plus one `paths` entry per documented operation."""

    def __init__(self, base_schema: dict[str, Any]) -> None:
        self.base_schema = base_schema

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        """`base_schema` (left unchanged) with the documented operations added under `paths`.

        QUERY operations are left out of schemas older than OpenAPI 3.2.
        """
        schema = dict(self.base_schema)
        paths: dict[str, Any] = dict(schema.get("paths") or {})
        schema["paths"] = paths
        query = _supports_query(schema)
        for endpoint in self.get_endpoints(routes):
            if endpoint.http_method == "query" and not query:
                continue
            parsed = self.parse_docstring(endpoint.func)
            if parsed:
                operations = paths.get(endpoint.path, {})
                paths[endpoint.path] = {**operations, endpoint.http_method: parsed}
        return schema
