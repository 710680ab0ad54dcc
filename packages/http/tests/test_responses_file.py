"""FileResponse: headers from stat, chunked reads, HEAD, pathsend, errors and Range requests."""

from __future__ import annotations

import hashlib
import os
import re
from email.utils import formatdate
from pathlib import Path

import pytest
from stellina_testing import Recorder, http_scope

from stellina.background import BackgroundTask
from stellina.responses import FileResponse
from stellina.types import Message

KIB = 1024
CONTENT = bytes(range(256)) * 800  # 200 KiB: four 64 KiB reads


async def call(
    response: FileResponse,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    pathsend: bool = False,
) -> list[Message]:
    scope = http_scope(
        method=method,
        headers=[(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        extensions={"http.response.pathsend": {}} if pathsend else {},
    )
    return await Recorder().run(response, scope)


def body_of(sent: list[Message]) -> bytes:
    assert all(message["type"] == "http.response.body" for message in sent[1:])
    assert [message.get("more_body", False) for message in sent[1:]] == [True] * (len(sent) - 2) + [
        False
    ]
    return b"".join(message["body"] for message in sent[1:])


def header_dict(sent: list[Message]) -> dict[bytes, bytes]:
    headers = dict(sent[0]["headers"])
    assert len(headers) == len(sent[0]["headers"])
    return headers


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.txt"
    path.write_bytes(CONTENT)
    return path


def expected_etag(path: Path) -> str:
    result = os.stat(path)
    digest = hashlib.md5(f"{result.st_mtime}-{result.st_size}".encode()).hexdigest()
    return f'"{digest}"'


# Whole files


@pytest.mark.anyio
async def test_whole_file_headers_and_chunks(data_file: Path) -> None:
    events: list[str] = []

    async def task() -> None:
        events.append("ran")

    sent = await call(FileResponse(data_file, background=BackgroundTask(task)))
    result = os.stat(data_file)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 200
    assert sent[0]["headers"] == [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"accept-ranges", b"bytes"),
        (b"content-length", str(len(CONTENT)).encode()),
        (b"last-modified", formatdate(result.st_mtime, usegmt=True).encode()),
        (b"etag", expected_etag(data_file).encode()),
    ]
    assert [len(message["body"]) for message in sent[1:]] == [64 * KIB] * 3 + [8 * KIB]
    assert body_of(sent) == CONTENT
    assert events == ["ran"]


@pytest.mark.anyio
@pytest.mark.parametrize("size", [0, 1, 64 * KIB, 128 * KIB, 1000 * KIB + 3])
async def test_sizes(tmp_path: Path, size: int) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(os.urandom(size))
    sent = await call(FileResponse(path))
    assert body_of(sent) == path.read_bytes()
    assert header_dict(sent)[b"content-type"] == b"application/octet-stream"
    assert header_dict(sent)[b"content-length"] == str(size).encode()


@pytest.mark.anyio
@pytest.mark.parametrize("value", [None, "bytes=0-1,100-200"])
async def test_file_shorter_than_its_stat_result_is_an_error(
    data_file: Path, value: str | None
) -> None:
    stale = os.stat(data_file)
    data_file.write_bytes(b"short")
    headers = {} if value is None else {"range": value}
    message = f"File at path {data_file} is shorter than expected."
    with pytest.raises(RuntimeError, match=re.escape(message)):
        await call(FileResponse(data_file, stat_result=stale), headers=headers)


@pytest.mark.anyio
async def test_file_longer_than_its_stat_result_is_cut_to_content_length(data_file: Path) -> None:
    stale = os.stat(data_file)
    data_file.write_bytes(CONTENT + b"appended")
    sent = await call(FileResponse(data_file, stat_result=stale))
    assert body_of(sent) == CONTENT


@pytest.mark.parametrize(
    ("filename", "media_type", "expected"),
    [
        (None, None, "text/plain; charset=utf-8"),
        ("page.html", None, "text/html; charset=utf-8"),
        ("data.json", None, "application/json"),
        ("archive.unknownext", None, "application/octet-stream"),
        ("page.html", "image/png", "image/png"),
    ],
)
def test_media_type_is_guessed_from_filename_then_path(
    data_file: Path, filename: str | None, media_type: str | None, expected: str
) -> None:
    response = FileResponse(data_file, filename=filename, media_type=media_type)
    assert response.headers["content-type"] == expected


def test_media_type_of_path_without_extension(tmp_path: Path) -> None:
    assert FileResponse(tmp_path / "noext").media_type == "application/octet-stream"
    assert FileResponse(str(tmp_path / "x.png")).media_type == "image/png"


@pytest.mark.parametrize(
    ("filename", "disposition_type", "expected"),
    [
        ("report.pdf", "attachment", 'attachment; filename="report.pdf"'),
        ("report.pdf", "inline", 'inline; filename="report.pdf"'),
        ("résumé.pdf", "attachment", "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"),
        ("my file.txt", "attachment", "attachment; filename*=utf-8''my%20file.txt"),
        ('a".txt', "attachment", "attachment; filename*=utf-8''a%22.txt"),
        ("evil\r\nX: 1.txt", "attachment", "attachment; filename*=utf-8''evil%0D%0AX%3A%201.txt"),
    ],
)
def test_content_disposition(
    data_file: Path, filename: str, disposition_type: str, expected: str
) -> None:
    response = FileResponse(data_file, filename=filename, content_disposition_type=disposition_type)
    assert response.headers["content-disposition"] == expected


def test_given_headers_are_kept(data_file: Path) -> None:
    response = FileResponse(
        data_file,
        headers={"Accept-Ranges": "none", "ETag": '"mine"', "content-disposition": "inline"},
        filename="x.txt",
        stat_result=os.stat(data_file),
    )
    assert response.headers["accept-ranges"] == "none"
    assert response.headers["etag"] == '"mine"'
    assert response.headers["content-disposition"] == "inline"
    assert response.headers["content-length"] == str(len(CONTENT))


def test_stat_result_sets_headers_at_once(data_file: Path) -> None:
    response = FileResponse(data_file, stat_result=os.stat(data_file))
    assert response.headers["etag"] == expected_etag(data_file)


def test_method_argument_is_gone(data_file: Path) -> None:
    with pytest.raises(TypeError):
        FileResponse(data_file, method="GET")  # type: ignore[call-arg]


@pytest.mark.anyio
async def test_head_sends_headers_only(data_file: Path) -> None:
    sent = await call(FileResponse(data_file), method="HEAD")
    assert header_dict(sent)[b"content-length"] == str(len(CONTENT)).encode()
    assert sent[1:] == [{"type": "http.response.body", "body": b"", "more_body": False}]


@pytest.mark.anyio
async def test_head_with_a_stat_result_does_not_open_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"abc")
    stat_result = os.stat(path)
    path.unlink()
    sent = await call(FileResponse(path, stat_result=stat_result), method="head")
    assert sent[1]["body"] == b""
    sent = await call(FileResponse(path, stat_result=stat_result), pathsend=True)
    assert sent[1]["type"] == "http.response.pathsend"


