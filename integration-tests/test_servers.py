"""The example application under real servers, driven by real clients over TCP on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {process.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("server did not start")


SERVERS = {
    "uvicorn": ["-m", "uvicorn", "--app-dir", str(EXAMPLES), "app:app", "--host", "127.0.0.1"],
    "hypercorn": ["-m", "hypercorn", "app:app", "--bind"],
}


@pytest.fixture(params=sorted(SERVERS), scope="module")
def base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    port = _free_port()
    name = request.param
    if name == "uvicorn":
        args = [*SERVERS[name], "--port", str(port), "--log-level", "warning"]
    else:
        args = [*SERVERS[name], f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [sys.executable, *args], cwd=EXAMPLES, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_until_serving(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_homepage_user_favicon_static(base_url: str) -> None:
    with httpx.Client(base_url=f"http://{base_url}") as client:
        home = client.get("/")
        assert (home.status_code, home.text) == (200, "Hello, world!")
        assert home.headers["content-type"] == "text/plain; charset=utf-8"
        assert client.get("/user/ada").json() == {"username": "ada"}
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


def test_ranges_over_tcp(base_url: str) -> None:
    with httpx.Client(base_url=f"http://{base_url}") as client:
        partial = client.get("/static/style.css", headers={"range": "bytes=0-3"})
        assert partial.status_code == 206
        assert partial.content == b"body"


def test_websocket_greeting(base_url: str) -> None:
    with connect(f"ws://{base_url}/ws") as websocket:
        assert websocket.recv(timeout=5) == "Hello, websocket!"
