"""Parsing forms through Request.form(): urlencoded and multipart, against Starlette."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

IMPLS = ("stellina", "starlette")
KIB = 1024
MIB = 1024 * KIB
CHUNK = 64 * KIB
BOUNDARY = b"bench7f3c2e1d0b9"


def split(body: bytes) -> list[bytes]:
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]


URLENCODED = b"&".join(b"field%d=value+%d%%21" % (i, i) for i in range(1000))
MULTIPART = (
    b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\nreport\r\n'
    b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
    + bytes(range(256)) * (10 * MIB // 256)
    + b"\r\n--"
    + BOUNDARY
    + b"--\r\n"
)


def build_app(impl: str) -> Any:
    requests = importlib.import_module(f"{impl}.requests")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = requests.Request(scope, receive)
        async with request.form() as form:
            count = b"%d" % len(form.multi_items())
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(count))],
            }
        )
        await send({"type": "http.response.body", "body": count})

    return app


@pytest.mark.parametrize("impl", IMPLS)
def test_form_urlencoded_1000_fields(
    benchmark: Any, driver: Any, make_scope: Any, impl: str
) -> None:
    benchmark.group = "forms: urlencoded, 1000 fields"
    app = build_app(impl)
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    scope = make_scope("/", method="POST", headers=headers)
    chunks = split(URLENCODED)
    messages = driver.call(app, scope, chunks)
    assert messages[-1]["body"] == b"1000"
    benchmark(driver.call, app, scope, chunks)


@pytest.mark.parametrize("impl", IMPLS)
def test_form_multipart_10mib_file(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "forms: multipart, one 10 MiB file"
    app = build_app(impl)
    headers = [(b"content-type", b"multipart/form-data; boundary=" + BOUNDARY)]
    scope = make_scope("/", method="POST", headers=headers)
    chunks = split(MULTIPART)
    messages = driver.call(app, scope, chunks)
    assert messages[-1]["body"] == b"2"
    benchmark(driver.call, app, scope, chunks)