@pytest.mark.anyio
async def test_pathsend_is_used_when_offered(data_file: Path) -> None:
    events: list[str] = []

    async def task() -> None:
        events.append("ran")

    sent = await call(FileResponse(data_file, background=BackgroundTask(task)), pathsend=True)
    assert header_dict(sent)[b"content-length"] == str(len(CONTENT)).encode()
    assert sent[1:] == [{"type": "http.response.pathsend", "path": str(data_file)}]
    assert events == ["ran"]


@pytest.mark.anyio
async def test_pathsend_path_is_absolute(data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(data_file.parent)
    sent = await call(FileResponse("data.txt"), pathsend=True)
    assert sent[1]["path"] == str(data_file)
    assert os.path.isabs(sent[1]["path"])


@pytest.mark.anyio
async def test_pathsend_is_not_used_for_head_or_ranges(data_file: Path) -> None:
    sent = await call(FileResponse(data_file), method="HEAD", pathsend=True)
    assert sent[1:] == [{"type": "http.response.body", "body": b"", "more_body": False}]
    sent = await call(FileResponse(data_file), headers={"range": "bytes=0-1"}, pathsend=True)
    assert sent[0]["status"] == 206
    assert body_of(sent) == CONTENT[:2]


@pytest.mark.anyio
async def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.txt"
    with pytest.raises(
        RuntimeError, match=f"^File at path {re.escape(str(path))} does not exist.$"
    ):
        await call(FileResponse(path))


@pytest.mark.anyio
async def test_directory(tmp_path: Path) -> None:
    with pytest.raises(
        RuntimeError, match=f"^File at path {re.escape(str(tmp_path))} is not a file.$"
    ):
        await call(FileResponse(tmp_path))


@pytest.mark.anyio
async def test_same_response_serves_different_ranges(data_file: Path) -> None:
    response = FileResponse(data_file)
    first = await call(response, headers={"range": "bytes=0-9"})
    second = await call(response, headers={"range": "bytes=0-9,20-29"})
    whole = await call(response)
    assert body_of(first) == CONTENT[:10]
    assert header_dict(second)[b"content-type"].startswith(b"multipart/byteranges")
    assert whole[0]["status"] == 200
    assert body_of(whole) == CONTENT
    assert b"content-range" not in header_dict(whole)
    assert header_dict(whole)[b"content-type"] == b"text/plain; charset=utf-8"


# Ranges


async def ranged(
    path: Path, value: str, method: str = "GET", **headers: str
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent = await call(FileResponse(path), method=method, headers={"range": value, **headers})
    return sent[0]["status"], header_dict(sent), body_of(sent)


SIZE = len(CONTENT)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=0-0", 0, 0),
        ("bytes=100-", 100, SIZE - 1),
        ("bytes=-5", SIZE - 5, SIZE - 1),
        ("bytes=-999999999", 0, SIZE - 1),
        ("bytes=10-99999999", 10, SIZE - 1),
        ("bytes=70000-200000", 70000, 200000),
        ("bytes=0-99999999999999999999999999999999", 0, SIZE - 1),
        (" BYTES = 5 - 7 ", 5, 7),
        ("bytes=abc,3-4,-", 3, 4),
        ("bytes=0-4,2-9", 0, 9),
        ("bytes=5-9,0-4", 0, 9),
        ("bytes=0-1,0-1,0-1,0-1", 0, 1),
        ("bytes=10-20,0-100,50-60", 0, 100),
    ],
)
async def test_single_range(data_file: Path, value: str, start: int, end: int) -> None:
    status, headers, body = await ranged(data_file, value)
    assert status == 206
    assert headers[b"content-range"] == f"bytes {start}-{end}/{SIZE}".encode()
    assert headers[b"content-length"] == str(end - start + 1).encode()
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert body == CONTENT[start : end + 1]


