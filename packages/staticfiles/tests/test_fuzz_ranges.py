"""Property tests of Range and If-Range against FileResponse and StaticFiles.

Any Range and If-Range value gets 200, 206, 400 or 416 with a body of the declared length; a
206 holds exactly the requested bytes (one part, or multipart/byteranges parts covering what
was asked); an If-Range that is not the file's validator gets the whole file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, header_text
from stellina_testing import Recorder, http_scope

from stellina.datastructures import Headers
from stellina.responses import FileResponse
from stellina.staticfiles import StaticFiles
from stellina.types import ASGIApp

pytestmark = pytest.mark.fuzz

contents = st.binary(min_size=1, max_size=300)


def _number(size: int) -> st.SearchStrategy[str]:
    return st.integers(0, size + 3).map(str) | st.sampled_from(("", " 1", "0x1", "9" * 30, "-1"))


@st.composite
def range_values(draw: st.DrawFn, size: int) -> str:
    """A Range header value: well-formed specs, odd numbers, stray separators and junk."""
    unit = draw(st.sampled_from(("bytes=", "bytes=", "Bytes =", "bytes", "items=", "=", "")))
    spec = st.one_of(
        st.builds("{}-{}".format, _number(size), _number(size)),
        _number(size).map("-{}".format),
        _number(size).map("{}-".format),
        header_text(8),
    )
    separator = draw(st.sampled_from((",", ", ", ",,", " ,")))
    return unit + separator.join(draw(st.lists(spec, max_size=6)))


def _app(target: str, tmp_path: Path, content: bytes) -> tuple[ASGIApp, str]:
    """The app serving ``content`` (a FileResponse or StaticFiles) and the path to ask."""
    name = hashlib.sha256(content).hexdigest() + ".bin"
    path = tmp_path / name
    if not path.exists():
        path.write_bytes(content)
    if target == "static":
        return StaticFiles(directory=tmp_path), "/" + name
    return FileResponse(path, media_type="application/octet-stream"), "/"


def _get(app: ASGIApp, path: str, headers: list[tuple[str, str]], backend: str) -> Recorder:
    raw = [(b"host", b"testserver")] + [(k.encode(), v.encode("latin-1")) for k, v in headers]
    return call(app, http_scope(path=path, raw_path=path.encode(), headers=raw), [b""], backend)


def _content_range(value: str, size: int, length: int) -> int:
    """The first offset of a ``bytes first-last/size`` value, checked against the part."""
    span, _, total = value.removeprefix("bytes ").partition("/")
    first, _, last = span.partition("-")
    assert (int(total), int(last) - int(first) + 1) == (size, length)
    return int(first)


def _parts(recorder: Recorder, size: int) -> list[tuple[int, bytes]]:
    """The (start, bytes) of each part of a 206, checked against its Content-Range."""
    headers = Headers(raw=recorder.headers)
    body = recorder.body
    content_type = headers["content-type"]
    if not content_type.startswith("multipart/byteranges"):
        return [(_content_range(headers["content-range"], size, len(body)), body)]
    boundary = content_type.partition("boundary=")[2].encode()
    pieces = body.split(b"--" + boundary)
    assert (pieces[0], pieces[-1]) == (b"", b"--")
    parts = []
    for piece in pieces[1:-1]:
        head, _, data = piece.partition(b"\r\n\r\n")
        assert data.endswith(b"\r\n")
        data = data[:-2]
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n") if line)
        value = fields[b"Content-Range"].decode("latin-1")
        parts.append((_content_range(value, size, len(data)), data))
    return parts


def _check_answer(recorder: Recorder, content: bytes) -> list[tuple[int, bytes]]:
    """The answer is well formed; the parts of a 206, else ``[]``."""
    assert recorder.status in (200, 206, 400, 416), recorder.status
    headers = Headers(raw=recorder.headers)
    assert int(headers["content-length"]) == len(recorder.body)
    if recorder.status == 200:
        assert recorder.body == content
    if recorder.status == 416:
        assert headers["content-range"] == f"bytes */{len(content)}"
    if recorder.status != 206:
        return []
    parts = _parts(recorder, len(content))
    for start, data in parts:
        assert content[start : start + len(data)] == data
    starts = [start for start, _ in parts]
    assert starts == sorted(starts)
    return parts


targets = st.sampled_from(("file", "static"))


@BACKEND_SETTINGS
@given(content=contents, data=st.data(), target=targets)
def test_any_range_header_gets_a_well_formed_answer(
    anyio_backend: str, tmp_path: Path, content: bytes, data: st.DataObject, target: str
) -> None:
    app, path = _app(target, tmp_path, content)
    value = data.draw(range_values(len(content)))
    _check_answer(_get(app, path, [("range", value)], anyio_backend), content)


@st.composite
def good_ranges(draw: st.DrawFn, size: int) -> tuple[str, set[int]]:
    """A satisfiable Range header of well-formed specs, and the offsets it asks for."""
    specs = []
    wanted: set[int] = set()
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(("closed", "open", "suffix")))
        first = draw(st.integers(0, size - 1))
        if kind == "closed":
            last = draw(st.integers(first, size + 5))
            specs.append(f"{first}-{last}")
            wanted.update(range(first, min(last + 1, size)))
        elif kind == "open":
            specs.append(f"{first}-")
            wanted.update(range(first, size))
        else:
            suffix = draw(st.integers(1, size + 5))
            specs.append(f"-{suffix}")
            wanted.update(range(max(size - suffix, 0), size))
    return "bytes=" + ",".join(specs), wanted


@BACKEND_SETTINGS
@given(content=contents, data=st.data(), target=targets)
def test_a_satisfiable_range_gets_exactly_its_bytes(
    anyio_backend: str, tmp_path: Path, content: bytes, data: st.DataObject, target: str
) -> None:
    app, path = _app(target, tmp_path, content)
    value, wanted = data.draw(good_ranges(len(content)))
    recorder = _get(app, path, [("range", value)], anyio_backend)
    assert recorder.status == 206
    parts = _check_answer(recorder, content)
    sent = [start + i for start, data_ in parts for i in range(len(data_))]
    assert sorted(sent) == sorted(wanted)  # every byte asked for, once


@BACKEND_SETTINGS
@given(content=contents, data=st.data(), target=targets)
def test_if_range_gives_the_range_only_for_the_current_validator(
    anyio_backend: str, tmp_path: Path, content: bytes, data: st.DataObject, target: str
) -> None:
    app, path = _app(target, tmp_path, content)
    validators = Headers(raw=_get(app, path, [], anyio_backend).headers)
    etag, modified = validators["etag"], validators["last-modified"]
    if_range = data.draw(
        st.sampled_from((etag, modified, "W/" + etag, etag.strip('"'), modified + " ", "*"))
        | header_text(30)
    )
    value, _ = data.draw(good_ranges(len(content)))
    recorder = _get(app, path, [("range", value), ("if-range", if_range)], anyio_backend)
    _check_answer(recorder, content)
    assert recorder.status == (206 if if_range in (etag, modified) else 200)
