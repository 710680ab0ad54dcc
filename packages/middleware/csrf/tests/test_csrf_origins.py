"""The Origin check, exempt paths, and the scopes the middleware leaves alone."""

from __future__ import annotations

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope, websocket_scope

from stellina.middleware.csrf import SCOPE_KEY, CSRFMiddleware
from stellina.testclient import TestClient
from stellina.types import Receive, Scope, Send

SECRET = "test-secret"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"x-token", scope[SCOPE_KEY].encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"done"})


def client_with_token(
    factory: ClientFactory, middleware: CSRFMiddleware, base_url: str = "http://testserver"
) -> tuple[TestClient, str]:
    client = factory(middleware, base_url=base_url)
    return client, client.get("/").headers["x-token"]


# --- Origin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://testserver.evil.example",
        "https://testserver",  # same host, other scheme
        "http://testserver:8080",  # same host, other port
        "null",
        "",
        "testserver",
        "http://user@testserver",
        "http://testserver/",
        "http://testserver/path",
        "ftp://testserver",
        "http://testserver http://evil.example",
        "http://[::1",
    ],
)
def test_cross_origin_post_with_a_valid_token(
    test_client_factory: ClientFactory, origin: str
) -> None:
    client, token = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    response = client.post("/", headers={"x-csrftoken": token, "origin": origin})
    assert (response.status_code, response.text) == (403, "CSRF origin not trusted")


@pytest.mark.parametrize(
    "origin", ["http://testserver", "HTTP://TestServer", "http://testserver:80"]
)
def test_own_origin_passes(test_client_factory: ClientFactory, origin: str) -> None:
    client, token = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    response = client.post("/", headers={"x-csrftoken": token, "origin": origin})
    assert response.status_code == 200


def test_own_origin_follows_the_host_header(test_client_factory: ClientFactory) -> None:
    client, token = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    headers = {"x-csrftoken": token, "host": "shop.example:8000"}
    ok = client.post("/", headers={**headers, "origin": "http://shop.example:8000"})
    assert ok.status_code == 200
    refused = client.post("/", headers={**headers, "origin": "http://testserver"})
    assert refused.text == "CSRF origin not trusted"


def test_origin_is_checked_before_the_token(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(app, SECRET))
    response = client.post("/", headers={"origin": "https://evil.example"})
    assert response.text == "CSRF origin not trusted"


def test_safe_methods_skip_the_origin_check(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(app, SECRET))
    assert client.get("/", headers={"origin": "https://evil.example"}).status_code == 200


def test_trusted_origins(test_client_factory: ClientFactory) -> None:
    middleware = CSRFMiddleware(
        app,
        SECRET,
        trusted_origins=["https://app.example.com", "http://localhost:3000", "HTTPS://[::1]:443"],
    )
    client, token = client_with_token(test_client_factory, middleware)
    for origin in ("https://app.example.com", "https://APP.example.com:443", "https://[::1]"):
        response = client.post("/", headers={"x-csrftoken": token, "origin": origin})
        assert response.status_code == 200, origin
    assert client.post("/", headers={"x-csrftoken": token, "origin": "http://localhost:3000"})
    for origin in (
        "http://app.example.com",
        "https://app.example.com:8443",
        "http://localhost",
        "https://sub.app.example.com",
    ):
        response = client.post("/", headers={"x-csrftoken": token, "origin": origin})
        assert response.text == "CSRF origin not trusted", origin


def test_wildcard_trusted_origin(test_client_factory: ClientFactory) -> None:
    middleware = CSRFMiddleware(app, SECRET, trusted_origins=["https://*.example.com"])
    client, token = client_with_token(test_client_factory, middleware)
    for origin in ("https://a.example.com", "https://a.b.example.com"):
        response = client.post("/", headers={"x-csrftoken": token, "origin": origin})
        assert response.status_code == 200, origin
    for origin in (
        "https://example.com",
        "https://evilexample.com",
        "https://a.example.com.evil",
        "http://a.example.com",
        "https://a.example.com:8443",
    ):
        response = client.post("/", headers={"x-csrftoken": token, "origin": origin})
        assert response.text == "CSRF origin not trusted", origin


# --- Referer, over https -------------------------------------------------------------------


def test_https_without_origin_needs_a_same_origin_referer(
    test_client_factory: ClientFactory,
) -> None:
    middleware = CSRFMiddleware(app, SECRET, trusted_origins=["https://app.example.com"])
    client, token = client_with_token(test_client_factory, middleware, "https://testserver")
    assert client.post("/", headers={"x-csrftoken": token}).text == "CSRF origin missing"
    for referer in (
        "https://testserver/form?x=1",
        "https://testserver",
        "https://testserver#frag",
        "https://app.example.com/page",
    ):
        response = client.post("/", headers={"x-csrftoken": token, "referer": referer})
        assert response.status_code == 200, referer
    for referer in ("http://testserver/form", "https://evil.example/", "/relative", "garbage"):
        response = client.post("/", headers={"x-csrftoken": token, "referer": referer})
        assert response.text == "CSRF origin not trusted", referer


