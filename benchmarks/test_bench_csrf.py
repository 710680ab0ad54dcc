"""CSRFMiddleware against the bare app it wraps (no Starlette peer): what a check costs."""

from __future__ import annotations

from typing import Any

import pytest
from benchlib import CHUNK, KIB, MIB, fixed_app, split
from stellina_testing import read_body

from stellina.types import ASGIApp, Receive, Scope, Send

IMPLS = ("bare", "stellina")
SECRET = "benchmark-secret"
HELLO = fixed_app(b'{"hello": "world"}', b"application/json")


async def drain_then_hello(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    await HELLO(scope, receive, send)


def wrap(impl: str, app: ASGIApp) -> ASGIApp:
    if impl == "bare":
        return app
    from stellina.middleware.csrf import CSRFMiddleware

    return CSRFMiddleware(app, SECRET)


def token() -> bytes:
    """A token signed as the middleware signs them, for the cookie and the submission."""
    from stellina.middleware.csrf import CSRFMiddleware

    return bytes(CSRFMiddleware(HELLO, SECRET).signer.sign(b"T" * 43))


TOKEN = token()
COOKIE = (b"cookie", b"theme=dark; csrftoken=" + TOKEN + b"; lang=en")
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def multipart_body(file_size: int) -> bytes:
    """The token field first, then a file of ``file_size`` bytes: a browser's upload form."""
    field = b'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + TOKEN
    upload = b'\r\n--B\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n'
    return field + upload + b"u" * file_size + b"\r\n--B--\r\n"


def run(benchmark: Any, driver: Any, app: ASGIApp, scope: Scope, body: list[bytes]) -> None:
    messages = benchmark(driver.call, app, scope, body)
    assert messages[0]["status"] == 200


@pytest.mark.parametrize("impl", IMPLS)
def test_csrf_safe_with_cookie(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "csrf: GET with a valid cookie"
    run(benchmark, driver, wrap(impl, HELLO), make_scope(headers=[COOKIE]), [b""])


@pytest.mark.parametrize("impl", IMPLS)
def test_csrf_safe_new_token(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "csrf: GET without a cookie (new token)"
    run(benchmark, driver, wrap(impl, HELLO), make_scope(), [b""])


@pytest.mark.parametrize("impl", IMPLS)
def test_csrf_header(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "csrf: POST with the header"
    headers = [COOKIE, ORIGIN, (b"x-csrftoken", TOKEN), (b"content-type", b"application/json")]
    scope = make_scope(method="POST", headers=headers)
    run(benchmark, driver, wrap(impl, drain_then_hello), scope, [b'{"a": 1}'])


URLENCODED_CASES = {"1KiB": KIB, "64KiB": 64 * KIB}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("size", list(URLENCODED_CASES))
def test_csrf_urlencoded_field(
    benchmark: Any, driver: Any, make_scope: Any, impl: str, size: str
) -> None:
    """The field last, after other fields: the whole body is scanned, then replayed."""
    benchmark.group = f"csrf: urlencoded {size}, field last"
    filler = b"&".join(b"field%d=%s" % (i, b"v" * 40) for i in range(URLENCODED_CASES[size] // 50))
    body = filler + b"&csrf_token=" + TOKEN
    headers = [COOKIE, ORIGIN, (b"content-type", b"application/x-www-form-urlencoded")]
    scope = make_scope(method="POST", headers=headers)
    run(benchmark, driver, wrap(impl, drain_then_hello), scope, split(body, 16 * KIB))


@pytest.mark.parametrize("impl", IMPLS)
def test_csrf_multipart_upload(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    """The field first, then a 4 MiB file in 64 KiB messages: only the first is scanned."""
    benchmark.group = "csrf: multipart 4 MiB upload, field first"
    headers = [COOKIE, ORIGIN, (b"content-type", b"multipart/form-data; boundary=B")]
    scope = make_scope(method="POST", headers=headers)
    body = split(multipart_body(4 * MIB), CHUNK)
    run(benchmark, driver, wrap(impl, drain_then_hello), scope, body)
