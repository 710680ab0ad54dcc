"""The token in a form field: scanning the body without taking it from the app."""

from __future__ import annotations

import random

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.middleware.csrf import DEFAULT_MAX_BODY_SIZE, CSRFMiddleware
from stellina.types import Message, Receive, Scope, Send

SECRET = "test-secret"
URLENCODED = b"application/x-www-form-urlencoded"


class BodyApp:
    """Records every message its ``receive`` gives, then echoes the body it read."""

    def __init__(self) -> None:
        self.received: list[Message] = []
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        if scope["method"] in ("GET", "HEAD"):
            body = scope["csrf_token"].encode()
        else:
            body = b""
            more = True
            while more:
                message = await receive()
                self.received.append(message)
                body += message.get("body", b"")
                more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


#: A token of SECRET, sent in the cookie of every request below.
MIDDLEWARE_TOKEN = CSRFMiddleware(BodyApp(), SECRET).signer.sign(b"T" * 43)


def form_scope(content_type: bytes, token: bytes = MIDDLEWARE_TOKEN) -> Scope:
    headers = [
        (b"host", b"testserver"),
        (b"content-type", content_type),
        (b"cookie", b"csrftoken=" + token),
    ]
    return http_scope(method="POST", headers=headers)


async def post_chunks(
    content_type: bytes, *chunks: bytes, max_body_size: int = DEFAULT_MAX_BODY_SIZE
) -> tuple[Recorder, BodyApp]:
    """POST ``chunks`` (one receive message each) with a valid cookie, without a header."""
    inner = BodyApp()
    recorder = Recorder.with_body(*chunks)
    await recorder.run(
        CSRFMiddleware(inner, SECRET, max_body_size=max_body_size), form_scope(content_type)
    )
    return recorder, inner


def multipart(*parts: tuple[bytes, bytes], boundary: bytes = b"XyZ") -> bytes:
    """A multipart body of (headers, content) parts."""
    body = b"".join(
        b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n" for head, data in parts
    )
    return body + b"--" + boundary + b"--\r\n"


def field(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    return b'Content-Disposition: form-data; name="' + name + b'"', value


MULTIPART = b"multipart/form-data; boundary=XyZ"


# --- through a client ----------------------------------------------------------------------


def test_urlencoded_form_with_the_field(test_client_factory: ClientFactory) -> None:
    inner = BodyApp()
    client = test_client_factory(CSRFMiddleware(inner, SECRET))
    token = client.get("/").text
    data = {"title": "ünïcode & more", "csrf_token": token, "body": "x" * 5000}
    response = client.post("/", data=data)
    assert response.status_code == 200
    assert response.content == response.request.content  # the app read the body intact


def test_multipart_form_with_the_field(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(BodyApp(), SECRET))
    token = client.get("/").text
    files = {"upload": ("a.bin", random.Random(3).randbytes(100_000), "application/octet-stream")}
    response = client.post("/", data={"a": "1", "csrf_token": token}, files=files)
    assert response.status_code == 200
    assert response.content == response.request.content
    response = client.post("/", data={"csrf_token": "wrong"}, files=files)
    assert (response.status_code, response.text) == (403, "CSRF token invalid")


def test_form_without_the_field(test_client_factory: ClientFactory) -> None:
    inner = BodyApp()
    client = test_client_factory(CSRFMiddleware(inner, SECRET))
    client.get("/")
    assert client.post("/", data={"a": "1"}).text == "CSRF token missing"
    assert client.post("/", files={"f": ("f", b"x")}).text == "CSRF token missing"
    assert inner.calls == 1  # the GET


def test_form_too_large_to_scan(test_client_factory: ClientFactory) -> None:
    inner = BodyApp()
    client = test_client_factory(CSRFMiddleware(inner, SECRET, max_body_size=4096))
    token = client.get("/").text
    body = b"pad=" + b"x" * 4096 + b"&csrf_token=" + token.encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = client.post("/", content=body, headers=headers)
    assert (response.status_code, response.text) == (
        413,
        "CSRF token not found within the form size limit",
    )
    # The header needs no scan at all, whatever the body's size.
    headers["x-csrftoken"] = token
    response = client.post("/", content=body, headers=headers)
    assert response.status_code == 200
    assert inner.calls == 2


def test_header_is_preferred_to_the_field(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(BodyApp(), SECRET))
    token = client.get("/").text
    response = client.post("/", data={"csrf_token": token}, headers={"x-csrftoken": "bad"})
    assert response.text == "CSRF token invalid"


def test_custom_field_name(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(BodyApp(), SECRET, field_name="_csrf"))
    token = client.get("/").text
    assert client.post("/", data={"_csrf": token}).status_code == 200
    assert client.post("/", data={"csrf_token": token}).text == "CSRF token missing"


# --- urlencoded ----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "template",
    [
        b"csrf_token=%s",
        b"a=1&csrf_token=%s&b=2",
        b"a=1&b=&&c&csrf_token=%s",
        b"csrf_token=%s&csrf_token=other",  # the first one counts
        b"csrf_token_x=1&x_csrf_token=2&csrf_token=%s",
    ],
)
async def test_urlencoded_field_positions(template: bytes) -> None:
    body = template % MIDDLEWARE_TOKEN
    recorder, _ = await post_chunks(URLENCODED, body)
    assert recorder.status == 200
    assert recorder.body == body


