"""Single stellina middleware pieces wrapped around other frameworks' applications.

Quart runs only on asyncio, so its tests use an asyncio TestClient; the Flask test runs on both.
"""

from __future__ import annotations

from typing import Any

import flask
import pytest
import quart
from stellina_testing import ClientFactory

from stellina.middleware.cors import CORSMiddleware
from stellina.middleware.gzip import GZipMiddleware
from stellina.middleware.httpsredirect import HTTPSRedirectMiddleware
from stellina.middleware.sessions import SessionMiddleware
from stellina.middleware.trustedhost import TrustedHostMiddleware
from stellina.middleware.wsgi import WSGIMiddleware
from stellina.testclient import TestClient

pytestmark = pytest.mark.slow


def quart_client(app: Any, **kwargs: Any) -> TestClient:
    return TestClient(app, backend="asyncio", **kwargs)


def make_quart() -> quart.Quart:
    app = quart.Quart(__name__)

    @app.route("/")
    async def index() -> str:
        return "hello from quart " + "x" * 1000

    @app.route("/session")
    async def session_view() -> dict[str, object]:
        # The stellina session lives in the ASGI scope, which Quart exposes on the request.
        session = quart.request.scope["session"]
        session["visits"] = session.get("visits", 0) + 1
        return {"visits": session["visits"]}

    return app


def test_cors_around_quart() -> None:
    app = CORSMiddleware(make_quart(), allow_origins=["https://example.org"])
    client = quart_client(app)
    response = client.get("/", headers={"Origin": "https://example.org"})
    assert response.status_code == 200
    assert response.text.startswith("hello from quart")
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    preflight = client.options(
        "/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 400


def test_gzip_around_quart() -> None:
    client = quart_client(GZipMiddleware(make_quart(), minimum_size=100))
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text.startswith("hello from quart")
    assert "accept-encoding" in response.headers["vary"].lower()


def test_trustedhost_and_httpsredirect_around_quart() -> None:
    guarded = quart_client(TrustedHostMiddleware(make_quart(), allowed_hosts=["testserver"]))
    assert guarded.get("/").status_code == 200
    refused = guarded.get("/", headers={"Host": "evil.example"})
    assert (refused.status_code, refused.text) == (400, "Invalid host header")
    redirecting = quart_client(HTTPSRedirectMiddleware(make_quart()), follow_redirects=False)
    response = redirecting.get("/?a=1")
    assert response.status_code == 307
    assert response.headers["location"] == "https://testserver/?a=1"


def test_sessions_around_quart() -> None:
    client = quart_client(SessionMiddleware(make_quart(), secret_key="s3cret"))
    assert client.get("/session").json() == {"visits": 1}
    assert client.get("/session").json() == {"visits": 2}


def test_flask_through_wsgi_middleware(test_client_factory: ClientFactory) -> None:
    app = flask.Flask(__name__)

    @app.route("/echo", methods=["POST"])
    def echo() -> dict[str, object]:
        return {"body": flask.request.get_data(as_text=True), "path": flask.request.path}

    client = test_client_factory(CORSMiddleware(WSGIMiddleware(app), allow_origins=["*"]))
    response = client.post("/echo", content=b"ping", headers={"Origin": "https://a.example"})
    assert response.json() == {"body": "ping", "path": "/echo"}
    assert response.headers["access-control-allow-origin"] == "*"
