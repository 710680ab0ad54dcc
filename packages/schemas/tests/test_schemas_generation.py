"""SchemaGenerator: walking routes, parsing docstrings, and serving the schema as YAML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import yaml
from stellina_testing import ClientFactory

from stellina.endpoints import HTTPEndpoint
from stellina.requests import Request
from stellina.responses import Response
from stellina.routing import BaseRoute, Host, Mount, Route, Router, WebSocketRoute
from stellina.schemas import BaseSchemaGenerator, EndpointInfo, OpenAPIResponse, SchemaGenerator
from stellina.types import Receive, Scope, Send
from stellina.websockets import WebSocket

F = TypeVar("F", bound=Callable[..., Any])


def responds_200(description: str) -> Callable[[F], F]:
    """Give the endpoint the docstring YAML of a single 200 response with ``description``."""

    def document(endpoint: F) -> F:
        endpoint.__doc__ = f"responses:\n  200:\n    description: {description}\n"
        return endpoint

    return document


schemas = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "Example API", "version": "1.0"}})


@responds_200("A list of users.")
async def list_users(request: Request) -> Response:
    return Response()


async def create_user(request: Request) -> Response:
    """
    Create a user: this prose is not part of the schema.
    ---
    responses:
      200:
        description: A user.
    """
    return Response()


@responds_200("One user.")
async def get_user(request: Request) -> Response:
    return Response()


async def undocumented(request: Request) -> Response:
    return Response()


async def prose_only(request: Request) -> Response:
    """Just a regular docstring."""
    return Response()


@responds_200("Never listed.")
async def hidden(request: Request) -> Response:
    return Response()


class OrganisationsEndpoint(HTTPEndpoint):
    @responds_200("A list of organisations.")
    async def get(self, request: Request) -> Response:
        return Response()

    @responds_200("An organisation.")
    async def post(self, request: Request) -> Response:
        return Response()


@responds_200("Not an HTTP route.")
async def ws(websocket: WebSocket) -> None:
    pass


subapp = Router(
    [Route("/{id:int}/items", get_user, methods=["GET", "DELETE"])],
)

ROUTES: list[BaseRoute] = [
    Route("/users", list_users, methods=["GET", "HEAD"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users/{id:int}", get_user),
    Route("/orgs", OrganisationsEndpoint),
    Route("/undocumented", undocumented),
    Route("/prose", prose_only),
    Route("/hidden", hidden, include_in_schema=False),
    WebSocketRoute("/ws", ws),
    Mount("/sub/{tenant:str}", subapp),
    Host("api.example.org", Router([Route("/host-only", list_users)])),
]


def test_get_endpoints() -> None:
    endpoints = schemas.get_endpoints(ROUTES)
    assert endpoints == [
        EndpointInfo("/users", "get", list_users),
        EndpointInfo("/users", "post", create_user),
        EndpointInfo("/users/{id}", "get", get_user),
        EndpointInfo("/orgs", "get", OrganisationsEndpoint.get),
        EndpointInfo("/orgs", "post", OrganisationsEndpoint.post),
        EndpointInfo("/undocumented", "get", undocumented),
        EndpointInfo("/prose", "get", prose_only),
        EndpointInfo("/sub/{tenant}/{id}/items", "delete", get_user),
        EndpointInfo("/sub/{tenant}/{id}/items", "get", get_user),
        EndpointInfo("/host-only", "get", list_users),
    ]


def test_get_schema() -> None:
    base = {"openapi": "3.0.0", "info": {"title": "Example API", "version": "1.0"}}
    generator = SchemaGenerator(base)
    schema = generator.get_schema(ROUTES)
    assert schema == {
        "openapi": "3.0.0",
        "info": {"title": "Example API", "version": "1.0"},
        "paths": {
            "/users": {
                "get": {"responses": {200: {"description": "A list of users."}}},
                "post": {"responses": {200: {"description": "A user."}}},
            },
            "/users/{id}": {"get": {"responses": {200: {"description": "One user."}}}},
            "/orgs": {
                "get": {"responses": {200: {"description": "A list of organisations."}}},
                "post": {"responses": {200: {"description": "An organisation."}}},
            },
            "/sub/{tenant}/{id}/items": {
                "get": {"responses": {200: {"description": "One user."}}},
                "delete": {"responses": {200: {"description": "One user."}}},
            },
            "/host-only": {"get": {"responses": {200: {"description": "A list of users."}}}},
        },
    }
    # The base schema is left as it was, and a second run gives the same schema.
    assert base == {"openapi": "3.0.0", "info": {"title": "Example API", "version": "1.0"}}
    assert generator.get_schema(ROUTES) == schema


def test_base_paths_are_merged_without_being_changed() -> None:
    existing = {"/users": {"put": {"summary": "from the base"}}}
    generator = SchemaGenerator({"paths": existing})
    schema = generator.get_schema([Route("/users", list_users)])
    assert schema["paths"]["/users"] == {
        "put": {"summary": "from the base"},
        "get": {"responses": {200: {"description": "A list of users."}}},
    }
    assert existing == {"/users": {"put": {"summary": "from the base"}}}


def test_parse_docstring() -> None:
    def no_doc() -> None:
        pass

    def scalar() -> None:
        """---
        just: [a, list
        """

    def several_separators() -> None:
        """
        text --- more text
        ---
        summary: last part
        """

    def yaml_list() -> None:
        """
        - a
        - b
        """

    assert schemas.parse_docstring(no_doc) == {}
    assert schemas.parse_docstring(prose_only) == {}
    assert schemas.parse_docstring(yaml_list) == {}
    assert schemas.parse_docstring(several_separators) == {"summary": "last part"}
    with pytest.raises(ValueError, match=r"test_parse_docstring\.<locals>\.scalar") as error:
        schemas.parse_docstring(scalar)
    assert isinstance(error.value.__cause__, yaml.YAMLError)


def test_unsafe_yaml_is_not_constructed() -> None:
    def unsafe() -> None:
        """
        value: !!python/object/apply:os.system ["echo hacked"]
        """

    with pytest.raises(ValueError, match="unsafe"):
        schemas.parse_docstring(unsafe)


def test_invalid_yaml_names_the_endpoint_in_get_schema() -> None:
    async def broken(request: Request) -> Response:
        """
        responses: [unclosed
        """
        return Response()

    with pytest.raises(ValueError, match="broken"):
        schemas.get_schema([Route("/broken", broken)])


def test_base_generator_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        BaseSchemaGenerator().get_schema([])


def test_openapi_response() -> None:
    response = OpenAPIResponse({"openapi": "3.0.0", "paths": {"/a": {"get": {}}}})
    assert response.media_type == "application/vnd.oai.openapi"
    assert response.headers["content-type"] == "application/vnd.oai.openapi"
    assert yaml.safe_load(bytes(response.body)) == {
        "openapi": "3.0.0",
        "paths": {"/a": {"get": {}}},
    }
    assert response.body == b"openapi: 3.0.0\npaths:\n  /a:\n    get: {}\n"
    with pytest.raises(AssertionError, match="should be a dictionary"):
        OpenAPIResponse(["not", "a", "dict"])


class App:
    """The least an application offers the schema endpoint: `routes` and scope["app"]."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.router = Router(routes)
        self.routes = self.router.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        await self.router(scope, receive, send)


def test_schema_endpoint(test_client_factory: ClientFactory) -> None:
    def openapi_schema(request: Request) -> Response:
        return schemas.OpenAPIResponse(request=request)

    routes = [*ROUTES, Route("/schema", openapi_schema, include_in_schema=False)]
    client = test_client_factory(App(routes))
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi"
    assert yaml.safe_load(response.text) == schemas.get_schema(routes)
    assert "/schema" not in response.text


def test_custom_generator() -> None:
    class Listing(BaseSchemaGenerator):
        def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
            return {e.path: e.http_method for e in self.get_endpoints(routes)}

    assert Listing().get_schema([Route("/a", list_users, methods=["PUT", "HEAD"])]) == {"/a": "put"}


@responds_200("Found by a query.")
def find(request: Request) -> None:
    pass


class Finder(HTTPEndpoint):
    @responds_200("A class-based query.")
    def query(self, request: Request) -> None:
        pass


QUERY_ROUTES: list[BaseRoute] = [Route("/find", find, methods=["QUERY"]), Route("/cls", Finder)]


@pytest.mark.parametrize(
    ("version", "listed"),
    [
        ("3.2.0", True),
        ("3.10.1", True),
        ("4.0", True),
        ("3.1.2", False),
        ("3.0", False),
        ("", False),
    ],
)
def test_query_operations_need_openapi_3_2(version: str, listed: bool) -> None:
    schema = SchemaGenerator({"openapi": version}).get_schema(QUERY_ROUTES)
    found = {path: set(operations) for path, operations in schema["paths"].items()}
    assert found == ({"/find": {"query"}, "/cls": {"query"}} if listed else {})


def test_query_endpoints_are_listed_by_get_endpoints() -> None:
    methods = {(info.path, info.http_method) for info in schemas.get_endpoints(QUERY_ROUTES)}
    assert methods == {("/find", "query"), ("/cls", "query")}
