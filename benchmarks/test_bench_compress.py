"""stellina-compress beside GZipMiddleware (ours, Starlette's), brotli-asgi, starlette-compress.

Every codec runs at stellina-compress's default level, and the peers are set to the same one:
zstd 3, brotli 4, gzip 6. Each case records the bytes on the wire in ``extra_info``
(``wire_bytes``, ``body_bytes``), and at the end of the module a table gives, per group, each
implementation's median time and wire bytes as ratios to stellina-compress's.

Implementation ids: ``stellina`` is stellina-compress; the conftest summary compares it with
the id containing ``starlette`` (starlette-compress, the peer of the same kind); the other
peers are spelled ``Stellina-GZip`` and ``Starlette-GZip`` so that the summary leaves them out
(the module's own table lists them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from benchlib import (
    BIG_JSON,
    HELLO,
    KIB,
    MIB,
    PROSE,
    TEXT_PLAIN,
    body_size,
    fixed_app,
    json_body,
    time_tiny_beside_big,
)

from stellina.types import ASGIApp, Message

LEVELS = {"zstd": 3, "br": 4, "gzip": 6}
PEERS = {
    "zstd": ("stellina", "starlette-compress"),
    "br": ("stellina", "starlette-compress", "brotli-asgi"),
    "gzip": ("stellina", "Stellina-GZip", "Starlette-GZip", "starlette-compress"),
}
SIZES = {"1KiB": KIB, "32KiB": 32 * KIB, "1MiB": MIB}


def text_body(size: int) -> bytes:
    return (PROSE * (size // len(PROSE) + 1))[:size]


BODIES = {
    f"{label} {kind}": (make(size), content_type)
    for label, size in SIZES.items()
    for kind, make, content_type in (
        ("text", text_body, TEXT_PLAIN),
        ("JSON", json_body, b"application/json"),
    )
}


def compressing(impl: str, app: ASGIApp) -> ASGIApp:
    """``app`` behind ``impl``'s compression middleware, at the levels of ``LEVELS``."""
    middleware: ASGIApp
    if impl == "bare":
        middleware = app
    elif impl == "stellina":
        from stellina.middleware.compress import CompressMiddleware

        middleware = CompressMiddleware(app)
    elif impl == "Stellina-GZip":
        from stellina.middleware.gzip import GZipMiddleware

        middleware = GZipMiddleware(app, compresslevel=LEVELS["gzip"])
    elif impl == "Starlette-GZip":
        from starlette.middleware.gzip import GZipMiddleware as StarletteGZip

        middleware = StarletteGZip(app, compresslevel=LEVELS["gzip"])
    elif impl == "starlette-compress":
        from starlette_compress import CompressMiddleware as StarletteCompress

        middleware = StarletteCompress(
            app, zstd_level=LEVELS["zstd"], brotli_quality=LEVELS["br"], gzip_level=LEVELS["gzip"]
        )
    else:
        from brotli_asgi import BrotliMiddleware

        middleware = BrotliMiddleware(app, quality=LEVELS["br"])
    return middleware


# group -> impl -> (median seconds, wire bytes)
RESULTS: dict[str, dict[str, tuple[float, int]]] = {}


def record(benchmark: Any, group: str, impl: str, messages: list[Message]) -> None:
    wire = body_size(messages)
    benchmark.extra_info["wire_bytes"] = wire
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None when benchmarks are disabled
        RESULTS.setdefault(group, {})[impl] = (stats.stats.median, wire)


@pytest.fixture(scope="module", autouse=True)
def ratio_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module: each implementation's median time and wire bytes over stellina's."""
    yield
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if reporter is None or capture is None or not RESULTS:
        return
    with capture.global_and_fixture_disabled():
        write = reporter.write_line
        write("")
        write("stellina-compress: median time and wire bytes of each peer over stellina-compress's")
        write("(time > 1.00: the peer is slower; bytes > 1.00: the peer sends more)")
        write(f"{'group':<40} {'impl':<20} {'median µs':>11} {'bytes':>9} {'time':>6} {'bytes':>6}")
        for group, results in sorted(RESULTS.items()):
            ours = results.get("stellina")
            for impl, (median, wire) in results.items():
                time_ratio = f"{median / ours[0]:.2f}" if ours else "-"
                byte_ratio = f"{wire / ours[1]:.2f}" if ours and ours[1] else "-"
                line = f"{group:<40} {impl:<20} {median * 1e6:>11.1f} {wire:>9}"
                write(f"{line} {time_ratio:>6} {byte_ratio:>6}")


CASES = [(codec, body, impl) for codec in PEERS for body in BODIES for impl in PEERS[codec]]


@pytest.mark.parametrize(
    ("codec", "body", "impl"), CASES, ids=[f"{c}-{b}-{i}" for c, b, i in CASES]
)
def test_compress(
    benchmark: Any, driver: Any, make_scope: Any, codec: str, body: str, impl: str
) -> None:
    """One response of a body, compressed with ``codec``: time and bytes on the wire."""
    group = f"compress: {codec} {body}"
    benchmark.group = group
    payload, content_type = BODIES[body]
    app = compressing(impl, fixed_app(payload, content_type))
    scope = make_scope(headers=[(b"accept-encoding", codec.encode())])
    messages = benchmark(driver.call, app, scope)
    assert dict(messages[0]["headers"])[b"content-encoding"] == codec.encode()
    benchmark.extra_info["body_bytes"] = len(payload)
    record(benchmark, group, impl, messages)


RESPONSIVENESS = [(codec, impl) for codec in PEERS for impl in ("bare", *PEERS[codec])]


@pytest.mark.parametrize(
    ("codec", "impl"), RESPONSIVENESS, ids=[f"{c}-{i}" for c, i in RESPONSIVENESS]
)
def test_loop_responsiveness(
    benchmark: Any, driver: Any, make_scope: Any, codec: str, impl: str
) -> None:
    """The latency of a tiny request while a 10 MiB response compresses (bare: sent as is)."""
    benchmark.group = f"compress: {codec}, tiny request while 10 MiB compresses"
    big_app = compressing(impl, fixed_app(BIG_JSON, b"application/json"))
    tiny = compressing(impl, HELLO)
    scope = make_scope(headers=[(b"accept-encoding", codec.encode())])
    time_tiny_beside_big(benchmark, driver.loop, big_app, tiny, scope)
