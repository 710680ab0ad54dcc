"""CORS headers on ordinary (non-preflight) responses."""

from __future__ import annotations

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope, websocket_scope

from stellina.middleware.cors import CORSMiddleware
from stellina.types import Receive, Scope, Send


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/plain"), (b"vary", b"Accept")]
    if scope["path"] == "/own-origin":
        headers.append((b"access-control-allow-origin", b"https://own.example"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello"})


def test_allowed_origin_is_echoed(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["https://a.com"], expose_headers=["X-A", "X-B"])
    response = test_client_factory(app).get("/", headers={"Origin": "https://a.com"})
    assert response.text == "hello"
    assert response.headers["access-control-allow-origin"] == "https://a.com"
    assert response.headers["access-control-expose-headers"] == "X-A, X-B"
    assert response.headers["vary"] == "Accept, Origin"


def test_refused_origin_gets_no_allow_origin(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["https://a.com"], allow_credentials=True)
    response = test_client_factory(app).get("/", headers={"Origin": "https://evil.com"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Accept, Origin"


def test_wildcard_without_credentials(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["*"])
    client = test_client_factory(app)
    response = client.get("/", headers={"Origin": "https://b.com", "Cookie": "a=b"})
    assert response.headers["access-control-allow-origin"] == "*"
    # The wildcard replaces what the application set itself.
    response = client.get("/own-origin", headers={"Origin": "https://b.com"})
    assert response.headers.get_list("access-control-allow-origin") == ["*"]


@pytest.mark.parametrize("cookie", [None, "session=1"])
def test_wildcard_with_credentials_never_sends_a_star(
    test_client_factory: ClientFactory, cookie: str | None
) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["*"], allow_credentials=True)
    headers = {"Origin": "https://b.com"}
    if cookie:
        headers["Cookie"] = cookie
    response = test_client_factory(app).get("/", headers=headers)
    assert response.headers["access-control-allow-origin"] == "https://b.com"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Accept, Origin"


def test_request_without_origin_only_varies(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["*"], allow_credentials=True)
    response = test_client_factory(app).get("/")
    assert response.text == "hello"
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Accept, Origin"


def test_origin_already_in_vary_is_not_repeated(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 204, "headers": [(b"vary", b"origin")]}
        )
        await send({"type": "http.response.body", "body": b""})

    response = test_client_factory(CORSMiddleware(app)).get("/", headers={"Origin": "https://a"})
    assert response.headers.get_list("vary") == ["origin"]


@pytest.mark.anyio
async def test_websocket_and_lifespan_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        await send({"type": "websocket.accept"})

    recorder = Recorder(last={"type": "websocket.connect"})
    middleware = CORSMiddleware(app, allow_origins=["https://a.com"])
    await recorder.run(middleware, websocket_scope(headers=[(b"origin", b"https://a.com")]))
    await recorder.run(middleware, {"type": "lifespan"})
    assert seen == ["websocket", "lifespan"]
    assert recorder.sent == [{"type": "websocket.accept"}] * 2


def test_streaming_body_is_untouched(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        for chunk in (b"a", b"b", b""):
            await send({"type": "http.response.body", "body": chunk, "more_body": chunk != b""})

    middleware = CORSMiddleware(app, allow_origins=["https://a.com"])
    response = test_client_factory(middleware).get("/", headers={"Origin": "https://a.com"})
    assert response.text == "ab"
    assert response.headers["access-control-allow-origin"] == "https://a.com"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("vary", "merged"),
    [
        ([b"Accept-Encoding", b"Accept-Language"], b"Accept-Encoding, Accept-Language, Origin"),
        ([b"Origin", b"Cookie"], b"Origin, Cookie"),
        ([], b"Origin"),
    ],
)
async def test_vary_headers_are_merged_into_one(vary: list[bytes], merged: bytes) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"vary", value) for value in vary]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    for origin in (b"https://a.com", None):
        headers = [] if origin is None else [(b"origin", origin)]
        recorder = Recorder()
        middleware = CORSMiddleware(app, allow_origins=["https://a.com"])
        await recorder.run(middleware, http_scope(headers=headers))
        assert [value for name, value in recorder.headers if name == b"vary"] == [merged]


@pytest.mark.parametrize(
    ("origins", "credentials", "explicit"),
    [(["*"], False, False), (["*"], True, True), (["https://a.com"], False, True)],
)
def test_allow_explicit_origin(origins: list[str], credentials: bool, explicit: bool) -> None:
    middleware = CORSMiddleware(endpoint, allow_origins=origins, allow_credentials=credentials)
    assert middleware.allow_explicit_origin is explicit


def test_settings_are_normalised_once() -> None:
    middleware = CORSMiddleware(endpoint, allow_methods=["*"], allow_headers=["X-Token"])
    assert "QUERY" in middleware.allow_methods
    assert "X-Token" in middleware.allow_headers
    assert "Accept" in middleware.allow_headers


def test_a_string_policy_is_read_as_comma_separated_items(
    test_client_factory: ClientFactory,
) -> None:
    app = CORSMiddleware(
        endpoint,
        allow_origins="https://a.com",
        allow_methods="GET, POST",
        allow_headers="X-Token,X-Trace",
        expose_headers="X-A",
    )
    assert app.allow_origins == ("https://a.com",)
    client = test_client_factory(app)
    simple = client.get("/", headers={"Origin": "https://a.com"})
    assert simple.headers["access-control-allow-origin"] == "https://a.com"
    assert simple.headers["access-control-expose-headers"] == "X-A"
    # No substring match: a part of the string is not an allowed origin.
    assert (
        "access-control-allow-origin"
        not in client.get("/", headers={"Origin": "https://a.c"}).headers
    )
    preflight = client.options(
        "/",
        headers={
            "Origin": "https://a.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-token, x-trace",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-methods"] == "GET, POST"
