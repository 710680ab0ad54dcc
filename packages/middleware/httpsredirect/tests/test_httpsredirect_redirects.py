"""Redirects from http/ws to https/wss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stellina.middleware import Middleware
from stellina.middleware.httpsredirect import HTTPSRedirectMiddleware
from stellina.testclient import TestClient
from stellina.types import Message, Receive, Scope, Send

ClientFactory = Callable[..., TestClient]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"secure"})


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("http://example.com/", "https://example.com/"),
        ("http://example.com:80/a?b=1", "https://example.com/a?b=1"),
        ("http://example.com:443/", "https://example.com/"),
        (
            "http://example.com:8080/x%20y/%C3%A9?q=%20&r",
            "https://example.com:8080/x%20y/%C3%A9?q=%20&r",
        ),
        ("http://[::1]:80/", "https://[::1]/"),
        ("http://[::1]:8000/", "https://[::1]:8000/"),
    ],
)
def test_redirects(test_client_factory: ClientFactory, url: str, location: str) -> None:
    client = test_client_factory(HTTPSRedirectMiddleware(app), follow_redirects=False)
    response = client.get(url)
    assert response.status_code == 307
    assert response.headers["location"] == location
    assert response.headers["content-length"] == "0"


def test_secure_requests_reach_the_app(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(HTTPSRedirectMiddleware(app), base_url="https://testserver")
    assert client.get("/").text == "secure"
    # following the redirect from http ends there too
    assert test_client_factory(HTTPSRedirectMiddleware(app)).get("http://testserver/").text == (
        "secure"
    )


async def call(scope: dict[str, Any]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await HTTPSRedirectMiddleware(app)(scope, receive, send)
    return sent


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host", [b"evil.com\r\nSet-Cookie: a=b", b"a:b:c", b"[::1", b"\xff\xfe", b"x" * 70_000]
)
async def test_hostile_host_headers(host: bytes) -> None:
    scope = {"type": "http", "scheme": "http", "path": "/p", "query_string": b"q", "headers": []}
    scope["headers"] = [(b"host", host)]
    start, body = await call(scope)
    assert start["status"] == 307
    location = dict(start["headers"])[b"location"]
    assert location.startswith(b"https://")
    assert location.endswith(b"/p?q")
    assert b"\r" not in location
    assert b"\n" not in location
    assert location.isascii()
    assert body == {"type": "http.response.body", "body": b""}


@pytest.mark.anyio
async def test_websocket_and_server_address() -> None:
    scope: dict[str, Any] = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/chat",
        "query_string": b"room=1",
        "headers": [],
        "server": ("10.0.0.1", 8000),
    }
    sent = await call(scope)
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 307
    assert dict(sent[0]["headers"])[b"location"] == b"wss://10.0.0.1:8000/chat?room=1"
    assert sent[1] == {"type": "websocket.http.response.body", "body": b""}
    scope.update(type="http", scheme="http", server=("::1", 80))
    sent = await call(scope)
    assert dict(sent[0]["headers"])[b"location"] == b"https://[::1]/chat?room=1"


def test_usable_as_a_middleware_spec(test_client_factory: ClientFactory) -> None:
    cls, args, kwargs = Middleware(HTTPSRedirectMiddleware)
    client = test_client_factory(cls(app, *args, **kwargs), follow_redirects=False)
    assert client.get("/").status_code == 307