def test_origin_wins_over_referer(test_client_factory: ClientFactory) -> None:
    client, token = client_with_token(
        test_client_factory, CSRFMiddleware(app, SECRET), "https://testserver"
    )
    headers = {"x-csrftoken": token, "referer": "https://testserver/"}
    response = client.post("/", headers={**headers, "origin": "https://evil.example"})
    assert response.text == "CSRF origin not trusted"


def test_plain_http_without_origin_relies_on_the_token(test_client_factory: ClientFactory) -> None:
    client, token = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    headers = {"x-csrftoken": token, "referer": "https://evil.example/"}
    assert client.post("/", headers=headers).status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [
        [],  # no Host header at all
        [(b"host", b"\xff\xfe")],
        [(b"host", b"testserver/evil")],
        [(b"host", b"testserver:99999")],
    ],
)
async def test_unusable_host_matches_no_origin(headers: list[tuple[bytes, bytes]]) -> None:
    middleware = CSRFMiddleware(app, SECRET)
    token = middleware.signer.sign(b"A" * 43)
    headers = [
        *headers,
        (b"origin", b"http://testserver"),
        (b"cookie", b"csrftoken=" + token),
        (b"x-csrftoken", token),
    ]
    recorder = Recorder.with_body(b"")
    await recorder.run(middleware, http_scope(method="POST", headers=headers))
    assert (recorder.status, recorder.body) == (403, b"CSRF origin not trusted")


@pytest.mark.anyio
async def test_non_utf8_origin_and_referer() -> None:
    middleware = CSRFMiddleware(app, SECRET)
    token = middleware.signer.sign(b"A" * 43)
    for name in (b"origin", b"referer"):
        headers = [
            (b"host", b"testserver"),
            (name, b"https://\xff\xfe/\x80"),
            (b"cookie", b"csrftoken=" + token),
            (b"x-csrftoken", token),
        ]
        recorder = Recorder.with_body(b"")
        await recorder.run(middleware, http_scope(method="POST", scheme="https", headers=headers))
        assert (recorder.status, recorder.body) == (403, b"CSRF origin not trusted")


# --- exempt paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "exempt"),
    [
        ("/hooks", True),
        ("/hooks/github", True),
        ("/hooks/", True),
        ("/api/v1/ping", True),
        ("/api/", True),
        ("/api", False),  # "/api/" covers what is below it, not itself
        ("/hooks-evil", False),
        ("/hook", False),
        ("/Hooks", False),
        ("/", False),
        ("/other", False),
    ],
)
def test_exempt_paths(test_client_factory: ClientFactory, path: str, exempt: bool) -> None:
    middleware = CSRFMiddleware(app, SECRET, exempt_paths=["/hooks", "/api/"])
    client = test_client_factory(middleware)
    response = client.post(path, headers={"origin": "https://evil.example"})
    assert response.status_code == (200 if exempt else 403)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/hooks/../admin", "/hooks/./x", "/hooks/..", "/hooks/a/../../b"])
async def test_paths_with_dot_segments_are_never_exempt(path: str) -> None:
    """The server hands the path as the client sent it; an app may normalise it later."""
    middleware = CSRFMiddleware(app, SECRET, exempt_paths=["/hooks"])
    recorder = Recorder.with_body(b"")
    await recorder.run(middleware, http_scope(method="POST", path=path))
    assert (recorder.status, recorder.body) == (403, b"CSRF cookie missing")


def test_exempt_request_still_gets_a_token(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(app, SECRET, exempt_paths=["/hooks"]))
    response = client.post("/hooks")
    assert response.headers["set-cookie"] == (
        f"csrftoken={response.headers['x-token']}; Path=/; SameSite=Lax"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "status"), [("/app/hooks/x", 200), ("/app", 403), ("/hooks/x", 200), ("/app/x", 403)]
)
async def test_exempt_paths_match_below_the_root_path(path: str, status: int) -> None:
    middleware = CSRFMiddleware(app, SECRET, exempt_paths=["/hooks"])
    recorder = Recorder.with_body(b"")
    await recorder.run(middleware, http_scope(method="POST", path=path, root_path="/app"))
    assert recorder.status == status


@pytest.mark.anyio
async def test_root_exempts_everything_below_the_root_path() -> None:
    middleware = CSRFMiddleware(app, SECRET, exempt_paths=["/"])
    recorder = Recorder.with_body(b"")
    await recorder.run(middleware, http_scope(method="POST", path="/app", root_path="/app"))
    assert recorder.status == 200


# --- other scopes --------------------------------------------------------------------------


def test_websocket_passes_through(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []

    async def ws_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "hi"})
        await send({"type": "websocket.close"})

    client = test_client_factory(CSRFMiddleware(ws_app, SECRET))
    with client.websocket_connect("/", headers={"origin": "https://evil.example"}) as ws:
        assert ws.receive_text() == "hi"
    assert SCOPE_KEY not in seen[0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "scope", [websocket_scope(), {"type": "lifespan", "asgi": {"version": "3.0"}}]
)
async def test_other_scopes_are_untouched(scope: Scope) -> None:
    calls: list[tuple[Scope, Receive, Send]] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append((scope, receive, send))

    recorder = Recorder()
    before = dict(scope)
    await recorder.run(CSRFMiddleware(inner, SECRET), scope)
    assert calls == [(scope, recorder.receive, recorder.send)]
    assert scope == before
    assert recorder.sent == []
