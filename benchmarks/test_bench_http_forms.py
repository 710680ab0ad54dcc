"""Parsing forms through Request.form(): urlencoded and multipart, against Starlette."""

from __future__ import annotations

from typing import Any

import pytest
from benchlib import CHUNK, MIB, PEERS, module, split

BOUNDARY = b"bench7f3c2e1d0b9"
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=" + BOUNDARY.decode()

MANY_FIELDS = b"&".join(b"field%d=value+%d%%21" % (i, i) for i in range(1000))
# One field whose value is 1 MiB, a quarter of it percent-escaped.
ONE_BIG_FIELD = b"blob=" + b"abc%2Fxyz%21" * (MIB // 12)
# One field whose value is 1 MiB of letters and digits: nothing to unescape. It reaches the
# default max_part_size (1 MiB), so its cases allow 2 MiB.
ONE_PLAIN_FIELD = b"blob=" + b"0123456789abcdef" * (MIB // 16)


def multipart_part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    extra = "\r\nContent-Type: application/octet-stream" if filename else ""
    head = f"--{BOUNDARY.decode()}\r\nContent-Disposition: {disposition}{extra}\r\n\r\n"
    return head.encode() + value + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--" + BOUNDARY + b"--\r\n"


BIG_FILE = multipart(
    multipart_part("title", b"report"),
    multipart_part("upload", bytes(range(256)) * (10 * MIB // 256), filename="big.bin"),
)
# Exactly as many fields as form() allows by default (max_fields=1000).
FIELD_LIMIT = multipart(*(multipart_part(f"f{i}", b"v%d" % i) for i in range(1000)))


def build_app(impl: str, **limits: int) -> Any:
    request_class = module(impl, "requests").Request

    async def app(scope: Any, receive: Any, send: Any) -> None:
        async with request_class(scope, receive).form(**limits) as form:
            count = b"%d" % len(form.multi_items())
        headers = [(b"content-length", b"%d" % len(count))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": count})

    return app


CASES = {
    "urlencoded, 1000 fields": (URLENCODED, MANY_FIELDS, CHUNK, {}, b"1000"),
    "urlencoded, 1000 fields, max_part_size": (
        URLENCODED,
        MANY_FIELDS,
        CHUNK,
        {"max_part_size": 64 * 1024},
        b"1000",
    ),
    "urlencoded, one 1 MiB field, one message": (URLENCODED, ONE_BIG_FIELD, 2 * MIB, {}, b"1"),
    "urlencoded, one 1 MiB field, 64 KiB chunks": (URLENCODED, ONE_BIG_FIELD, CHUNK, {}, b"1"),
    "urlencoded, one 1 MiB field, max_part_size": (
        URLENCODED,
        ONE_BIG_FIELD,
        CHUNK,
        {"max_part_size": 2 * MIB},
        b"1",
    ),
    "urlencoded, one 1 MiB plain field, one message": (
        URLENCODED,
        ONE_PLAIN_FIELD,
        2 * MIB,
        {"max_part_size": 2 * MIB},
        b"1",
    ),
    "urlencoded, one 1 MiB plain field, 64 KiB chunks": (
        URLENCODED,
        ONE_PLAIN_FIELD,
        CHUNK,
        {"max_part_size": 2 * MIB},
        b"1",
    ),
    "multipart, one 10 MiB file": (MULTIPART, BIG_FILE, CHUNK, {}, b"2"),
    "multipart, 1000 fields (the max_fields limit)": (MULTIPART, FIELD_LIMIT, CHUNK, {}, b"1000"),
}


@pytest.mark.parametrize("impl", PEERS)
@pytest.mark.parametrize("case", list(CASES))
def test_form(benchmark: Any, driver: Any, make_scope: Any, case: str, impl: str) -> None:
    content_type, body, chunk, limits, expected = CASES[case]
    benchmark.group = f"forms: {case}"
    app = build_app(impl, **limits)
    scope = make_scope("/", method="POST", headers=[(b"content-type", content_type.encode())])
    messages = benchmark(driver.call, app, scope, split(body, chunk))
    assert messages[-1]["body"] == expected
