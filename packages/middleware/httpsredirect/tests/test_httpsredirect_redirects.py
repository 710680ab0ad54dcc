"""Redirects from http/ws to https/wss, and where the new URL's host comes from."""

from __future__ import annotations

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope, websocket_scope

from stellina.middleware import Middleware
from stellina.middleware.httpsredirect import HTTPSRedirectMiddleware
from stellina.types import Receive, Scope, Send


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


async def location_for(host: bytes, server: tuple[str, int] | None) -> bytes:
    scope = http_scope(path="/p", query_string=b"q", headers=[(b"host", host)], server=server)
    recorder = Recorder()
    await recorder.run(HTTPSRedirectMiddleware(app), scope)
    assert recorder.status == 307
    assert recorder.body == b""
    return dict(recorder.headers)[b"location"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "location"),
    [
        (b"example.com:000080", b"https://example.com/p?q"),
        (b"example.com:0443", b"https://example.com/p?q"),
        (b"example.com:08080", b"https://example.com:8080/p?q"),
        (b"EXAMPLE.com", b"https://example.com/p?q"),
        (b"[V1.Future]:81", b"https://[v1.future]:81/p?q"),
    ],
)
async def test_port_is_normalised(host: bytes, location: bytes) -> None:
    assert await location_for(host, ("server.internal", 80)) == location


HOSTILE = [
    b"[::1]@attacker",
    b"attacker@example.com",
    b"api_service/evil",
    b"a?b",
    b"a#b",
    b"a b",
    b"[:::]",
    b"[::ffff:999.999.999.999]",
    b"[::1]:evil",
    b"[::1]:",
    b"[::1",
    b"a:b:c",
    b"example.com:65536",
    b"example.com:99999999999999999999",
    b"evil.com\r\nSet-Cookie: a=b",
    b"\xff\xfe",
    b"",
    b"x" * 70_000 + b"/",
]


@pytest.mark.anyio
@pytest.mark.parametrize("host", HOSTILE)
async def test_hostile_host_falls_back_to_the_server_address(host: bytes) -> None:
    assert (
        await location_for(host, ("server.internal", 8443)) == b"https://server.internal:8443/p?q"
    )
    assert await location_for(host, ("::1", 443)) == b"https://[::1]/p?q"


@pytest.mark.anyio
@pytest.mark.parametrize("host", HOSTILE)
async def test_hostile_host_without_server_address_is_refused(host: bytes) -> None:
    recorder = Recorder()
    await recorder.run(
        HTTPSRedirectMiddleware(app), http_scope(headers=[(b"host", host)], server=None)
    )
    assert recorder.status == 400
    assert recorder.body == b"Invalid host header"
    assert (b"content-type", b"text/plain; charset=utf-8") in recorder.headers


@pytest.mark.anyio
async def test_a_unix_socket_server_is_no_host() -> None:
    recorder = Recorder()
    scope = http_scope(headers=[(b"host", b"a b")], server=("/run/app.sock", None))
    await recorder.run(HTTPSRedirectMiddleware(app), scope)
    assert recorder.status == 400


@pytest.mark.anyio
async def test_no_host_header_uses_the_server_address() -> None:
    recorder = Recorder()
    scope = http_scope(headers=[], server=("10.0.0.1", 80))
    await recorder.run(HTTPSRedirectMiddleware(app), scope)
    assert dict(recorder.headers)[b"location"] == b"https://10.0.0.1/"


@pytest.mark.anyio
async def test_websocket_and_server_address() -> None:
    scope = websocket_scope(
        path="/chat", query_string=b"room=1", headers=[], server=("10.0.0.1", 8000)
    )
    recorder = Recorder(last={"type": "websocket.connect"})
    sent = await recorder.run(HTTPSRedirectMiddleware(app), scope)
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 307
    assert dict(sent[0]["headers"])[b"location"] == b"wss://10.0.0.1:8000/chat?room=1"
    assert sent[1] == {"type": "websocket.http.response.body", "body": b""}


@pytest.mark.anyio
async def test_websocket_with_hostile_host_and_no_server_is_refused() -> None:
    recorder = Recorder(last={"type": "websocket.connect"})
    scope = websocket_scope(headers=[(b"host", b"[::1]@evil")], server=None)
    sent = await recorder.run(HTTPSRedirectMiddleware(app), scope)
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b"Invalid host header"


@pytest.mark.anyio
@pytest.mark.parametrize("scope", [http_scope(scheme="https"), websocket_scope(scheme="wss")])
async def test_secure_and_other_scopes_pass_through(scope: Scope) -> None:
    reached: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope)

    await HTTPSRedirectMiddleware(inner)(scope, Recorder().receive, Recorder().send)
    await HTTPSRedirectMiddleware(inner)({"type": "lifespan"}, Recorder().receive, Recorder().send)
    assert len(reached) == 2


def test_usable_as_a_middleware_spec(test_client_factory: ClientFactory) -> None:
    cls, args, kwargs = Middleware(HTTPSRedirectMiddleware)
    client = test_client_factory(cls(app, *args, **kwargs), follow_redirects=False)
    assert client.get("/").status_code == 307