@pytest.mark.anyio
async def test_single_range_header_order(data_file: Path) -> None:
    sent = await call(FileResponse(data_file), headers={"range": "bytes=1-2"})
    assert [name for name, _ in sent[0]["headers"]] == [
        b"content-type",
        b"accept-ranges",
        b"content-length",
        b"last-modified",
        b"etag",
        b"content-range",
    ]


def parse_multipart(headers: dict[bytes, bytes], body: bytes) -> list[tuple[bytes, bytes, bytes]]:
    match = re.fullmatch(
        rb"multipart/byteranges; boundary=([0-9a-f]{26})", headers[b"content-type"]
    )
    assert match is not None
    boundary = match.group(1)
    assert int(headers[b"content-length"]) == len(body)
    assert b"content-range" not in headers
    assert body.endswith(b"\r\n--" + boundary + b"--")
    parts = body[: -len(b"--" + boundary + b"--")].split(b"--" + boundary + b"\r\n")
    assert parts[0] == b""
    result = []
    for part in parts[1:]:
        head, separator, data = part.partition(b"\r\n\r\n")
        assert separator and data.endswith(b"\r\n")
        content_type, content_range = head.split(b"\r\n")
        result.append((content_type, content_range, data[:-2]))
    return result


@pytest.mark.anyio
async def test_multiple_ranges(data_file: Path) -> None:
    status, headers, body = await ranged(data_file, "bytes=100-109, 0-4 ,-3,200000-")
    assert status == 206
    assert parse_multipart(headers, body) == [
        (
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Range: bytes 0-4/" + b"%d" % SIZE,
            CONTENT[:5],
        ),
        (
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Range: bytes 100-109/%d" % SIZE,
            CONTENT[100:110],
        ),
        (
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Range: bytes 200000-%d/%d" % (SIZE - 1, SIZE),
            CONTENT[200000:],
        ),
    ]


