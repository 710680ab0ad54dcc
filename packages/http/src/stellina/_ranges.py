"""Byte ranges: the Range header parsed in linear time, and multipart/byteranges framing."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["MalformedRangeHeader", "RangeNotSatisfiable", "byteranges_layout", "parse_ranges"]

Span = tuple[int, int]  # a half-open [start, end) slice of the file

# Positions with this many digits or more saturate: they lie beyond any file (and int() of
# thousands of digits is slow, or refused outright by Python's digit limit).
_SATURATE_DIGITS = 20
_FAR = 1 << 64


class MalformedRangeHeader(Exception):
    """A Range header that cannot be parsed (answered with 400 and ``content``)."""

    def __init__(self, content: str = "Malformed range header.") -> None:
        super().__init__(content)
        self.content = content


class RangeNotSatisfiable(Exception):
    """A Range header whose ranges all start past the end of the file (answered with 416)."""

    def __init__(self, max_size: int) -> None:
        super().__init__(max_size)
        self.max_size = max_size


def _position(text: str) -> int | None:
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return _FAR if len(text) >= _SATURATE_DIGITS else int(text)


def _span(spec: str, size: int) -> Span | None:
    """One ``first-last`` or ``-suffix`` spec as a span, end clamped to ``size``; None to skip."""
    first, dash, last = spec.partition("-")
    if not dash:
        return None
    if first.strip():
        start = _position(first)
        stop = _position(last) if last.strip() else size - 1
        if start is None or stop is None:
            return None
        return start, min(stop + 1, size)
    suffix = _position(last)
    return None if suffix is None else (max(size - suffix, 0), size)


def _coalesce(spans: list[Span]) -> list[Span]:
    """The spans sorted, overlapping or touching ones joined."""
    spans.sort()
    joined = [spans[0]]
    for start, end in spans[1:]:
        previous_start, previous_end = joined[-1]
        if start > previous_end:
            joined.append((start, end))
        elif end > previous_end:
            joined[-1] = (previous_start, end)
    return joined


def parse_ranges(value: str, size: int, limit: int) -> list[Span] | None:
    """The spans a Range header asks of a file of ``size`` bytes, sorted and coalesced.

    Specs that are not ranges (no dash, not numbers) are skipped. None when there are more than
    ``limit`` ranges (the header is then ignored); raises MalformedRangeHeader or
    RangeNotSatisfiable. Linear in the header's length.
    """
    unit, equals, specs = value.partition("=")
    if not equals:
        raise MalformedRangeHeader()
    if unit.strip().lower() != "bytes":
        raise MalformedRangeHeader("Only support bytes range")
    spans: list[Span] = []
    for spec in specs.split(","):
        span = _span(spec, size)
        if span is not None:
            if len(spans) == limit:
                return None
            spans.append(span)
    if not spans:
        raise MalformedRangeHeader("Range header: range must be requested")
    if any(start >= size for start, _ in spans):
        raise RangeNotSatisfiable(size)
    if any(start >= end for start, end in spans):
        raise MalformedRangeHeader("Range header: start must be less than end")
    return _coalesce(spans)


def byteranges_layout(
    spans: Sequence[Span], boundary: str, size: int, content_type: str
) -> tuple[int, Callable[[int, int], bytes]]:
    """The Content-Length of a multipart/byteranges body of ``spans``, and its part heads.

    The body is, for each span, its head (``part_head(start, end)``), its bytes and CRLF; then
    the closing delimiter ``--boundary--``.
    """
    before = f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes "
    before_bytes = before.encode("latin-1")
    after = f"/{size}\r\n\r\n".encode("latin-1")

    def part_head(start: int, end: int) -> bytes:
        return b"%s%d-%d%s" % (before_bytes, start, end - 1, after)

    # Each part: its head, its bytes, CRLF; then "--" boundary "--".
    length = len(boundary) + 4
    for start, end in spans:
        length += len(part_head(start, end)) + end - start + 2
    return length, part_head
