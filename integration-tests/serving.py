"""Run an ASGI server in a subprocess on 127.0.0.1 for the tests that talk to it over TCP.

Not a test module: the integration tests import it after putting this folder on ``sys.path``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
EXAMPLES = HERE.parent / "examples"
STARTUP_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_answering(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    # Any HTTP answer will do: the app is imported and the server accepts requests.
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    raise TimeoutError(f"server did not answer:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The server runs in a session of its own: its worker processes (granian's) go with it.
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        process.wait(timeout=10)


@contextmanager
def serve(
    args: Sequence[str],
    port: int,
    log: Path,
    *,
    python: str | Path = sys.executable,
    cwd: Path = APPS,
    paths: Sequence[Path] = (),
) -> Iterator[str]:
    """Run ``python *args`` (a server listening on `port`) and yield ``127.0.0.1:port``.

    `paths` go on ``PYTHONPATH``; the server's output goes to the file `log`, shown when it
    fails to start. The server is always stopped on exit.
    """
    environment = dict(os.environ)
    if paths:
        environment["PYTHONPATH"] = os.pathsep.join(str(path) for path in paths)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(python), *args],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_answering(port, process, log)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(process)
