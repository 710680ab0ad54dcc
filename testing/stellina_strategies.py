"""Hypothesis strategies and drivers the fuzz tests share (unpublished).

The fuzz tests are sync ``@given`` tests that take the ``anyio_backend`` fixture and run one
ASGI call per example with `call`, on that backend. Their example counts come from the
hypothesis profiles of the root ``conftest.py`` ("ci" by default, "fuzz" for thousands).
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from stellina_testing import Recorder, http_scope

if TYPE_CHECKING:
    from stellina.types import ASGIApp, Message, Scope

__all__ = ["BACKEND_SETTINGS", "call", "chunked", "form_peak_memory", "header_text", "split_at"]

BACKEND_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
"""For a ``@given`` test taking ``anyio_backend``: the fixture is the same for every example."""


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (any order, repeats and out-of-range ones ignored)."""
    points = sorted({cut for cut in cuts if 0 < cut < len(data)})
    bounds = [0, *points, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


@st.composite
def _chunks(draw: st.DrawFn, data: bytes) -> list[bytes]:
    how = draw(st.sampled_from(("whole", "bytes", "cuts")))
    if how == "whole" or not data:
        return [data]
    if how == "bytes":
        return [data[i : i + 1] for i in range(len(data))]
    cuts = draw(st.lists(st.integers(1, max(len(data) - 1, 1)), max_size=16))
    return split_at(data, cuts)


def chunked(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """``data`` as the bodies of ASGI messages: whole, one byte each, or cut at random points."""
    return _chunks(data)


def header_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Any latin-1 text, as a server may hand a header value over (CR, LF and NUL included)."""
    return st.text(st.characters(max_codepoint=0xFF), max_size=max_size)


def call(app: ASGIApp, scope: Scope, chunks: Sequence[bytes], backend: str) -> Recorder:
    """Run one request through ``app`` on ``backend``, its body sent as ``chunks``.

    An HTTPException is answered as an application would; any other exception propagates.
    """
    recorder = Recorder.with_body(*chunks)
    anyio.run(recorder.answer, app, scope, backend=backend)
    return recorder


def form_peak_memory(body: bytes, content_type: str, backend: str) -> tuple[int, int]:
    """Tracemalloc's peak while Request.form() parses ``body`` sent one byte per message.

    Each message is made when received, so only what the parser keeps counts; returns the
    peak in bytes and the number of items of the form.
    """
    import stellina.formparsers  # noqa: F401  (imported on first use: not by the traced parse)
    from stellina.requests import Request

    headers = [(b"content-type", content_type.encode("latin-1"))]
    scope = http_scope(method="POST", headers=headers, app=object())
    position = 0

    async def receive() -> Message:
        nonlocal position
        position += 1
        chunk = body[position - 1 : position]
        return {"type": "http.request", "body": chunk, "more_body": position < len(body)}

    async def parse() -> tuple[int, int]:
        tracemalloc.start()
        try:
            async with Request(scope, receive).form() as form:
                items = len(form.multi_items())
                peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return peak, items

    return anyio.run(parse, backend=backend)
