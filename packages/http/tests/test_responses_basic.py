"""Response and its simple subclasses: body, headers, cookies, JSON, redirects, sending."""

from __future__ import annotations

import http.cookies
import math
import sys
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from stellina_testing import Recorder, http_scope, websocket_scope

from stellina.background import BackgroundTask
from stellina.datastructures import URL, MutableHeaders
from stellina.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from stellina.types import Message


async def call(app: Any, scope_type: str = "http", method: str = "GET") -> list[Message]:
    scope = http_scope(method=method) if scope_type == "http" else websocket_scope()
    return await Recorder().run(app, scope)


# Body and automatic headers


def test_default_response_is_empty_with_zero_length() -> None:
    response = Response()
    assert response.status_code == 200
    assert response.body == b""
    assert response.raw_headers == [(b"content-length", b"0")]
    assert response.background is None


@pytest.mark.parametrize(
    ("content", "body"),
    [
        (b"bytes", b"bytes"),
        ("text é", "text é".encode()),
    ],
)
def test_render(content: Any, body: bytes) -> None:
    response = Response(content)
    assert bytes(response.body) == body
    assert response.headers["content-length"] == str(len(body))


def test_memoryview_body_counts_bytes_not_items() -> None:
    view = memoryview(b"\x00" * 16).cast("I")
    response = Response(view)
    assert response.body is view
    assert response.headers["content-length"] == "16"


def test_large_body_length() -> None:
    assert Response(b"x" * 5000).headers["content-length"] == "5000"
    assert Response(b"x" * 1023).headers["content-length"] == "1023"
    assert Response(b"x" * 1024).headers["content-length"] == "1024"


def test_charset_is_used_to_encode_and_declared() -> None:
    class Latin1(PlainTextResponse):
        charset = "latin-1"

    response = Latin1("é")
    assert response.body == b"\xe9"
    assert response.headers["content-type"] == "text/plain; charset=latin-1"
    assert PlainTextResponse("é").headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("media_type", "header"),
    [
        ("text/html", "text/html; charset=utf-8"),
        ("text/csv; charset=ascii", "text/csv; charset=ascii"),
        ("text/csv; Charset=ascii", "text/csv; Charset=ascii"),
        ("application/octet-stream", "application/octet-stream"),
        ("image/png", "image/png"),
    ],
)
def test_content_type(media_type: str, header: str) -> None:
    assert Response(b"", media_type=media_type).headers["content-type"] == header


def test_subclass_media_types() -> None:
    assert HTMLResponse("<p>").raw_headers == [
        (b"content-length", b"3"),
        (b"content-type", b"text/html; charset=utf-8"),
    ]
    assert PlainTextResponse("a").headers["content-type"] == "text/plain; charset=utf-8"
    assert PlainTextResponse("a", media_type="text/csv").headers["content-type"] == (
        "text/csv; charset=utf-8"
    )


def test_given_headers_come_first_lowercased_and_win() -> None:
    response = Response(
        b"abc",
        headers={"X-Custom": "1", "Content-Type": "application/x-mine"},
        media_type="text/plain",
    )
    assert response.raw_headers == [
        (b"x-custom", b"1"),
        (b"content-type", b"application/x-mine"),
        (b"content-length", b"3"),
    ]
    given_length = Response(b"abc", headers={"content-length": "99"})
    assert given_length.raw_headers == [(b"content-length", b"99")]


@pytest.mark.parametrize("status_code", [100, 101, 199, 204, 304])
def test_no_content_length_for_bodiless_statuses(status_code: int) -> None:
    response = Response(status_code=status_code, media_type="text/plain")
    assert response.raw_headers == [(b"content-type", b"text/plain; charset=utf-8")]


@pytest.mark.parametrize("status_code", [200, 201, 205, 301, 404, 500])
def test_content_length_for_other_statuses(status_code: int) -> None:
    assert Response(b"ab", status_code=status_code).raw_headers == [(b"content-length", b"2")]


@pytest.mark.parametrize(
    "headers",
    [{"x-bad": "a\r\nSet-Cookie: x=1"}, {"x-bad": "a\nb"}, {"x-bad": "a\rb"}, {"x\nbad": "a"}],
)
def test_header_values_with_cr_or_lf_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Response(b"", headers=headers)


def test_media_type_with_cr_or_lf_is_refused() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        Response(b"", media_type="text/plain\r\nX-Injected: 1")
    with pytest.raises(ValueError):
        Response(b"").headers["x-late"] = "a\r\nb"


def test_headers_is_a_live_mutable_view() -> None:
    response = Response(b"x", media_type="text/plain")
    headers = response.headers
    assert isinstance(headers, MutableHeaders)
    assert response.headers is headers
    headers["X-Extra"] = "yes"
    del headers["content-type"]
    assert response.raw_headers == [(b"content-length", b"1"), (b"x-extra", b"yes")]