@pytest.mark.anyio
async def test_urlencoded_value_is_decoded() -> None:
    encoded = MIDDLEWARE_TOKEN.replace(b".", b"%2E").replace(b"-", b"%2d")
    recorder, _ = await post_chunks(URLENCODED, b"csrf_token=" + encoded)
    assert recorder.status == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", b"CSRF token missing"),
        (b"csrf_token", b"CSRF token invalid"),
        (b"csrf_token=", b"CSRF token invalid"),
        (b"csrf_token=%zz%", b"CSRF token invalid"),
        (b"csrf_token=" + b"\xff" * 50, b"CSRF token invalid"),
        (b"csrf_token=other&csrf_token=%s" % MIDDLEWARE_TOKEN, b"CSRF token invalid"),
        (b"&&&===%%%", b"CSRF token missing"),
        (b"csrf+token=%s" % MIDDLEWARE_TOKEN, b"CSRF token missing"),
        # The name is matched as clients send it: no encoder escapes its characters.
        (b"csrf%%5Ftoken=%s" % MIDDLEWARE_TOKEN, b"CSRF token missing"),
        (
            b"xcsrf_token=%s&csrf_tokenx=%s" % (MIDDLEWARE_TOKEN, MIDDLEWARE_TOKEN),
            b"CSRF token missing",
        ),
        (b"a=csrf_token=%s" % MIDDLEWARE_TOKEN, b"CSRF token missing"),
        (b"csrf_token" * 1000, b"CSRF token missing"),
        (b"%s=csrf_token" % MIDDLEWARE_TOKEN, b"CSRF token missing"),
    ],
)
async def test_urlencoded_refusals(body: bytes, reason: bytes) -> None:
    recorder, inner = await post_chunks(URLENCODED, body)
    assert (recorder.status, recorder.body) == (403, reason)
    assert inner.calls == 0


