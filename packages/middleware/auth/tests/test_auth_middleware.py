"""AuthenticationMiddleware: scope["auth"]/["user"], errors on HTTP and WebSocket."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from stellina_testing import ClientFactory

from stellina.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
)
from stellina.middleware.authentication import AuthenticationMiddleware
from stellina.requests import HTTPConnection, Request
from stellina.responses import JSONResponse, Response
from stellina.types import Message
from stellina.websockets import WebSocket, WebSocketDisconnect


class BasicAuth(AuthenticationBackend):
    """Accepts ``Authorization: Basic`` with any password; "bad" credentials fail."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, _password = base64.b64decode(encoded).decode().partition(":")
        except ValueError as exc:
            raise AuthenticationError("Invalid basic auth credentials") from exc
        if username == "bad":
            raise AuthenticationError("Bad user")
        return AuthCredentials(["authenticated"]), SimpleUser(username)


def basic(username: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:pw".encode()).decode()}


async def whoami(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.send_json({"user": websocket.user.display_name})
        await websocket.close()
        return
    request = Request(scope, receive)
    response = JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "user": request.user.display_name,
            "scopes": request.auth.scopes,
        }
    )
    await response(scope, receive, send)


def test_authenticated_request(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(AuthenticationMiddleware(whoami, backend=BasicAuth()))
    response = client.get("/", headers=basic("ada"))
    assert response.json() == {"authenticated": True, "user": "ada", "scopes": ["authenticated"]}


def test_request_without_credentials_is_anonymous(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(AuthenticationMiddleware(whoami, backend=BasicAuth()))
    for headers in ({}, {"Authorization": "Bearer token"}):
        response = client.get("/", headers=headers)
        assert response.json() == {"authenticated": False, "user": "", "scopes": []}


def test_authentication_error_is_a_400_by_default(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(AuthenticationMiddleware(whoami, backend=BasicAuth()))
    response = client.get("/", headers=basic("bad"))
    assert response.status_code == 400
    assert response.text == "Bad user"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    response = client.get("/", headers={"Authorization": "Basic !!!notbase64"})
    assert (response.status_code, response.text) == (400, "Invalid basic auth credentials")


def test_custom_on_error(test_client_factory: ClientFactory) -> None:
    calls: list[tuple[HTTPConnection, Exception]] = []

    def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
        calls.append((conn, exc))
        return JSONResponse({"error": str(exc)}, status_code=401)

    app = AuthenticationMiddleware(whoami, backend=BasicAuth(), on_error=on_error)
    response = test_client_factory(app).get("/path", headers=basic("bad"))
    assert (response.status_code, response.json()) == (401, {"error": "Bad user"})
    assert calls[0][0].url.path == "/path"
    assert isinstance(calls[0][1], AuthenticationError)


def test_websocket_authenticated(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(AuthenticationMiddleware(whoami, backend=BasicAuth()))
    with client.websocket_connect("/", headers=basic("ada")) as session:
        assert session.receive_json() == {"user": "ada"}


def test_websocket_authentication_error_closes(test_client_factory: ClientFactory) -> None:
    calls: list[Exception] = []

    def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
        calls.append(exc)
        return Response("unused", status_code=401)

    app = AuthenticationMiddleware(whoami, backend=BasicAuth(), on_error=on_error)
    client = test_client_factory(app)
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/", headers=basic("bad")),
    ):
        pass  # pragma: no cover
    assert info.value.code == 1000
    assert len(calls) == 1


@pytest.mark.anyio
async def test_lifespan_is_not_authenticated() -> None:
    seen: list[Message] = []

    class Refuse(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> None:
            raise AssertionError("not called")  # pragma: no cover

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    await AuthenticationMiddleware(app, backend=Refuse())({"type": "lifespan"}, receive, send)
    assert seen == [{"type": "lifespan"}]


def test_unauthenticated_default_objects_are_fresh(test_client_factory: ClientFactory) -> None:
    seen: list[Any] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen.append((list(scope["auth"].scopes), scope["user"]))
        scope["auth"].scopes.append("leaked")
        await Response()(scope, receive, send)

    client = test_client_factory(AuthenticationMiddleware(app, backend=BasicAuth()))
    client.get("/")
    client.get("/")
    assert [scopes for scopes, _ in seen] == [[], []]
    assert all(isinstance(user, UnauthenticatedUser) for _, user in seen)
