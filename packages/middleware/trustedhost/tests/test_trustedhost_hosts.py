"""Host header validation, wildcards and the www redirect."""

from __future__ import annotations

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope, websocket_scope

from stellina.middleware import Middleware
from stellina.middleware.trustedhost import ENFORCE_DOMAIN_WILDCARD, TrustedHostMiddleware
from stellina.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


ALLOWED = ["example.com", "*.example.org", "www.shop.io", "127.0.0.1", "[::1]", "fe80::2"]


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "EXAMPLE.com:8000",
        "api.example.org",
        "a.b.example.org:443",
        "www.shop.io",
        "127.0.0.1:8000",
        "[::1]",
        "[::1]:8000",
        "[FE80::2]:1",
    ],
)
def test_allowed_hosts(test_client_factory: ClientFactory, host: str) -> None:
    client = test_client_factory(TrustedHostMiddleware(app, allowed_hosts=ALLOWED))
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 200
    assert response.text == "ok"


@pytest.mark.parametrize(
    "host",
    [
        "evil.com",
        "example.org",
        "example.com.evil.com",
        "notexample.com",
        "[::2]:80",
        "[::1",
        "[::1]x",
        "",
        ":::",
        "x" * 65_000,
        "\u00e9xample.com",
    ],
)
def test_refused_hosts(test_client_factory: ClientFactory, host: str) -> None:
    client = test_client_factory(TrustedHostMiddleware(app, allowed_hosts=ALLOWED))
    response = client.get("/", headers={b"Host": host.encode()})
    assert response.status_code == 400
    assert response.text == "Invalid host header"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_missing_host_is_refused(test_client_factory: ClientFactory) -> None:
    middleware = TrustedHostMiddleware(app, allowed_hosts=["testserver"])

    async def drop_host(scope: Scope, receive: Receive, send: Send) -> None:
        scope["headers"] = [(key, value) for key, value in scope["headers"] if key != b"host"]
        await middleware(scope, receive, send)

    response = test_client_factory(drop_host).get("/")
    assert response.status_code == 400


def test_any_host_by_default(test_client_factory: ClientFactory) -> None:
    middleware = TrustedHostMiddleware(app)
    assert middleware.allow_any
    assert test_client_factory(middleware).get("/", headers={"Host": "anything"}).text == "ok"


def test_www_redirect(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(
        TrustedHostMiddleware(app, allowed_hosts=["www.example.com"]), follow_redirects=False
    )
    response = client.get("/a b/\u00e9?q=1&r=%20", headers={"Host": "example.com:8000"})
    assert response.status_code == 307
    assert response.headers["location"] == "http://www.example.com:8000/a%20b/%C3%A9?q=1&r=%20"
    assert response.content == b""
    no_redirect = TrustedHostMiddleware(app, allowed_hosts=["www.example.com"], www_redirect=False)
    response = test_client_factory(no_redirect).get("/", headers={"Host": "example.com"})
    assert response.status_code == 400


@pytest.mark.parametrize("pattern", ["a*.example.com", "*example.com", "*.*.example.com", "**"])
def test_bad_wildcards(pattern: str) -> None:
    with pytest.raises(AssertionError, match=r"Domain wildcard patterns must be like"):
        TrustedHostMiddleware(app, allowed_hosts=[pattern])
    assert ENFORCE_DOMAIN_WILDCARD.endswith("'*.example.com'.")


def test_usable_as_a_middleware_spec(test_client_factory: ClientFactory) -> None:
    cls, args, kwargs = Middleware(TrustedHostMiddleware, allowed_hosts=["testserver"])
    assert test_client_factory(cls(app, *args, **kwargs)).get("/").status_code == 200


@pytest.mark.anyio
async def test_websocket_with_a_bad_host_gets_a_denial_response() -> None:
    middleware = TrustedHostMiddleware(app, allowed_hosts=["www.example.com"])
    recorder = Recorder(last={"type": "websocket.connect"})
    scope = websocket_scope(path="/ws", headers=[(b"host", b"evil.com")])
    sent = await recorder.run(middleware, scope)
    assert [message["type"] for message in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b"Invalid host header"
    recorder = Recorder(last={"type": "websocket.connect"})
    scope["headers"] = [(b"host", b"example.com")]
    sent = await recorder.run(middleware, scope)
    assert sent[0]["status"] == 307
    assert dict(sent[0]["headers"])[b"location"] == b"ws://www.example.com/ws"


HOSTILE = [
    "[::1]@attacker",
    "api_service@attacker",
    "api_service/evil",
    "api_service?evil",
    "api_service#evil",
    "api service",
    "[:::]",
    "[::ffff:999.999.999.999]",
    "[::1]:evil",
    "[::1]:",
    "[::1].",
    "[::1]evil.example.com",
    "api_service:",
    "api_service:8o",
    "api_service:-1",
    "api_service.evil.example.com/x",
]


@pytest.mark.anyio
@pytest.mark.parametrize("host", HOSTILE)
async def test_hostile_host_never_matches(host: str) -> None:
    allowed = ["[::1]", "api_service", "*.example.com", "www.api_service"]
    recorder = Recorder()
    scope = http_scope(headers=[(b"host", host.encode())])
    await recorder.run(TrustedHostMiddleware(app, allowed_hosts=allowed), scope)
    assert recorder.status == 400
    assert recorder.body == b"Invalid host header"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host", ["api_service:000080", "api_service:65535", "api_service:65536", "API_Service:1"]
)
async def test_port_is_not_part_of_the_match(host: str) -> None:
    recorder = Recorder()
    scope = http_scope(headers=[(b"host", host.encode())])
    await recorder.run(TrustedHostMiddleware(app, allowed_hosts=["api_service"]), scope)
    assert recorder.status == 200


@pytest.mark.anyio
async def test_www_redirect_never_echoes_a_hostile_host() -> None:
    middleware = TrustedHostMiddleware(app, allowed_hosts=["www.example.com"])
    for host in (b"example.com@evil", b"example.com/evil", b"example.com:1/x"):
        recorder = Recorder()
        await recorder.run(middleware, http_scope(headers=[(b"host", host)]))
        assert recorder.status == 400
    recorder = Recorder()
    await recorder.run(middleware, http_scope(headers=[(b"host", b"Example.COM:000081")]))
    assert dict(recorder.headers)[b"location"] == b"http://www.example.com:81/"


@pytest.mark.anyio
async def test_accepted_hosts_cache_stays_bounded() -> None:
    middleware = TrustedHostMiddleware(app, allowed_hosts=["*.example.com"])
    for number in range(1000):
        recorder = Recorder()
        host = f"h{number}.example.com".encode()
        await recorder.run(middleware, http_scope(headers=[(b"host", host)]))
        assert recorder.status == 200
    assert len(middleware._accepted) <= 256


@pytest.mark.anyio
async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    recorder = Recorder()
    await TrustedHostMiddleware(lifespan_app, allowed_hosts=["a"])(
        {"type": "lifespan"}, recorder.receive, recorder.send
    )
    assert seen == ["lifespan"]