@pytest.mark.anyio
async def test_multiple_ranges_spanning_several_reads(data_file: Path) -> None:
    _, headers, body = await ranged(data_file, "bytes=0-70000,140000-204799")
    parts = parse_multipart(headers, body)
    assert [data for _, _, data in parts] == [CONTENT[:70001], CONTENT[140000:]]


@pytest.mark.anyio
async def test_boundary_is_random(data_file: Path) -> None:
    _, first, _ = await ranged(data_file, "bytes=0-1,5-6")
    _, second, _ = await ranged(data_file, "bytes=0-1,5-6")
    assert first[b"content-type"] != second[b"content-type"]


@pytest.mark.anyio
async def test_head_with_ranges_sends_headers_only(data_file: Path) -> None:
    status, headers, body = await ranged(data_file, "bytes=0-9", method="HEAD")
    assert (status, headers[b"content-range"], body) == (206, b"bytes 0-9/%d" % SIZE, b"")
    status, headers, body = await ranged(data_file, "bytes=0-9,20-29", method="HEAD")
    assert status == 206 and body == b""
    assert int(headers[b"content-length"]) > 20


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bytes", "Malformed range header."),
        ("", "Malformed range header."),
        ("items=0-1", "Only support bytes range"),
        ("bytes=", "Range header: range must be requested"),
        ("bytes=abc", "Range header: range must be requested"),
        ("bytes=-", "Range header: range must be requested"),
        ("bytes=,,,", "Range header: range must be requested"),
        ("bytes=+1-2", "Range header: range must be requested"),
        ("bytes=1_0-20", "Range header: range must be requested"),
        ("bytes=\u0663-4", "Range header: range must be requested"),
        ("bytes=--5", "Range header: range must be requested"),
        ("bytes=1-2-3", "Range header: range must be requested"),
        ("bytes=5-4", "Range header: start must be less than end"),
        ("bytes=10-5", "Range header: start must be less than end"),
        ("bytes=0-1,10-5", "Range header: start must be less than end"),
    ],
)
async def test_malformed_ranges_get_400(data_file: Path, value: str, message: str) -> None:
    events: list[str] = []
    response = FileResponse(data_file, background=BackgroundTask(events.append, "ran"))
    sent = await call(response, headers={"range": value})
    assert sent[0]["status"] == 400
    assert header_dict(sent)[b"content-type"] == b"text/plain; charset=utf-8"
    assert sent[1]["body"] == message.encode()
    assert events == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    [
        "bytes=204800-",
        "bytes=999999-1000000",
        "bytes=-0",
        "bytes=0-1,204800-204801",
        "bytes=" + "9" * 5000 + "-",
    ],
)
async def test_unsatisfiable_ranges_get_416(data_file: Path, value: str) -> None:
    sent = await call(FileResponse(data_file), headers={"range": value})
    assert sent[0]["status"] == 416
    assert sent[0]["headers"] == [
        (b"content-range", b"bytes */%d" % SIZE),
        (b"content-length", b"0"),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    assert sent[1]["body"] == b""


@pytest.mark.anyio
async def test_any_range_of_an_empty_file_is_unsatisfiable(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    for value in ("bytes=0-", "bytes=-1", "bytes=0-0"):
        sent = await call(FileResponse(path), headers={"range": value})
        assert sent[0]["status"] == 416
        assert dict(sent[0]["headers"])[b"content-range"] == b"bytes */0"


@pytest.mark.anyio
async def test_one_hundred_ranges_are_served(data_file: Path) -> None:
    value = "bytes=" + ",".join(f"{index * 10}-{index * 10 + 1}" for index in range(100))
    status, headers, body = await ranged(data_file, value)
    assert status == 206
    parts = parse_multipart(headers, body)
    assert len(parts) == 100
    assert parts[99][2] == CONTENT[990:992]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    [
        "bytes=" + ",".join(f"{index * 10}-{index * 10 + 1}" for index in range(101)),
        "bytes=" + "0-0," * 100_000,
        "bytes=" + "-1," * 100_000 + "5-4",
    ],
)
async def test_more_than_one_hundred_ranges_get_the_whole_file(data_file: Path, value: str) -> None:
    status, headers, body = await ranged(data_file, value)
    assert status == 200
    assert b"content-range" not in headers
    assert body == CONTENT


@pytest.mark.anyio
async def test_many_overlapping_ranges_within_the_limit_merge(data_file: Path) -> None:
    status, headers, body = await ranged(data_file, "bytes=" + ",".join(["0-99"] * 100))
    assert (status, headers[b"content-range"], body) == (
        206,
        b"bytes 0-99/%d" % SIZE,
        CONTENT[:100],
    )


@pytest.mark.anyio
async def test_long_garbage_range_header_is_rejected(data_file: Path) -> None:
    status, _, body = await ranged(data_file, "bytes=" + "x" * 1_000_000)
    assert (status, body) == (400, b"Range header: range must be requested")


@pytest.mark.anyio
async def test_if_range(data_file: Path) -> None:
    etag = expected_etag(data_file)
    modified = formatdate(os.stat(data_file).st_mtime, usegmt=True)
    for validator in (etag, modified):
        status, _, body = await ranged(data_file, "bytes=0-1", **{"if-range": validator})
        assert (status, body) == (206, CONTENT[:2])
    for stale in ('"other"', "Thu, 01 Jan 1970 00:00:00 GMT", "", f"W/{etag}"):
        status, headers, body = await ranged(data_file, "bytes=0-1", **{"if-range": stale})
        assert (status, body) == (200, CONTENT)
        assert b"content-range" not in headers
    sent = await call(FileResponse(data_file), headers={"if-range": etag})
    assert sent[0]["status"] == 200


@pytest.mark.anyio
async def test_stale_if_range_ignores_even_a_malformed_range(data_file: Path) -> None:
    status, _, body = await ranged(data_file, "bogus", **{"if-range": '"stale"'})
    assert (status, body) == (200, CONTENT)


@pytest.mark.anyio
async def test_first_range_header_wins(data_file: Path) -> None:
    scope = http_scope(headers=[(b"range", b"bytes=0-0"), (b"range", b"bytes=1-1")])
    sent = await Recorder().run(FileResponse(data_file), scope)
    assert body_of(sent) == CONTENT[:1]


def test_header_injection_through_arguments_is_refused(data_file: Path) -> None:
    with pytest.raises(ValueError):
        FileResponse(data_file, filename="a.txt", content_disposition_type="inline\r\nX-Evil: 1")
    with pytest.raises(ValueError):
        FileResponse(data_file, headers={"x-a": "1\r\nX-Evil: 1"})
    with pytest.raises(ValueError):
        FileResponse(data_file, media_type="text/plain\nX-Evil: 1")
