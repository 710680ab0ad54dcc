"""CORS preflight requests: allowed, refused, wildcards, credentials, private network."""

from __future__ import annotations

from typing import Any

import pytest
from stellina_testing import ClientFactory

from stellina.middleware import Middleware
from stellina.middleware.cors import ALL_METHODS, CORSMiddleware
from stellina.types import Message, Receive, Scope, Send

PREFLIGHT_VARY = (
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network"
)


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"endpoint"})


def preflight(origin: str = "https://a.com", method: str = "GET", **extra: str) -> dict[str, str]:
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    headers.update({key.replace("_", "-"): value for key, value in extra.items()})
    return headers


def test_allowed_preflight_headers(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(
        endpoint,
        allow_origins=["https://a.com"],
        allow_methods=["GET", "POST"],
        allow_headers=["X-Token"],
        max_age=30,
    )
    response = test_client_factory(app).options(
        "/", headers=preflight(method="POST", Access_Control_Request_Headers="x-token, Accept")
    )
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["access-control-allow-origin"] == "https://a.com"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-max-age"] == "30"
    assert response.headers["access-control-allow-headers"] == (
        "Accept, Accept-Language, Content-Language, Content-Type, X-Token"
    )
    assert response.headers["vary"] == PREFLIGHT_VARY
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "access-control-allow-credentials" not in response.headers


def test_refused_preflight_lists_every_failure(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["https://a.com"])
    headers = preflight(
        origin="https://evil.com",
        method="DELETE",
        Access_Control_Request_Headers="X-Other",
        Access_Control_Request_Private_Network="true",
    )
    response = test_client_factory(app).options("/", headers=headers)
    assert response.status_code == 400
    assert response.text == "Disallowed CORS origin, method, headers, private-network"
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("extra", "failure"),
    [
        ({"method": "get"}, "method"),  # methods are case-sensitive
        ({"Access_Control_Request_Headers": "x-token,"}, "headers"),  # an empty name
        ({"Access_Control_Request_Headers": ""}, "headers"),
        ({"origin": "https://A.com"}, "origin"),  # origins are case-sensitive
    ],
)
def test_single_failures(
    test_client_factory: ClientFactory, extra: dict[str, str], failure: str
) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["https://a.com"], allow_headers=["X-Token"])
    response = test_client_factory(app).options("/", headers=preflight(**extra))
    assert response.status_code == 400
    assert response.text == f"Disallowed CORS {failure}"


def test_wildcards_without_credentials(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    client = test_client_factory(app)
    response = client.options(
        "/", headers=preflight(method="QUERY", Access_Control_Request_Headers="X-A, x-b")
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == ", ".join(ALL_METHODS)
    assert response.headers["access-control-allow-headers"] == "X-A, x-b"
    response = client.options("/", headers=preflight())
    assert "access-control-allow-headers" not in response.headers


def test_credentials_echo_the_origin(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["*"], allow_credentials=True)
    response = test_client_factory(app).options("/", headers=preflight(origin="https://b.org"))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://b.org"
    assert response.headers["access-control-allow-credentials"] == "true"


def test_origin_regex_must_match_fully(test_client_factory: ClientFactory) -> None:
    app = CORSMiddleware(endpoint, allow_origin_regex=r"https://.*\.example\.org")
    client = test_client_factory(app)
    response = client.options("/", headers=preflight(origin="https://api.example.org"))
    assert response.headers["access-control-allow-origin"] == "https://api.example.org"
    response = client.options("/", headers=preflight(origin="https://api.example.org.evil.com"))
    assert response.status_code == 400
    assert response.text == "Disallowed CORS origin"
    assert app.is_allowed_origin("https://x.example.org")
    assert not app.is_allowed_origin("http://x.example.org")


def test_private_network(test_client_factory: ClientFactory) -> None:
    allowed = CORSMiddleware(endpoint, allow_origins=["*"], allow_private_network=True)
    headers = preflight(Access_Control_Request_Private_Network="true")
    response = test_client_factory(allowed).options("/", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-private-network"] == "true"
    refused = CORSMiddleware(endpoint, allow_origins=["*"])
    response = test_client_factory(refused).options("/", headers=headers)
    assert response.status_code == 400
    assert response.text == "Disallowed CORS private-network"


def test_options_without_request_method_reaches_the_app(
    test_client_factory: ClientFactory,
) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["https://a.com"])
    response = test_client_factory(app).options("/", headers={"Origin": "https://a.com"})
    assert response.text == "endpoint"
    assert response.headers["access-control-allow-origin"] == "https://a.com"


def test_usable_as_a_middleware_spec(test_client_factory: ClientFactory) -> None:
    cls, args, kwargs = Middleware(CORSMiddleware, allow_origins=["https://a.com"])
    app = cls(endpoint, *args, **kwargs)
    response = test_client_factory(app).options("/", headers=preflight())
    assert response.status_code == 200


def test_oversized_and_garbage_headers_are_refused_cleanly(
    test_client_factory: ClientFactory,
) -> None:
    app = CORSMiddleware(endpoint, allow_origins=["https://a.com"], allow_headers=["X-A"])
    client = test_client_factory(app)
    huge = ",".join(["x-a"] * 20_000 + ["x-b"])
    response = client.options("/", headers=preflight(Access_Control_Request_Headers=huge))
    assert response.status_code == 400
    assert response.text == "Disallowed CORS headers"
    response = client.options("/", headers=preflight(origin="x" * 100_000 + "\x7f"))
    assert response.status_code == 400
    assert response.text == "Disallowed CORS origin"


@pytest.mark.anyio
async def test_cr_lf_never_reaches_a_header() -> None:
    app = CORSMiddleware(endpoint, allow_origins=["*"], allow_headers=["*"], allow_credentials=True)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "OPTIONS",
        "headers": [
            (b"origin", b"https://a.com"),
            (b"access-control-request-method", b"GET"),
            (b"access-control-request-headers", b"x-a\r\nset-cookie: a=b"),
        ],
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b"Disallowed CORS headers"
    scope["headers"] = [(b"origin", b"https://a.com\r\nx: y")]
    scope["method"] = "GET"
    sent.clear()
    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    assert all(b"\r" not in value and b"\n" not in value for _, value in sent[0]["headers"])
    assert dict(sent[0]["headers"]) == {b"vary": b"Origin"}
