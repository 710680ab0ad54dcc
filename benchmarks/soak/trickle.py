"""The trickle case, in process: a form body sent one byte per ASGI message, and the peak of
memory (tracemalloc) its parsing costs, with stellina's and with Starlette's Request."""

from __future__ import annotations

import asyncio
import importlib
import time
import tracemalloc
from typing import Any
from urllib.parse import urlencode

BOUNDARY = "soak-trickle-boundary"


def bodies(size: int) -> dict[str, tuple[str, bytes]]:
    """Bodies of about ``size`` bytes, each with its content type: a multipart form (two
    fields and a file) and an urlencoded form (two fields)."""
    third = size // 3
    parts = [
        (b'name="a"', b"x" * third),
        (b'name="b"', b"y" * third),
        (b'name="f"; filename="f.bin"\r\ncontent-type: application/octet-stream', b"\0" * third),
    ]
    multipart = b"".join(
        b"--%s\r\ncontent-disposition: form-data; %s\r\n\r\n%s\r\n" % (BOUNDARY.encode(), d, v)
        for d, v in parts
    )
    multipart += b"--%s--\r\n" % BOUNDARY.encode()
    urlencoded = urlencode({"a": "x" * (size // 2), "b": "y" * (size // 2)}).encode()
    return {
        "multipart": (f"multipart/form-data; boundary={BOUNDARY}", multipart),
        "urlencoded": ("application/x-www-form-urlencoded", urlencoded),
    }


async def _peak(package: str, content_type: str, body: bytes) -> tuple[int, int]:
    """The tracemalloc peak while ``package``'s Request parses ``body``, and its item count."""
    requests: Any = importlib.import_module(f"{package}.requests")
    importlib.import_module(f"{package}.formparsers")  # not counted: imported on first use
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", content_type.encode())],
        "query_string": b"",
    }
    position = 0

    async def receive() -> dict[str, Any]:
        nonlocal position
        position += 1
        chunk = body[position - 1 : position]
        return {"type": "http.request", "body": chunk, "more_body": position < len(body)}

    tracemalloc.start()
    try:
        form = await requests.Request(scope, receive).form()
        items = len(form.multi_items())
        peak = tracemalloc.get_traced_memory()[1]
        await form.close()
    finally:
        tracemalloc.stop()
    return peak, items


def measure(size: int) -> list[tuple[str, str, int, int, float]]:
    """(form kind, toolkit, body size, peak bytes, seconds) for each form kind and toolkit."""
    rows = []
    for kind, (content_type, body) in bodies(size).items():
        for package in ("stellina", "starlette"):
            started = time.perf_counter()
            peak, items = asyncio.run(_peak(package, content_type, body))
            elapsed = time.perf_counter() - started
            assert items == (3 if kind == "multipart" else 2), (package, kind, items)
            rows.append((kind, package, len(body), peak, elapsed))
    return rows