def test_init_headers_and_render_can_be_overridden() -> None:
    class Upper(Response):
        media_type = "text/plain"

        def render(self, content: Any) -> bytes:
            return str(content).upper().encode()

    response = Upper("shout")
    assert response.body == b"SHOUT"
    assert response.headers["content-length"] == "5"


# Sending


@pytest.mark.anyio
async def test_call_sends_start_then_body_then_runs_background() -> None:
    events: list[str] = []

    async def task(label: str) -> None:
        events.append(label)

    response = PlainTextResponse("hello", status_code=201, background=BackgroundTask(task, "bg"))
    sent = await call(response)
    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-length", b"5"), (b"content-type", b"text/plain; charset=utf-8")],
        },
        {"type": "http.response.body", "body": b"hello"},
    ]
    assert events == ["bg"]


@pytest.mark.anyio
async def test_same_response_can_be_sent_twice() -> None:
    response = Response(b"again")
    assert await call(response) == await call(response)


@pytest.mark.anyio
async def test_head_still_sends_the_body_for_the_server_to_drop() -> None:
    sent = await call(Response(b"body"), method="HEAD")
    assert sent[1]["body"] == b"body"
    assert sent[0]["headers"] == [(b"content-length", b"4")]


@pytest.mark.anyio
async def test_websocket_denial_response_uses_prefixed_messages() -> None:
    sent = await call(PlainTextResponse("no", status_code=403), scope_type="websocket")
    assert [message["type"] for message in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 403


# JSON


def test_json_is_compact_and_utf8() -> None:
    response = JSONResponse({"name": "café", "items": [1, 2.5, None, True]})
    assert response.body == '{"name":"café","items":[1,2.5,null,true]}'.encode()
    assert response.raw_headers == [
        (b"content-length", str(len(response.body)).encode()),
        (b"content-type", b"application/json"),
    ]


@pytest.mark.parametrize(
    ("content", "body"),
    [(None, b"null"), ("text", b'"text"'), ([], b"[]"), ({"a": {"b": []}}, b'{"a":{"b":[]}}')],
)
def test_json_values(content: Any, body: bytes) -> None:
    assert JSONResponse(content).body == body


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_json_refuses_nan_and_infinity(value: float) -> None:
    with pytest.raises(ValueError):
        JSONResponse({"value": value})


def test_json_refuses_unserialisable_content() -> None:
    with pytest.raises(TypeError):
        JSONResponse({"value": object()})


def test_json_custom_status_headers_media_type() -> None:
    response = JSONResponse(
        [1], status_code=422, headers={"x-a": "b"}, media_type="application/problem+json"
    )
    assert response.status_code == 422
    assert response.raw_headers == [
        (b"x-a", b"b"),
        (b"content-length", b"3"),
        (b"content-type", b"application/problem+json"),
    ]


# Redirects


def test_redirect_defaults() -> None:
    response = RedirectResponse("/next")
    assert response.status_code == 307
    assert response.body == b""
    assert response.raw_headers == [(b"content-length", b"0"), (b"location", b"/next")]


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/a b?q=é&x=1#frag", "/a%20b?q=%C3%A9&x=1#frag"),
        ("https://example.com:8443/p;x=1?a=[1]", "https://example.com:8443/p;x=1?a=[1]"),
        ("/%20already", "/%20already"),
        ("/evil\r\nSet-Cookie: x=1", "/evil%0D%0ASet-Cookie:%20x=1"),
        ("/it's!$&'()*+,@", "/it's!$&'()*+,@"),
        ('/q"<>', "/q%22%3C%3E"),
    ],
)
def test_redirect_location_is_quoted(url: str, location: str) -> None:
    assert RedirectResponse(url).headers["location"] == location


def test_redirect_accepts_url_status_headers_and_background() -> None:
    task = BackgroundTask(lambda: None)
    response = RedirectResponse(
        URL("http://example.com/x"),
        status_code=301,
        headers={"Location": "/old", "x-a": "1"},
        background=task,
    )
    assert response.status_code == 301
    assert response.background is task
    assert response.raw_headers == [
        (b"location", b"http://example.com/x"),
        (b"x-a", b"1"),
        (b"content-length", b"0"),
    ]


# Cookies


def reference_cookie(key: str, value: str, **attributes: Any) -> str:
    """What http.cookies renders for the same cookie (its attribute names)."""
    cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    cookie[key] = value
    for name, attribute in attributes.items():
        cookie[key][name] = attribute
    return cookie.output(header="").strip()


def set_cookie_headers(response: Response) -> list[str]:
    return [value.decode() for name, value in response.raw_headers if name == b"set-cookie"]


def test_default_cookie() -> None:
    response = Response()
    response.set_cookie("session", "abc")
    assert set_cookie_headers(response) == ["session=abc; Path=/; SameSite=lax"]
    assert set_cookie_headers(response) == [
        reference_cookie("session", "abc", path="/", samesite="lax")
    ]


