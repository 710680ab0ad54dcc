"""WebSocket echo load: concurrent connections doing round trips for a fixed time.

Prints one JSON line: round trips per second and p50/p99 round-trip latency in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from websockets.asyncio.client import connect


async def _connection(url: str, until: float, latencies: list[float]) -> None:
    async with connect(url, compression=None) as websocket:
        payload = "x" * 32
        while (start := time.perf_counter()) < until:
            await websocket.send(payload)
            await websocket.recv()
            latencies.append(time.perf_counter() - start)


async def _main(url: str, connections: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    until = time.perf_counter() + duration
    await asyncio.gather(*(_connection(url, until, latencies) for _ in range(connections)))
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / duration,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_main(args.url, args.connections, args.duration))))
