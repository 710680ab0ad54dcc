"""The full application (``apps/full_app.py``: the example app plus streaming, uploads, a
WebSocket echo and lifespan) under real servers, driven by real clients over TCP on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import random
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import APPS, EXAMPLES, free_port, serve

pytestmark = pytest.mark.slow


class Server(NamedTuple):
    command: str  # the arguments of ``python``; "{port}" stands for the port to listen on
    runs_lifespan: bool


SERVERS = {
    "uvicorn": Server(
        "-m uvicorn full_app:app --host 127.0.0.1 --port {port} --log-level warning", True
    ),
    "hypercorn": Server("-m hypercorn full_app:app --bind 127.0.0.1:{port}", True),
    # The "asgi" interface runs the lifespan protocol ("asginl" would not).
    "granian": Server(
        "-m granian --interface asgi --host 127.0.0.1 --port {port} --log-level warning"
        " full_app:app",
        True,
    ),
    # Daphne does not speak the lifespan protocol: the app starts without its lifespan.
    "daphne": Server("-m daphne -b 127.0.0.1 -p {port} full_app:app", False),
}


class Served(NamedTuple):
    name: str
    address: str

    @property
    def url(self) -> str:
        return f"http://{self.address}"


@pytest.fixture(params=sorted(SERVERS), scope="module")
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    name: str = request.param
    port = free_port()
    args = SERVERS[name].command.format(port=port).split()
    log = tmp_path_factory.mktemp(name) / "server.log"
    with serve(args, port, log, paths=[APPS, EXAMPLES]) as address:
        yield Served(name, address)


def test_homepage_user_favicon_static(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        home = client.get("/")
        assert (home.status_code, home.text) == (200, "Hello, world!")
        assert home.headers["content-type"] == "text/plain; charset=utf-8"
        assert home.headers["content-length"] == "13"
        user = client.get("/user/ada")
        assert (user.status_code, user.json()) == (200, {"username": "ada"})
        assert user.headers["content-type"] == "application/json"
        icon = client.get("/favicon.ico")
        assert icon.content == (EXAMPLES / "static" / "favicon.ico").read_bytes()
        assert "etag" in icon.headers
        css = client.get("/static/style.css")
        assert css.headers["content-type"].startswith("text/css")
        assert css.content == (EXAMPLES / "static" / "style.css").read_bytes()
        cached = client.get("/static/style.css", headers={"if-none-match": css.headers["etag"]})
        assert cached.status_code == 304
        assert client.get("/static/../app.py").status_code == 404
        assert client.get("/static/%2e%2e/app.py").status_code == 404
        assert client.get("/nowhere").status_code == 404
        refused = client.post("/")
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")


def test_ranges_over_tcp(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        partial = client.get("/static/style.css", headers={"range": "bytes=0-3"})
        assert partial.status_code == 206
        assert partial.content == b"body"


def test_websocket_greeting(served: Served) -> None:
    with connect(f"ws://{served.address}/ws") as websocket:
        assert websocket.recv(timeout=5) == "Hello, websocket!"


def test_websocket_echo(served: Served) -> None:
    blob = random.Random(1).randbytes(64 * 1024)
    with connect(f"ws://{served.address}/echo") as websocket:
        websocket.send("héllo")
        assert websocket.recv(timeout=5) == "héllo"
        websocket.send(blob)
        assert websocket.recv(timeout=5) == blob
        # No empty message: daphne drops an outgoing message whose text or bytes are empty.


def test_lifespan_startup_ran_where_the_server_speaks_it(served: Served) -> None:
    answer = httpx.get(f"{served.url}/lifespan")
    assert answer.json() == {"started": SERVERS[served.name].runs_lifespan}


def test_streaming_response_arrives_chunk_by_chunk(served: Served) -> None:
    # The app sends its first chunk, then holds the rest until /release is called: the test
    # reads the first chunk while the response is still open, so it cannot have been buffered.
    first = b"first:" + b"a" * 1024
    rest = b"second:" + b"b" * 1024 + b"third:" + b"c" * 1024 + b"end"
    token = uuid.uuid4().hex
    with (
        httpx.Client(base_url=served.url) as client,
        client.stream("GET", "/stream", params={"token": token}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert "content-length" not in response.headers
        chunks = response.iter_raw()
        received = b""
        while len(received) < len(first):
            received += next(chunks)
        assert received == first
        assert httpx.get(f"{served.url}/release", params={"token": token}).text == "released"
        received += b"".join(chunks)
    assert received == first + rest


def test_multipart_upload_of_8_mib(served: Served) -> None:
    data = random.Random(2).randbytes(8 * 1024 * 1024)
    answer = httpx.post(
        f"{served.url}/upload",
        files={"file": ("blob.bin", data, "application/octet-stream")},
        data={"note": "ünïcode ✓"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "filename": "blob.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "note": "ünïcode ✓",
    }


def test_application_body_limit(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        assert client.post("/body-size", content=b"x" * 1000).json() == {"size": 1000}
        too_big = client.post("/body-size", content=b"x" * 2_000_000)
        assert too_big.status_code == 413
        # A streamed body without Content-Length is cut off at the limit too.
        streamed = client.post("/body-size", content=iter([b"x" * 600_000] * 2))
        assert streamed.status_code == 413