@pytest.mark.parametrize(
    "value",
    ["plain", "", "with space", 'quote"d', "semi;colon", "comma,list", "back\\slash", "é", "a=b"],
)
def test_cookie_values_are_quoted_as_http_cookies_does(value: str) -> None:
    response = Response()
    response.set_cookie("k", value, path=None, samesite=None)
    assert set_cookie_headers(response) == [reference_cookie("k", value)]


def test_every_attribute_in_reference_order() -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    response = Response()
    response.set_cookie(
        "k",
        "v",
        max_age=60,
        expires=expires,
        path="/p",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    expected = reference_cookie(
        "k",
        "v",
        **{
            "max-age": 60,
            "expires": "Wed, 02 Jan 2030 03:04:05 GMT",
            "path": "/p",
            "domain": "example.com",
            "secure": True,
            "httponly": True,
            "samesite": "strict",
        },
    )
    assert set_cookie_headers(response) == [expected]
    assert expected == (
        "k=v; Domain=example.com; expires=Wed, 02 Jan 2030 03:04:05 GMT; HttpOnly; "
        "Max-Age=60; Path=/p; SameSite=strict; Secure"
    )


@pytest.mark.skipif(sys.version_info < (3, 14), reason="http.cookies knows Partitioned from 3.14")
def test_partitioned_cookie() -> None:
    response = Response()
    response.set_cookie("k", "v", max_age=1, secure=True, samesite="none", partitioned=True)
    assert set_cookie_headers(response) == [
        "k=v; Max-Age=1; Partitioned; Path=/; SameSite=none; Secure"
    ]


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Partitioned is refused before 3.14")
def test_partitioned_cookie_is_refused_before_python_3_14() -> None:
    response = Response()
    for add in (
        lambda: response.set_cookie("k", "v", partitioned=True),
        lambda: response.delete_cookie("k", partitioned=True),
    ):
        with pytest.raises(ValueError, match="only supported in Python 3.14 and above"):
            add()
    assert set_cookie_headers(response) == []


def test_expires_as_seconds_string_and_naive_datetime() -> None:
    response = Response()
    before = datetime.now(UTC).replace(microsecond=0)
    response.set_cookie("k", expires=10, path=None, samesite=None)
    response.set_cookie("s", expires="Thu, 01 Jan 2099 00:00:00 GMT", path=None, samesite=None)
    first, second = set_cookie_headers(response)
    when = parsedate_to_datetime(first.split("expires=")[1])
    assert before + timedelta(seconds=9) <= when <= before + timedelta(seconds=12)
    assert second == 's=""; expires=Thu, 01 Jan 2099 00:00:00 GMT'
    with pytest.raises(ValueError):
        response.set_cookie("k", expires=datetime(2030, 1, 1))


def test_delete_cookie() -> None:
    response = Response()
    response.delete_cookie("k", path="/x", domain="example.com", secure=True, httponly=True)
    (header,) = set_cookie_headers(response)
    assert header.startswith('k=""; Domain=example.com; expires=')
    assert header.endswith("; HttpOnly; Max-Age=0; Path=/x; SameSite=lax; Secure")
    when = parsedate_to_datetime(header.split("expires=")[1].split(";")[0])
    assert abs((when - datetime.now(UTC)).total_seconds()) < 5


@pytest.mark.parametrize("key", ["", "a b", "a;b", "a=b", "a\r\nb", "é", "expires", "Path"])
def test_invalid_cookie_keys_are_refused(key: str) -> None:
    response = Response()
    with pytest.raises(ValueError):
        response.set_cookie(key, "v")
    with pytest.raises(http.cookies.CookieError):
        response.set_cookie(key, "v")
    assert set_cookie_headers(response) == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"value": "a\r\nSet-Cookie: evil=1"},
        {"value": "a\nb"},
        {"value": "nul\x00"},
        {"path": "/\r\nX: y"},
        {"path": "/; Domain=evil.com"},
        {"domain": "example.com\n"},
        {"domain": "a.com; Secure"},
        {"expires": "Thu, 01 Jan 2099\r\n"},
    ],
)
def test_injection_in_cookie_values_is_refused(arguments: dict[str, Any]) -> None:
    response = Response()
    with pytest.raises(ValueError):
        response.set_cookie("k", **arguments)
    assert set_cookie_headers(response) == []


def test_samesite_is_checked_and_optional() -> None:
    response = Response()
    with pytest.raises(ValueError, match="samesite must be either 'strict', 'lax' or 'none'"):
        response.set_cookie("k", samesite="bogus")  # type: ignore[arg-type]
    response.set_cookie("k", samesite="Strict")  # type: ignore[arg-type]
    response.set_cookie("k", samesite=None)
    assert set_cookie_headers(response) == ['k=""; Path=/; SameSite=Strict', 'k=""; Path=/']


def test_several_cookies_are_separate_headers_and_visible_in_headers() -> None:
    response = Response()
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    assert response.headers.getlist("set-cookie") == [
        "a=1; Path=/; SameSite=lax",
        "b=2; Path=/; SameSite=lax",
    ]