# --- multipart -----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        multipart(field(b"csrf_token", MIDDLEWARE_TOKEN)),
        multipart(field(b"a", b"1"), field(b"csrf_token", MIDDLEWARE_TOKEN), field(b"b", b"2")),
        multipart(
            (b'Content-Disposition: form-data; name="f"; filename="a; name=csrf_token"', b"x"),
            field(b"csrf_token", MIDDLEWARE_TOKEN),
        ),
        multipart(
            (
                b"content-disposition:form-data;name=csrf_token\r\nContent-Type: text/plain",
                MIDDLEWARE_TOKEN,
            )
        ),
        multipart(
            (b'CONTENT-DISPOSITION: form-data ; NAME = "csrf_token" ; x=y', MIDDLEWARE_TOKEN)
        ),
        multipart(
            (b"", b"no headers"), (b"X-Other: 1", b""), field(b"csrf_token", MIDDLEWARE_TOKEN)
        ),
        b"preamble\r\n" + multipart(field(b"csrf_token", MIDDLEWARE_TOKEN)),
        multipart(field(b"csrf_token", MIDDLEWARE_TOKEN)).replace(b"XyZ\r\n", b"XyZ  \t\r\n", 1),
        # A delimiter-like line inside content is content: the fake field is not the field.
        multipart(
            (
                b'Content-Disposition: form-data; name="f"',
                b'\r\n--XyZx\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nfake',
            ),
            field(b"csrf_token", MIDDLEWARE_TOKEN),
        ),
        # The field may be the last part.
        multipart(field(b"a", b"1"), field(b"csrf_token", MIDDLEWARE_TOKEN)),
    ],
)
async def test_multipart_field(body: bytes) -> None:
    recorder, _ = await post_chunks(MULTIPART, body)
    assert (recorder.status, recorder.body) == (200, body)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        (b'multipart/form-data; charset=utf-8; boundary="a b:c"', b"a b:c"),
        (b'multipart/form-data; boundary="a\\bc"', b"abc"),
        (b"Multipart/Form-Data;boundary=" + b"b" * 70, b"b" * 70),
    ],
)
async def test_multipart_boundary_parameter(content_type: bytes, boundary: bytes) -> None:
    body = multipart(field(b"csrf_token", MIDDLEWARE_TOKEN), boundary=boundary)
    recorder, _ = await post_chunks(content_type, body)
    assert recorder.status == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (multipart(field(b"a", MIDDLEWARE_TOKEN)), b"CSRF token missing"),
        (multipart(field(b"csrf_token", b"nope")), b"CSRF token invalid"),
        (b"--XyZ--\r\n" + multipart(field(b"csrf_token", MIDDLEWARE_TOKEN)), b"CSRF token missing"),
        (multipart(field(b"csrf_token", MIDDLEWARE_TOKEN))[:-30], b"CSRF token missing"),
        (b"--XyZ\r\nContent-Disposition: form-data; name=csrf_token", b"CSRF token missing"),
        (b"no delimiter at all", b"CSRF token missing"),
        (b"", b"CSRF token missing"),
        (b"--XyZ", b"CSRF token missing"),
        (  # truncated: the last delimiter lacks its "--"
            multipart(field(b"csrf_token", MIDDLEWARE_TOKEN))[: -len(b"--\r\n")],
            b"CSRF token missing",
        ),
        (
            multipart(field(b"csrf_token", MIDDLEWARE_TOKEN)).replace(b"XyZ\r\n", b"XyZ \t", 1),
            b"CSRF token missing",
        ),
        (b"--XyZ" + b" " * 50_000, b"CSRF token missing"),
        (random.Random(7).randbytes(20_000), b"CSRF token missing"),
        (
            multipart((b'Content-Disposition: form-data; name="csrf_token', MIDDLEWARE_TOKEN)),
            b"CSRF token missing",
        ),
    ],
)
async def test_multipart_refusals(body: bytes, reason: bytes) -> None:
    recorder, inner = await post_chunks(MULTIPART, body)
    assert (recorder.status, recorder.body) == (403, reason)
    assert inner.calls == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type",
    [
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b'multipart/form-data; boundary=""',
        b"multipart/form-data; boundary=" + b"b" * 71,
        b"multipart/form-data; boundary=a\xffb",
        b'multipart/form-data; boundary="unclosed',
        b'multipart/form-data; boundary="q\\"x"',  # a quote is not a boundary character
        b"multipart/form-data; boundary==;;;",
        b"multipart/mixed; boundary=XyZ",
        b"text/plain",
        b"application/json",
        b"\xff\xfe",
        b"",
        b";" * 10_000,
    ],
)
async def test_unusable_content_types(content_type: bytes) -> None:
    body = multipart(field(b"csrf_token", MIDDLEWARE_TOKEN))
    recorder, inner = await post_chunks(content_type, body)
    assert (recorder.status, recorder.body) == (403, b"CSRF token missing")
    assert inner.calls == 0


@pytest.mark.anyio
async def test_no_content_type() -> None:
    inner = BodyApp()
    recorder = Recorder.with_body(b"csrf_token=" + MIDDLEWARE_TOKEN)
    scope = http_scope(
        method="POST",
        headers=[(b"host", b"testserver"), (b"cookie", b"csrftoken=" + MIDDLEWARE_TOKEN)],
    )
    await recorder.run(CSRFMiddleware(inner, SECRET), scope)
    assert (recorder.status, recorder.body) == (403, b"CSRF token missing")


# --- buffering and replay ------------------------------------------------------------------

