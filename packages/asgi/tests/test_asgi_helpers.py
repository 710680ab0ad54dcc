"""The shared helpers: replies, headers, paths, sending."""

from __future__ import annotations

import pytest
from stellina_testing import Recorder, http_scope, websocket_scope

from stellina.asgi import (
    TEXT_PLAIN,
    HTTPException,
    PlainText,
    RawHeaders,
    StellinaDeprecationWarning,
    TrackedSend,
    add_vary,
    cookie_values,
    find_exception_handler,
    get_header,
    redirect,
    route_path,
    set_header,
)
from stellina.types import Message

# --- headers ---------------------------------------------------------------------------------


def test_get_header_takes_the_first() -> None:
    headers = [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]
    assert get_header(headers, b"a") == b"1"
    assert get_header(headers, b"c") is None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([], [(b"x", b"new")]),
        ([(b"a", b"1")], [(b"a", b"1"), (b"x", b"new")]),
        ([(b"x", b"old")], [(b"x", b"new")]),
        (
            [(b"a", b"1"), (b"x", b"1"), (b"b", b"2"), (b"x", b"2"), (b"x", b"3")],
            [(b"a", b"1"), (b"x", b"new"), (b"b", b"2")],
        ),
    ],
)
def test_set_header_leaves_one_where_the_first_stood(before: RawHeaders, after: RawHeaders) -> None:
    headers = list(before)
    set_header(headers, b"x", b"new")
    assert headers == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([], [(b"vary", b"Origin")]),
        ([(b"vary", b"Accept")], [(b"vary", b"Accept, Origin")]),
        ([(b"vary", b"origin")], [(b"vary", b"origin")]),
        ([(b"vary", b"Accept , ORIGIN")], [(b"vary", b"Accept , ORIGIN")]),
        ([(b"vary", b"*")], [(b"vary", b"*")]),
        (
            [(b"vary", b"Accept-Encoding"), (b"x", b"1"), (b"vary", b"Accept-Language")],
            [(b"vary", b"Accept-Encoding, Accept-Language, Origin"), (b"x", b"1")],
        ),
        (
            [(b"vary", b"Accept"), (b"vary", b"Origin")],
            [(b"vary", b"Accept, Origin")],
        ),
    ],
)
def test_add_vary_merges_into_one_header(before: RawHeaders, after: RawHeaders) -> None:
    headers = list(before)
    add_vary(headers, b"Origin")
    assert headers == after


def test_add_vary_twice_lists_the_token_once() -> None:
    headers: RawHeaders = [(b"vary", b"Cookie")]
    add_vary(headers, b"Accept-Encoding")
    add_vary(headers, b"accept-encoding")
    assert headers == [(b"vary", b"Cookie, Accept-Encoding")]


# --- replies ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_plain_text_reply() -> None:
    reply = PlainText(400, "Invalid host header", [(b"x-reason", b"host")])
    recorder = Recorder()
    await reply.send(recorder.send)
    assert recorder.status == 400
    assert recorder.headers == [
        (b"x-reason", b"host"),
        (b"content-length", b"19"),
        (b"content-type", TEXT_PLAIN),
    ]
    assert recorder.body == b"Invalid host header"


@pytest.mark.anyio
async def test_plain_text_gives_every_send_its_own_header_list() -> None:
    reply = PlainText(413, b"Content Too Large")
    start, _ = reply.messages()
    start["headers"].append((b"x-added", b"by a middleware"))
    again, body = reply.messages()
    assert (b"x-added", b"by a middleware") not in again["headers"]
    assert body == {"type": "http.response.body", "body": b"Content Too Large"}


@pytest.mark.anyio
async def test_plain_text_as_a_websocket_denial() -> None:
    recorder = Recorder()
    await PlainText(403, "no").send(recorder.send, websocket=True)
    assert [message["type"] for message in recorder.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("websocket", [False, True])
async def test_redirect(websocket: bool) -> None:
    recorder = Recorder()
    scope = websocket_scope() if websocket else http_scope()
    await redirect(scope, recorder.send, "example.com", "https")
    prefix = "websocket." if websocket else ""
    assert recorder.sent == [
        {
            "type": prefix + "http.response.start",
            "status": 307,
            "headers": [(b"content-length", b"0"), (b"location", b"https://example.com/")],
        },
        {"type": prefix + "http.response.body", "body": b""},
    ]


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("/", b"", b"https://example.com/"),
        ("/a b/caf\u00e9", b"q=%20&r", b"https://example.com/a%20b/caf%C3%A9?q=%20&r"),
        ("/x", b"a=\xe9", b"https://example.com/x?a=%E9"),
        ("/\r\n", b"", b"https://example.com/%0D%0A"),
        ("/lone-\ud800", b"", b"https://example.com/lone-%ED%A0%80"),
    ],
)
@pytest.mark.parametrize("scheme", ["https", None])
@pytest.mark.anyio
async def test_redirect_location_is_ascii_and_keeps_path_and_query(
    path: str, query: bytes, location: bytes, scheme: str | None
) -> None:
    recorder = Recorder()
    scope = http_scope(path=path, query_string=query, scheme="https")
    await redirect(scope, recorder.send, "example.com", scheme)
    assert dict(recorder.headers)[b"location"] == location


