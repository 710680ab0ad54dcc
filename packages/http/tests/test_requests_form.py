"""Request.form(): urlencoded and multipart bodies, limits, closing files, missing multipart."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from stellina_testing import Recorder, http_scope

from stellina.datastructures import FormData, UploadFile
from stellina.exceptions import HTTPException
from stellina.formparsers import MultiPartException
from stellina.requests import Request

BOUNDARY = "----stellinaboundary"


def make_request(content_type: str | None, body: bytes, **scope: Any) -> Request:
    headers = [(b"host", b"testserver")]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    return Request(
        http_scope(method="POST", headers=headers, **scope), Recorder.with_body(body).receive
    )


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: text/plain\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.mark.anyio
async def test_urlencoded_form_awaited_and_cached() -> None:
    request = make_request("application/x-www-form-urlencoded", b"a=1&b=two+words&a=3&e=")
    form = await request.form()
    assert isinstance(form, FormData)
    assert form.getlist("a") == ["1", "3"]
    assert form["b"] == "two words"
    assert form["e"] == ""
    assert await request.form() is form


@pytest.mark.anyio
async def test_content_type_matching_ignores_case_and_parameters() -> None:
    request = make_request("Application/X-WWW-Form-URLEncoded; charset=utf-8", b"k=v")
    assert (await request.form())["k"] == "v"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type", [None, "application/json", "text/plain", "multipart/mixed"]
)
async def test_other_content_types_give_empty_form(content_type: str | None) -> None:
    request = make_request(content_type, b"a=1")
    form = await request.form()
    assert isinstance(form, FormData)
    assert len(form) == 0


@pytest.mark.anyio
async def test_multipart_form_as_context_manager_closes_files() -> None:
    body = multipart(("field", None, b"value"), ("upload", "hello.txt", b"file contents"))
    request = make_request(MULTIPART, body)
    async with request.form() as form:
        assert form["field"] == "value"
        upload = form["upload"]
        assert isinstance(upload, UploadFile)
        assert upload.filename == "hello.txt"
        assert await upload.read() == b"file contents"
        assert not upload.file.closed
    assert upload.file.closed


@pytest.mark.anyio
async def test_request_close_closes_form_files() -> None:
    request = make_request(MULTIPART, multipart(("upload", "a.txt", b"abc")))
    form = await request.form()
    upload = form["upload"]
    assert isinstance(upload, UploadFile)
    await request.close()
    assert upload.file.closed


@pytest.mark.anyio
async def test_form_after_body_uses_cached_body() -> None:
    request = make_request("application/x-www-form-urlencoded", b"x=1")
    assert await request.body() == b"x=1"
    assert (await request.form())["x"] == "1"


@pytest.mark.anyio
async def test_form_after_stream_consumed() -> None:
    request = make_request("application/x-www-form-urlencoded", b"x=1")
    async for _ in request.stream():
        pass
    with pytest.raises(RuntimeError, match="^Stream consumed$"):
        await request.form()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("parts", "limits", "detail"),
    [
        (
            [("a", "1.txt", b"1"), ("b", "2.txt", b"2")],
            {"max_files": 1},
            "Too many files. Maximum number of files is 1.",
        ),
        ([("a", None, b"x" * 2048)], {"max_part_size": 1024}, "Part exceeded maximum size of 1KB."),
    ],
    ids=["too-many-files", "part-too-large"],
)
async def test_limits_inside_app_are_http_400(
    parts: list[tuple[str, str | None, bytes]], limits: dict[str, int], detail: str
) -> None:
    request = make_request(MULTIPART, multipart(*parts), app=object())
    with pytest.raises(HTTPException) as info:
        await request.form(**limits)
    assert info.value.status_code == 400
    assert info.value.detail == detail


@pytest.mark.anyio
async def test_too_many_fields_outside_app_reraises() -> None:
    body = multipart(("a", None, b"1"), ("b", None, b"2"))
    request = make_request(MULTIPART, body)
    with pytest.raises(MultiPartException) as info:
        await request.form(max_fields=1)
    assert info.value.message == "Too many fields. Maximum number of fields is 1."


@pytest.mark.anyio
async def test_missing_boundary_is_400_inside_app() -> None:
    request = make_request("multipart/form-data", b"--x\r\n", app=object())
    with pytest.raises(HTTPException) as info:
        await request.form()
    assert info.value.status_code == 400


@pytest.mark.anyio
async def test_missing_python_multipart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "python_multipart", None)
    request = make_request("application/x-www-form-urlencoded", b"a=1")
    with pytest.raises(
        AssertionError,
        match="^The `python-multipart` library must be installed to use form parsing.$",
    ):
        await request.form()


@pytest.mark.anyio
async def test_spool_max_size_moves_uploads_to_disk() -> None:
    body = multipart(("small", "s.txt", b"x" * 10), ("big", "b.txt", b"y" * 5000))
    request = make_request(MULTIPART, body)
    async with request.form(spool_max_size=1024) as form:
        small, big = form["small"], form["big"]
        assert isinstance(small, UploadFile)
        assert isinstance(big, UploadFile)
        assert small.file._rolled is False  # type: ignore[attr-defined]
        assert big.file._rolled is True  # type: ignore[attr-defined]
        assert await big.read() == b"y" * 5000
