"""End-to-end benchmark: uvicorn (httptools, one worker) serving bare, stellina and Starlette apps.

Each scenario starts a server pinned to CPU 0 and drives it from a separate load-generator process
pinned to CPU 1 (wrk for HTTP, ``ws_client.py`` for the WebSocket echo), only on 127.0.0.1, for a
fixed duration; every scenario is repeated, the implementations taking turns, and the median run
is reported.

    python benchmarks/e2e/run.py [--duration 5] [--repeat 3] [--only plaintext,json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/, shared helpers

from serving import free_port, pinned, start_uvicorn, stop

HERE = Path(__file__).resolve().parent

ROUTED_PATH = "/r29/123/items/abc"


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    impls: tuple[str, ...]
    middleware: bool = False
    websocket: bool = False


SCENARIOS = (
    Scenario("plaintext", "/plaintext", ("bare", "stellina", "starlette")),
    Scenario("json", "/json", ("bare", "stellina", "starlette")),
    Scenario("routed (120 routes)", ROUTED_PATH, ("stellina", "starlette")),
    Scenario("routed + middleware", ROUTED_PATH, ("stellina", "starlette"), middleware=True),
    Scenario("static 1 MiB", "/static/1mib.bin", ("stellina", "starlette")),
    Scenario("websocket echo", "/ws", ("stellina", "starlette"), websocket=True),
)


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float


_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, duration: float, connections: int) -> Result:
    output = subprocess.run(
        [*pinned(1), "wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {pct: float(v) * _UNITS[unit] for pct, v, unit in _LATENCY.findall(output)}
    return Result(rps, latency["50"], latency["99"])


def _ws(url: str, duration: float) -> Result:
    output = subprocess.run(
        [*pinned(1), sys.executable, str(HERE / "ws_client.py"), url, "--duration", str(duration)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    data = json.loads(output)
    return Result(data["rps"], data["p50_ms"], data["p99_ms"])


def run_once(scenario: Scenario, impl: str, args: argparse.Namespace, static: str) -> Result:
    port = free_port()
    env = {
        "E2E_FRAMEWORK": impl,
        "E2E_MIDDLEWARE": "1" if scenario.middleware else "0",
        "E2E_STATIC_DIR": static,
    }
    server = start_uvicorn(HERE, port, env, "--workers", "1")
    try:
        if scenario.websocket:
            return _ws(f"ws://127.0.0.1:{port}{scenario.path}", args.duration)
        return _wrk(f"http://127.0.0.1:{port}{scenario.path}", args.duration, args.connections)
    finally:
        stop(server)


def run_scenario(scenario: Scenario, args: argparse.Namespace, static: str) -> dict[str, Result]:
    """Each implementation's median run; the implementations take turns, run after run, so
    that a machine slowing down or speeding up meanwhile weighs on all of them alike."""
    runs: dict[str, list[Result]] = {impl: [] for impl in scenario.impls}
    for _ in range(args.repeat):
        for impl in scenario.impls:
            runs[impl].append(run_once(scenario, impl, args, static))
    return {
        impl: sorted(results, key=lambda r: r.rps)[len(results) // 2]
        for impl, results in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (median kept)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: install it with `apt-get install wrk` (Debian) and run again.")
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    print(f"uvicorn + httptools, 1 worker; server on CPU 0, load on CPU 1; "
          f"{args.duration:g}s x {args.repeat} runs, median; wrk -c{args.connections}")  # fmt: skip
    header = f"{'scenario':<22} {'impl':<10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
    with tempfile.TemporaryDirectory() as static:
        (Path(static) / "1mib.bin").write_bytes(os.urandom(1024 * 1024))
        print(header)
        summary = []
        for scenario in SCENARIOS:
            if wanted and not any(w in scenario.name for w in wanted):
                continue
            results = run_scenario(scenario, args, static)
            for impl, r in results.items():
                numbers = f"{r.rps:>10.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
                print(f"{scenario.name:<22} {impl:<10} {numbers}")
            ours = results["stellina"].rps
            ratios = [f"stellina/starlette {ours / results['starlette'].rps:.2f}x"]
            if "bare" in results:
                ratios.append(f"stellina/bare {ours / results['bare'].rps:.2f}")
            summary.append(f"{scenario.name:<22} " + ", ".join(ratios))
        print("\nthroughput ratios")
        print("\n".join(summary))


if __name__ == "__main__":
    main()