# --- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root_path", "path", "expected"),
    [
        ("", "/users", "/users"),
        ("/app", "/app/users", "/users"),
        ("/app", "/app", ""),
        ("/app", "/application", "/application"),
        ("/app", "/other", "/other"),
        ("/app/", "/app/users", "/app/users"),
    ],
)
def test_route_path(root_path: str, path: str, expected: str) -> None:
    assert route_path(http_scope(root_path=root_path, path=path)) == expected


def test_route_path_without_root_path_key() -> None:
    scope = http_scope(path="/x")
    del scope["root_path"]
    assert route_path(scope) == "/x"


# --- sending and errors ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_tracked_send() -> None:
    recorder = Recorder()
    tracked = TrackedSend(recorder.send)
    early: Message = {"type": "http.response.early_hint", "links": []}
    await tracked.forward(early)
    assert not tracked.started
    await tracked.forward({"type": "http.response.start", "status": 200, "headers": []})
    assert tracked.started
    assert recorder.sent[0] is early


@pytest.mark.anyio
async def test_tracked_send_around_a_tracker_is_that_tracker() -> None:
    recorder = Recorder()
    outer = TrackedSend.around(recorder.send)
    assert outer.send == recorder.send
    inner = TrackedSend.around(outer.forward)
    assert inner is outer
    assert TrackedSend.around(recorder.send) is not outer  # another send: another tracker
    await inner.forward({"type": "http.response.start", "status": 200, "headers": []})
    assert outer.started
    assert len(recorder.sent) == 1  # one wrapper: the message was sent once


def test_http_exception() -> None:
    error = HTTPException(404)
    assert (error.status_code, error.detail, error.headers) == (404, "Not Found", None)
    assert str(error) == "404: Not Found"
    assert repr(error) == "HTTPException(status_code=404, detail='Not Found')"
    custom = HTTPException(599, headers={"x": "1"})
    assert custom.detail == ""
    assert custom.headers == {"x": "1"}
    assert HTTPException(413, "Content Too Large").detail == "Content Too Large"


def test_deprecation_warning_is_shown_by_default() -> None:
    assert issubclass(StellinaDeprecationWarning, UserWarning)


def test_find_exception_handler_prefers_the_status_then_the_closest_class() -> None:
    def by_404(*_: object) -> None: ...
    def by_http(*_: object) -> None: ...
    def by_value(*_: object) -> None: ...
    def by_any(*_: object) -> None: ...

    by_class = {HTTPException: by_http, ValueError: by_value, Exception: by_any}
    assert find_exception_handler(by_class, {404: by_404}, HTTPException(404)) is by_404
    assert find_exception_handler(by_class, {404: by_404}, HTTPException(500)) is by_http
    assert find_exception_handler(by_class, {}, UnicodeDecodeError("x", b"", 0, 1, "r")) is by_value
    assert find_exception_handler(by_class, {}, KeyError("k")) is by_any
    assert find_exception_handler({ValueError: by_value}, {404: by_404}, KeyError("k")) is None
    assert find_exception_handler({}, {}, HTTPException(404)) is None


def test_cookie_values_in_the_order_sent_unquoted_and_raw() -> None:
    headers = [
        (b"cookie", b'a=1; token="q\\"x"; tokens=no'),
        (b"accept", b"token=not-a-cookie"),
        (b"cookie", b" token = 2 ;token;=token; token=%41"),
    ]
    assert list(cookie_values(headers, b"token")) == [b'q\\"x', b"2", b"%41"]
    assert list(cookie_values(headers, b"missing")) == []
    assert list(cookie_values([(b"cookie", b'token=""; token="')], b"token")) == [b"", b'"']