SPLIT_BODIES = [
    (URLENCODED, b"a=%C3%BC&b=2&csrf_token=" + MIDDLEWARE_TOKEN + b"&c=3"),
    (
        MULTIPART,
        b"pre\r\n"
        + multipart(
            (b'Content-Disposition: form-data; name="f"; filename="x"', b"\r\n--Xy\r\n--XyZz"),
            field(b"csrf_token", MIDDLEWARE_TOKEN),
            field(b"after", b"tail"),
        ).replace(b"--XyZ\r\n", b"--XyZ \t\r\n", 2),  # transport padding after 2 delimiters
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("content_type", "body"), SPLIT_BODIES, ids=["urlencoded", "multipart"])
async def test_field_is_found_wherever_the_body_is_split(content_type: bytes, body: bytes) -> None:
    for cut in range(len(body) + 1):
        chunks = (body[:cut], body[cut:])
        recorder, inner = await post_chunks(content_type, *chunks)
        assert recorder.status == 200, cut
        assert [m["body"] for m in inner.received] == list(chunks)
    recorder, inner = await post_chunks(content_type, *(bytes([b]) for b in body))
    assert recorder.status == 200
    assert b"".join(m["body"] for m in inner.received) == body


@pytest.mark.anyio
async def test_replay_is_message_for_message() -> None:
    chunks = [
        b"a=1&",
        b"",
        b"csrf_tok",
        b"en=" + MIDDLEWARE_TOKEN[:10],
        MIDDLEWARE_TOKEN[10:],
        b"&z=" + b"9" * 1000,
    ]
    recorder, inner = await post_chunks(URLENCODED, *chunks)
    assert recorder.status == 200
    assert inner.received == [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    assert recorder.body == b"".join(chunks)


@pytest.mark.anyio
async def test_reading_stops_once_the_field_is_found() -> None:
    """The rest of the body streams from the server: it may be larger than the scan limit."""
    inner = BodyApp()
    left_at_start: list[int] = []

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        left_at_start.append(len(recorder.incoming))
        await inner(scope, receive, send)

    head = multipart(field(b"csrf_token", MIDDLEWARE_TOKEN))[: -len(b"--XyZ--\r\n")]
    chunks = [head + b'--XyZ\r\nContent-Disposition: form-data; name="f"\r\n\r\n']
    chunks += [b"x" * 1024] * 100 + [b"\r\n--XyZ--\r\n"]
    recorder = Recorder.with_body(*chunks)
    middleware = CSRFMiddleware(counting, SECRET, max_body_size=2048)
    await recorder.run(middleware, form_scope(MULTIPART))
    assert recorder.status == 200
    assert left_at_start == [101]  # only the first message was read before the app ran
    assert recorder.body == b"".join(chunks)
    assert len(inner.received) == len(chunks)


@pytest.mark.anyio
async def test_scan_limit_stops_reading() -> None:
    chunks = [b"pad=" + b"x" * 1000] + [b"x" * 1000] * 1000 + [b"&csrf_token=" + MIDDLEWARE_TOKEN]
    recorder, inner = await post_chunks(URLENCODED, *chunks, max_body_size=10_000)
    assert (recorder.status, recorder.body) == (
        413,
        b"CSRF token not found within the form size limit",
    )
    assert inner.calls == 0
    assert len(recorder.incoming) == len(chunks) - 10  # the rest was never read


@pytest.mark.anyio
async def test_scan_limit_edges() -> None:
    """The field, and what ends it, must come within the limit, whatever the messages."""
    body = b"csrf_token=" + MIDDLEWARE_TOKEN
    for chunks, limit, status in [
        ((body,), len(body), 200),
        ((body,), len(body) - 1, 413),
        ((body[:20], body[20:]), len(body) - 1, 413),
        ((body + b"&", b"x" * 100), len(body) + 1, 200),
        ((body + b"&", b"x" * 100), len(body), 413),  # its end is past the limit
        ((body, b"&x"), len(body), 413),
    ]:
        recorder, _ = await post_chunks(URLENCODED, *chunks, max_body_size=limit)
        assert recorder.status == status, (chunks, limit)


@pytest.mark.anyio
async def test_field_after_a_long_value_across_many_messages() -> None:
    """A 1 MiB value without '&' in 1 KiB messages, then the field: found, body intact."""
    chunks = [b"pad="] + [b"y" * 1024] * 1000 + [b"&csrf_token=" + MIDDLEWARE_TOKEN]
    recorder, _ = await post_chunks(URLENCODED, *chunks, max_body_size=2 * 1024 * 1024)
    assert recorder.status == 200
    assert recorder.body == b"".join(chunks)


@pytest.mark.anyio
async def test_client_disconnect_while_scanning() -> None:
    inner = BodyApp()
    recorder = Recorder([{"type": "http.request", "body": b"a=1&", "more_body": True}])
    await recorder.run(CSRFMiddleware(inner, SECRET), form_scope(URLENCODED))
    assert recorder.sent == []
    assert inner.calls == 0


@pytest.mark.anyio
async def test_refused_form_gets_a_fresh_cookie_but_no_scan() -> None:
    """Without a valid cookie, the body is not even read."""
    inner = BodyApp()
    recorder = Recorder.with_body(b"csrf_token=" + MIDDLEWARE_TOKEN)
    scope = form_scope(URLENCODED, token=b"forged")
    await recorder.run(CSRFMiddleware(inner, SECRET), scope)
    assert (recorder.status, recorder.body) == (403, b"CSRF cookie invalid")
    assert len(recorder.incoming) == 1
    assert any(name == b"set-cookie" for name, _ in recorder.headers)
