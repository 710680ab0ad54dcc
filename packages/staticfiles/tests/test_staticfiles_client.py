"""StaticFiles through the TestClient: mounted in a router, named for url_for, inside an app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stellina.exceptions import HTTPException
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Mount, Route, Router
from stellina.staticfiles import StaticFiles
from stellina.testclient import TestClient
from stellina.types import ASGIApp, Receive, Scope, Send
from stellina.websockets import WebSocketDisconnect

ClientFactory = Callable[..., TestClient]


class App:
    """What an application does around StaticFiles: sets scope["app"], answers HTTPException."""

    def __init__(self, router: ASGIApp) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        try:
            await self.router(scope, receive, send)
        except HTTPException as exc:
            response = PlainTextResponse(f"app: {exc.detail}", exc.status_code, exc.headers)
            await response(scope, receive, send)


@pytest.fixture
def static(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "app.css").write_text("body { color: red }")
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "big.bin").write_bytes(bytes(range(256)) * 1024)
    return root


def test_mounted_and_named(static: Path, test_client_factory: ClientFactory) -> None:
    async def home(request: Request) -> Response:
        return PlainTextResponse(str(request.url_for("static", path="/css/app.css")))

    app = Router(
        [
            Route("/", home),
            Mount("/static", StaticFiles(directory=static), name="static"),
        ]
    )
    client = test_client_factory(App(app))
    url = client.get("/").text
    assert url == "http://testserver/static/css/app.css"
    response = client.get(url)
    assert response.status_code == 200
    assert response.text == "body { color: red }"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert client.get("/static/missing.css").status_code == 404
    assert client.get("/static/../static/css/app.css").status_code == 200


def test_conditional_requests(static: Path, test_client_factory: ClientFactory) -> None:
    client = test_client_factory(Router([Mount("/s", StaticFiles(directory=static))]))
    first = client.get("/s/css/app.css")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    cached = client.get("/s/css/app.css", headers={"if-none-match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert "content-type" not in cached.headers
    assert client.get("/s/css/app.css", headers={"if-modified-since": modified}).status_code == 304
    assert client.head("/s/css/app.css").headers["content-length"] == "19"


def test_large_file_and_ranges(static: Path, test_client_factory: ClientFactory) -> None:
    client = test_client_factory(StaticFiles(directory=static))
    whole = client.get("/big.bin")
    assert whole.content == bytes(range(256)) * 1024
    part = client.get("/big.bin", headers={"range": "bytes=256-511"})
    assert part.status_code == 206
    assert part.content == bytes(range(256))


def test_html_mode_redirects(static: Path, test_client_factory: ClientFactory) -> None:
    app = Router([Mount("/site", StaticFiles(directory=static, html=True))])
    client = test_client_factory(app)
    response = client.get("/site", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/site/"
    assert client.get("/site").text == "<h1>home</h1>"


def test_errors_inside_an_application(static: Path, test_client_factory: ClientFactory) -> None:
    client = test_client_factory(App(Router([Mount("/s", StaticFiles(directory=static))])))
    missing = client.get("/s/missing.txt")
    assert (missing.status_code, missing.text) == (404, "app: Not Found")
    post = client.post("/s/index.html")
    assert (post.status_code, post.text) == (405, "app: Method Not Allowed")
    assert post.headers["allow"] == "GET, HEAD"
    assert client.get("/s/index.html").text == "<h1>home</h1>"


def test_errors_without_an_application(static: Path, test_client_factory: ClientFactory) -> None:
    app = StaticFiles(directory=static, html=True)
    client = test_client_factory(app)
    for _ in range(2):  # the config check happens once; later refusals are raised the same
        with pytest.raises(HTTPException) as missing:
            client.get("/missing.txt")
        assert (missing.value.status_code, missing.value.detail) == (404, "Not Found")
        assert app.config_checked
    with pytest.raises(HTTPException) as post:
        client.post("/index.html")
    assert (post.value.status_code, post.value.headers) == (405, {"Allow": "GET, HEAD"})
    assert client.get("/").text == "<h1>home</h1>"


def test_websocket_is_closed_normally(static: Path, test_client_factory: ClientFactory) -> None:
    client = test_client_factory(Router([Mount("/s", StaticFiles(directory=static))]))
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/s/index.html"):
        raise AssertionError("the session is refused before it opens")
    assert closed.value.code == 1000
