"""What the scripts that run a real server share (``e2e/run.py``, ``soak/run.py``): CPU pinning,
a free loopback port, and uvicorn started on one core and stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path


def pinned(cpu: int) -> list[str]:
    """The command prefix that runs a process on ``cpu`` alone (nothing where it cannot)."""
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() != 1 else []


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_uvicorn(
    app_dir: Path, port: int, env: Mapping[str, str], *options: str
) -> subprocess.Popen[bytes]:
    """uvicorn (httptools, one worker, CPU 0) serving ``apps:app`` of ``app_dir`` on
    127.0.0.1:``port`` with ``env`` added to the environment, once it accepts connections."""
    command = [
        *pinned(0), sys.executable, "-m", "uvicorn", "apps:app", "--app-dir", str(app_dir),
        "--host", "127.0.0.1", "--port", str(port), "--http", "httptools",
        "--log-level", "warning", "--no-access-log", *options,
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server ({dict(env)}) exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise TimeoutError(f"the server ({dict(env)}) did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server: terminate, then kill if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
