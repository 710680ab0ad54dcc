"""Soak and memory benchmarks: stellina and Starlette under uvicorn, and form parsing in process.

- soak: ``--requests`` requests over ``--connections`` keep-alive connections (this script's
  own asyncio client) to a JSON route, a form POST route and a streaming route behind GZip,
  CORS and Sessions; the server's RSS is sampled every 10 000 requests, errors (non-2xx answers,
  connection errors) are counted;
- upload: a ``--size`` body streamed to ``request.stream()`` and, as a multipart file, to
  ``request.form()``; the server's peak RSS while it is received;
- trickle: a ``--trickle-size`` form body sent one byte per ASGI message, in process; the
  tracemalloc peak of multipart and urlencoded parsing.

uvicorn (httptools, one worker) listens on 127.0.0.1 only, pinned to CPU 0; the load runs here,
pinned to CPU 1.

    python benchmarks/soak/run.py [--requests 100000] [--connections 256] [--size 1GiB]
                                  [--trickle-size 500KB] [--only soak,upload,trickle]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/, shared helpers

from client import Connection, Request, load  # this script's folder is on sys.path
from serving import free_port, pinned, start_uvicorn, stop
from trickle import measure

HERE = Path(__file__).resolve().parent
TOOLKITS = ("stellina", "starlette")
SAMPLE_EVERY = 10_000
UPLOAD_CHUNK = 256 * 1024
MIB = 1024 * 1024
_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": MIB, "gb": 1000**3}
_UNITS["gib"] = 1024**3


def parse_size(text: str) -> int:
    """``1GiB``, ``64MiB``, ``500KB`` or a number of bytes, as bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def memory_kib(pid: int, field: str) -> int:
    """A memory figure of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Reset the process's peak RSS (``VmHWM``) to its current RSS; False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- soak -------------------------------------------------------------------------------------

_FORM_BODY = b"name=soak&count=1&note=" + b"n" * 200
_MULTIPART_BODY = (
    b'--sb\r\ncontent-disposition: form-data; name="a"\r\n\r\n1\r\n'
    b'--sb\r\ncontent-disposition: form-data; name="f"; filename="f.txt"\r\n\r\n'
    + b"f" * 1000
    + b"\r\n--sb--\r\n"
)
SOAK_REQUESTS: list[Request] = [
    ("GET", "/json", [(b"origin", b"https://example.org"), (b"accept-encoding", b"gzip")], b""),
    ("POST", "/form", [(b"content-type", b"application/x-www-form-urlencoded")], _FORM_BODY),
    ("GET", "/stream", [(b"accept-encoding", b"gzip")], b""),
    ("POST", "/form", [(b"content-type", b"multipart/form-data; boundary=sb")], _MULTIPART_BODY),
]


@dataclass
class Soak:
    done: int
    errors: int
    statuses: dict[int, int]
    rps: float
    samples: list[tuple[int, int]]  # (requests done, server RSS in KiB)
    peak: int  # the server's peak RSS, KiB


def soak(toolkit: str, total: int, connections: int) -> Soak:
    port = free_port()
    server = start_uvicorn(HERE, port, {"SOAK_FRAMEWORK": toolkit}, "--backlog", "4096")
    samples = [(0, memory_kib(server.pid, "VmRSS"))]

    def sample(done: int) -> None:
        if done % SAMPLE_EVERY == 0 or done == total:
            samples.append((done, memory_kib(server.pid, "VmRSS")))

    started = time.perf_counter()
    try:
        every = min(SAMPLE_EVERY, total)
        result = asyncio.run(
            load("127.0.0.1", port, SOAK_REQUESTS, total, connections, every, sample)
        )
        elapsed = time.perf_counter() - started
        if samples[-1][0] != result.done:
            samples.append((result.done, memory_kib(server.pid, "VmRSS")))
        peak = memory_kib(server.pid, "VmHWM")
    finally:
        stop(server)
    statuses = dict(sorted(result.statuses.items()))
    return Soak(result.done, result.errors, statuses, result.done / elapsed, samples, peak)


def print_soak(results: dict[str, Soak], connections: int) -> None:
    print(f"\n## soak: {connections} connections, GZip + CORS + Sessions (RSS in MiB)")
    print(f"{'requests':>10} " + " ".join(f"{toolkit:>10}" for toolkit in results))
    series = {toolkit: dict(result.samples) for toolkit, result in results.items()}
    for done in sorted({done for rows in series.values() for done in rows}):
        cells = [series[toolkit].get(done) for toolkit in results]
        print(f"{done:>10} " + " ".join(f"{c / 1024:>10.1f}" if c else f"{'-':>10}" for c in cells))
    rows = (
        ("peak RSS", [f"{r.peak / 1024:.1f}" for r in results.values()]),
        ("req/s", [f"{r.rps:.0f}" for r in results.values()]),
        ("errors", [str(r.errors) for r in results.values()]),
    )
    for label, values in rows:
        print(f"{label:>10} " + " ".join(f"{value:>10}" for value in values))
    for toolkit, result in results.items():
        print(f"{toolkit} statuses: {result.statuses}")


# --- upload -----------------------------------------------------------------------------------

_PREAMBLE = (
    b'--ub\r\ncontent-disposition: form-data; name="file"; filename="big.bin"\r\n'
    b"content-type: application/octet-stream\r\n\r\n"
)
_EPILOGUE = b"\r\n--ub--\r\n"


async def _pieces(head: bytes, size: int, tail: bytes) -> AsyncIterator[bytes]:
    block = os.urandom(UPLOAD_CHUNK)
    yield head
    left = size
    while left > 0:
        piece = block[: min(left, UPLOAD_CHUNK)]
        left -= len(piece)
        yield piece
    yield tail


async def _upload(port: int, mode: str, size: int) -> int:
    connection = Connection("127.0.0.1", port)
    if mode == "stream":
        headers = [(b"content-type", b"application/octet-stream")]
        body, length = _pieces(b"", size, b""), size
    else:
        headers = [(b"content-type", b"multipart/form-data; boundary=ub")]
        body, length = _pieces(_PREAMBLE, size, _EPILOGUE), len(_PREAMBLE) + size + len(_EPILOGUE)
    try:
        response = await connection.request("POST", f"/upload/{mode}", headers, body, length)
    finally:
        await connection.close()
    assert response.status == 200, (response.status, response.body[:200])
    received: int = json.loads(response.body)["size"]
    return received


def upload(toolkit: str, size: int) -> list[tuple[str, int, int, float, bool]]:
    """(mode, RSS before, peak RSS during, seconds, whether the peak could be reset) per mode."""
    port = free_port()
    server = start_uvicorn(HERE, port, {"SOAK_FRAMEWORK": toolkit}, "--backlog", "4096")
    rows = []
    try:
        for mode in ("stream", "form"):
            reset = reset_peak(server.pid)
            before = memory_kib(server.pid, "VmRSS")
            started = time.perf_counter()
            received = asyncio.run(_upload(port, mode, size))
            elapsed = time.perf_counter() - started
            assert received == size, (toolkit, mode, received, size)
            rows.append((mode, before, memory_kib(server.pid, "VmHWM"), elapsed, reset))
    finally:
        stop(server)
    return rows


def print_upload(results: dict[str, list[tuple[str, int, int, float, bool]]], size: int) -> None:
    print(f"\n## upload: {size / MIB:.0f} MiB in {UPLOAD_CHUNK // 1024} KiB writes")
    print(f"{'toolkit':<10} {'through':<16} {'RSS MiB':>8} {'peak MiB':>9} {'MiB/s':>8}")
    for toolkit, rows in results.items():
        for mode, before, peak, elapsed, reset in rows:
            through = "request.stream()" if mode == "stream" else "request.form()"
            note = "" if reset else "  (peak since start: clear_refs refused)"
            print(
                f"{toolkit:<10} {through:<16} {before / 1024:>8.1f} {peak / 1024:>9.1f} "
                f"{size / MIB / elapsed:>8.0f}{note}"
            )


# --- trickle ----------------------------------------------------------------------------------


def print_trickle(size: int) -> None:
    print(f"\n## trickle: {size} bytes, one byte per ASGI message (tracemalloc peak)")
    print(f"{'form':<11} {'toolkit':<10} {'body':>8} {'peak KiB':>9} {'x body':>7} {'s':>6}")
    for kind, toolkit, length, peak, elapsed in measure(size):
        print(
            f"{kind:<11} {toolkit:<10} {length:>8} {peak / 1024:>9.0f} {peak / length:>7.1f} "
            f"{elapsed:>6.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--trickle-size", type=parse_size, default=parse_size("500KB"))
    parser.add_argument("--only", default="soak,upload,trickle", help="comma-separated parts")
    args = parser.parse_args()
    wanted = {part.strip() for part in args.only.split(",")}
    if pinned(1):
        os.sched_setaffinity(0, {1})
    print("uvicorn + httptools, 1 worker, on CPU 0; the load on CPU 1")
    if "soak" in wanted:
        soaks = {t: soak(t, args.requests, args.connections) for t in TOOLKITS}
        print_soak(soaks, args.connections)
    if "upload" in wanted:
        print_upload({t: upload(t, args.size) for t in TOOLKITS}, args.size)
    if "trickle" in wanted:
        print_trickle(args.trickle_size)


if __name__ == "__main__":
    main()
