"""Deployment past one process: the README's server commands with several workers, and state
that must (sessions, CSRF tokens) or must not (lifespan, app.state) be shared between processes.

Every server runs in its own process group, on a free port of 127.0.0.1, and the whole group
(the server and its workers) is killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import free_port

APPS = Path(__file__).resolve().parent / "deploy_apps"
SECRET = "one-secret-for-every-process"

pytestmark = pytest.mark.slow


@dataclass
class Server:
    """A server started by `_serving`: its main process and where it listens."""

    process: subprocess.Popen[bytes]
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


def _wait_until_answering(server: Server, log: Any) -> None:
    """Return once the app answers over HTTP (the port may be bound before workers are up)."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited early:\n{log.read().decode(errors='replace')}")
        try:
            httpx.get(server.url + "/", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    raise TimeoutError(f"no answer from {server.url}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server's process group: SIGTERM, then SIGKILL for anything left in it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def _serving(*commands: tuple[str, dict[str, str]]) -> Iterator[list[Server]]:
    """Start one server per ``(arguments of python, environment)`` at once.

    ``{port}`` in the arguments is a free port, ``{apps}`` the deploy_apps folder.
    """
    with contextlib.ExitStack() as stack:
        started = []
        for command, environment in commands:
            port = free_port()
            log = stack.enter_context(tempfile.TemporaryFile())
            process = subprocess.Popen(
                [sys.executable, *(part.format(port=port, apps=APPS) for part in command.split())],
                env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1", **environment},
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
            stack.callback(_stop, process)
            started.append((Server(process, f"http://127.0.0.1:{port}"), log))
        for server, log in started:
            _wait_until_answering(server, log)
        yield [server for server, _ in started]


def _uvicorn(module: str) -> str:
    """Arguments of python serving an app of deploy_apps in one uvicorn process."""
    return f"-m uvicorn --app-dir {{apps}} {module}:app --host 127.0.0.1 --port {{port}}"


def _cookie(response: httpx.Response, name: str) -> str:
    """The ``name=value`` pair of the response's Set-Cookie for ``name``, to send by hand."""
    for header in response.headers.get_list("set-cookie"):
        pair = header.partition(";")[0]
        if pair.startswith(name + "="):
            return pair
    raise AssertionError(f"no {name} cookie in {response.headers}")


@pytest.fixture(scope="module")
def session_servers() -> Iterator[list[Server]]:
    """Two processes sharing the session secret, and a third one with another secret."""
    other = {"SECRET_KEY": "another-secret"}
    shared = {"SECRET_KEY": SECRET}
    with _serving(*[(_uvicorn("counter"), env) for env in (shared, shared, other)]) as servers:
        yield servers


def test_a_session_moves_between_processes_sharing_the_secret(
    session_servers: list[Server],
) -> None:
    first, second, _ = session_servers
    started = httpx.get(first.url + "/visit")
    assert started.json() == {"visits": 1, "pids": [first.pid]}
    moved = httpx.get(second.url + "/visit", headers={"cookie": _cookie(started, "session")})
    assert moved.json() == {"visits": 2, "pids": [first.pid, second.pid]}
    back = httpx.get(first.url + "/visit", headers={"cookie": _cookie(moved, "session")})
    assert back.json() == {"visits": 3, "pids": [first.pid, second.pid, first.pid]}


def test_another_secret_rejects_the_session(session_servers: list[Server]) -> None:
    first, _, stranger = session_servers
    started = httpx.get(first.url + "/visit")
    refused = httpx.get(stranger.url + "/visit", headers={"cookie": _cookie(started, "session")})
    assert refused.status_code == 200
    assert refused.json() == {"visits": 1, "pids": [stranger.pid]}


def test_the_lifespan_runs_once_in_each_process(session_servers: list[Server]) -> None:
    reports = [httpx.get(server.url + "/whoami").json() for server in session_servers * 2]
    assert [report["pid"] for report in reports] == [server.pid for server in session_servers] * 2
    assert {report["startups"] for report in reports} == {1}


def _whoami_many(url: str, count: int) -> list[dict[str, Any]]:
    """``count`` concurrent GET /whoami, each on a new connection, all answered with 200.

    Each request has a client of its own: threads sharing one client's pool with keep-alive off
    race on the sockets it closes (EBADF in the client, not the server).
    """
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: httpx.get(url + "/whoami", timeout=10), range(count)))
    assert [response.status_code for response in responses] == [200] * count
    return [response.json() for response in responses]


# The README's command for each server with two workers, trusting forwarded headers from
# 127.0.0.1; hypercorn and granian have no switch for that and serve the wrapped app instead.
WORKER_COMMANDS = {
    "uvicorn": _uvicorn("counter") + " --workers 2 --proxy-headers --forwarded-allow-ips 127.0.0.1",
    "gunicorn": "-m gunicorn --chdir {apps} -k uvicorn.workers.UvicornWorker -w 2"
    " -b 127.0.0.1:{port} --forwarded-allow-ips 127.0.0.1 counter:app",
    "granian": "-m granian --interface asgi --working-dir {apps} --host 127.0.0.1 --port {port}"
    " --workers 2 proxied:granian_app",
    "hypercorn": "-m hypercorn --workers 2 --bind 127.0.0.1:{port} {apps}/proxied:hypercorn_app",
}


@pytest.mark.parametrize("name", sorted(WORKER_COMMANDS))
def test_two_workers_share_the_load(name: str) -> None:
    with _serving((WORKER_COMMANDS[name], {"SECRET_KEY": SECRET})) as [server]:
        reports = _whoami_many(server.url, 300)
        # The kernel hands each connection to one worker; keep trying (bounded) until both did.
        for _ in range(75):
            if len({report["pid"] for report in reports}) > 1:
                break
            time.sleep(0.2)
            reports += _whoami_many(server.url, 20)
        pids = {report["pid"] for report in reports}
        assert len(pids) == 2
        assert server.pid not in pids
        assert {report["startups"] for report in reports} == {1}

        forwarded = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}
        seen = httpx.get(server.url + "/whoami", headers=forwarded).json()
        assert (seen["client"], seen["scheme"]) == ("203.0.113.9", "https")
        foreign = httpx.get(server.url + "/whoami", headers={"host": "attacker.example"})
        assert foreign.status_code == 400


def test_a_csrf_token_minted_by_one_process_passes_on_the_other() -> None:
    shared = {"CSRF_SECRET": SECRET}
    other = {"CSRF_SECRET": "another-secret"}
    commands = [(_uvicorn("guarded"), env) for env in (shared, shared, other)]
    with _serving(*commands) as [minter, checker, stranger]:
        page = httpx.get(minter.url + "/form")
        assert page.status_code == 200
        cookie = _cookie(page, "csrftoken")
        token = cookie.partition("=")[2]

        def submit(server: Server, sent: str | None) -> int:
            """POST as a browser would, from the page of the site the request goes to."""
            headers = {"cookie": cookie, "origin": server.url}
            if sent is not None:
                headers["x-csrftoken"] = sent
            response = httpx.post(server.url + "/submit", headers=headers)
            if response.status_code == 200:
                assert response.text == f"accepted by {server.pid}"
            return response.status_code

        assert submit(checker, token) == 200
        assert submit(checker, None) == 403
        assert submit(checker, token[:-1]) == 403
        assert submit(stranger, token) == 403
