"""stellina.authentication: users, credentials, has_required_scope and the requires decorator."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from stellina_testing import ClientFactory

from stellina.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
    has_required_scope,
    requires,
)
from stellina.datastructures import URLPath
from stellina.exceptions import HTTPException
from stellina.requests import HTTPConnection, Request
from stellina.responses import PlainTextResponse, RedirectResponse, Response
from stellina.types import Message
from stellina.websockets import WebSocket, WebSocketDisconnect


class Router:
    """Just enough of a router for ``request.url_for``."""

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        assert name == "login"
        return URLPath("/auth/login")


def make_request(scopes: list[str], path: str = "/admin", query: bytes = b"") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "server": ("example.org", 443),
            "root_path": "",
            "path": path,
            "query_string": query,
            "headers": [(b"host", b"example.org")],
            "auth": AuthCredentials(scopes),
            "user": SimpleUser("ada"),
            "router": Router(),
        }
    )


@requires("admin")
async def async_endpoint(request: Request) -> Response:
    return PlainTextResponse(f"hello {request.user.display_name}")


@requires(["admin", "write"], status_code=404)
def sync_endpoint(request: Request) -> Response:
    return PlainTextResponse("sync")


@requires("admin", redirect="login")
async def async_redirecting(request: Request) -> Response:
    return PlainTextResponse("in")


@requires("admin", redirect="login")
def sync_redirecting(request: Request) -> Response:
    return PlainTextResponse("in")


class Endpoint:
    @requires("admin")
    async def get(self, request: Request) -> Response:
        return PlainTextResponse(f"method {type(self).__name__}")

    @requires("admin")
    def post(self, request: Request) -> Response:
        return PlainTextResponse("sync method")


def body(response: Response) -> bytes:
    return bytes(response.body)


@pytest.mark.anyio
async def test_async_endpoint_allowed_and_refused() -> None:
    assert body(await async_endpoint(make_request(["admin"]))) == b"hello ada"
    assert body(await async_endpoint(request=make_request(["admin", "other"]))) == b"hello ada"
    with pytest.raises(HTTPException) as info:
        await async_endpoint(make_request(["other"]))
    assert info.value.status_code == 403


def test_sync_endpoint_needs_every_scope_and_uses_status_code() -> None:
    assert body(sync_endpoint(make_request(["write", "admin"]))) == b"sync"
    for scopes in (["admin"], ["write"], []):
        with pytest.raises(HTTPException) as info:
            sync_endpoint(make_request(scopes))
        assert info.value.status_code == 404


@pytest.mark.anyio
async def test_methods_are_supported() -> None:
    endpoint = Endpoint()
    assert body(await endpoint.get(make_request(["admin"]))) == b"method Endpoint"
    assert body(endpoint.post(request=make_request(["admin"]))) == b"sync method"
    with pytest.raises(HTTPException):
        await endpoint.get(make_request([]))
    with pytest.raises(HTTPException):
        endpoint.post(make_request([]))


@pytest.mark.anyio
async def test_redirect_sends_to_named_route_with_next() -> None:
    request = make_request([], path="/admin/caf\u00e9", query=b"x=1&y=a b")
    for response in (await async_redirecting(request), sync_redirecting(request)):
        assert isinstance(response, RedirectResponse)
        assert response.status_code == 303
        location = urlsplit(response.headers["location"])
        assert (location.scheme, location.netloc, location.path) == (
            "https",
            "example.org",
            "/auth/login",
        )
        assert parse_qs(location.query) == {"next": [str(request.url)]}
    assert body(await async_redirecting(make_request(["admin"]))) == b"in"
    assert body(sync_redirecting(make_request(["admin"]))) == b"in"


def test_wrapped_function_keeps_its_identity() -> None:
    assert async_endpoint.__name__ == "async_endpoint"
    assert sync_endpoint.__wrapped__.__name__ == "sync_endpoint"  # type: ignore[attr-defined]


def test_function_without_connection_parameter_is_refused() -> None:
    def view(req: Request) -> Response:
        return Response()  # pragma: no cover

    with pytest.raises(
        Exception, match=r'No "request" or "websocket" argument on function "<function'
    ):
        requires("admin")(view)


@requires("chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hi {websocket.user.display_name}")
    await websocket.close()


def websocket_app(scopes: list[str]) -> Any:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        scope["auth"] = AuthCredentials(scopes)
        scope["user"] = SimpleUser("ada")
        await chat(websocket=WebSocket(scope, receive, send))

    return app


def test_websocket_endpoint_allowed(test_client_factory: ClientFactory) -> None:
    with test_client_factory(websocket_app(["chat"])).websocket_connect("/") as session:
        assert session.receive_text() == "hi ada"


def test_websocket_endpoint_refused_is_closed(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(websocket_app(["other"]))
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.code == 1000


def test_has_required_scope() -> None:
    request = make_request(["a", "b"])
    assert has_required_scope(request, [])
    assert has_required_scope(request, ["a"])
    assert has_required_scope(request, ("b", "a"))
    assert not has_required_scope(request, ["a", "c"])


def test_credentials_and_users() -> None:
    assert AuthCredentials().scopes == []
    scopes = ("a", "b")
    credentials = AuthCredentials(scopes)
    assert credentials.scopes == ["a", "b"]
    user = SimpleUser("ada")
    assert (user.is_authenticated, user.display_name, user.identity) == (True, "ada", "ada")
    user.username = "grace"
    assert (user.display_name, user.identity) == ("grace", "grace")
    anonymous = UnauthenticatedUser()
    assert (anonymous.is_authenticated, anonymous.display_name, anonymous.identity) == (
        False,
        "",
        "",
    )
    for name in ("is_authenticated", "display_name", "identity"):
        with pytest.raises(NotImplementedError):
            getattr(BaseUser(), name)


@pytest.mark.anyio
async def test_backend_base_is_abstract() -> None:
    conn = HTTPConnection({"type": "http", "headers": []})
    with pytest.raises(NotImplementedError):
        await AuthenticationBackend().authenticate(conn)
