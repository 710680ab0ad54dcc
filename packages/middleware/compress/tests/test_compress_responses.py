"""What is left alone, the headers of what is compressed, and messages that pass through."""

from __future__ import annotations

import gzip
import random

import pytest
import stellina_testing
from stellina_testing import ClientFactory, Recorder

from stellina.asgi import get_header
from stellina.middleware.compress import CompressMiddleware
from stellina.types import ASGIApp, Message, Receive, Scope, Send

BODY = b"0123456789abcdef" * 100
RawHeaders = list[tuple[bytes, bytes]]


def make_app(body: bytes = BODY, status: int = 200, headers: RawHeaders | None = None) -> ASGIApp:
    """An app answering ``body`` in one message; ``headers`` default to a text type."""
    raw = [(b"content-type", b"text/plain")] if headers is None else headers
    raw = [*raw, (b"content-length", b"%d" % len(body))]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(raw)})
        await send({"type": "http.response.body", "body": body})

    return app


def scripted(*messages: Message) -> ASGIApp:
    """An app that sends ``messages``, as they are."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    return app


def http_scope(accept: bytes = b"gzip", **overrides: object) -> Scope:
    return stellina_testing.http_scope(headers=[(b"accept-encoding", accept)], **overrides)


async def call(app: ASGIApp, scope: Scope | None = None) -> Recorder:
    recorder = Recorder()
    await recorder.run(app, http_scope() if scope is None else scope)
    return recorder


def start(status: int = 200, headers: RawHeaders | None = None, **extra: object) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers or [], **extra}


def body(data: bytes, more: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


# --- left alone ------------------------------------------------------------------------------

UNTOUCHED = [
    ("partial", make_app(status=206)),
    ("encoded", make_app(headers=[(b"content-encoding", b"br")])),
    ("event stream", make_app(headers=[(b"content-type", b"text/event-stream; charset=utf-8")])),
    ("image", make_app(headers=[(b"content-type", b"IMAGE/PNG")])),
    ("video", make_app(headers=[(b"content-type", b"video/mp4")])),
    ("grpc", make_app(headers=[(b"content-type", b"application/grpc+proto")])),
    ("no-transform", make_app(headers=[(b"cache-control", b"public, No-Transform")])),
    ("small", make_app(b"x" * 499)),
    ("empty", make_app(b"")),
    ("204", scripted(start(204), body(b""))),
    ("304", scripted(start(304, [(b"etag", b'"v1"')]), body(b""))),
    ("205", scripted(start(205), body(b""))),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("case", "app"), UNTOUCHED, ids=[case for case, _ in UNTOUCHED])
async def test_left_alone(case: str, app: ASGIApp) -> None:
    expected = await call(app)  # the app alone
    recorder = await call(CompressMiddleware(app))
    assert recorder.sent == expected.sent


@pytest.mark.anyio
async def test_head_requests_pass_through_untouched() -> None:
    app = scripted(start(200, [(b"content-length", b"5000"), (b"etag", b'"x"')]), body(b""))
    recorder = await call(CompressMiddleware(app), http_scope(method="HEAD"))
    assert recorder.sent == [
        start(200, [(b"content-length", b"5000"), (b"etag", b'"x"')]),
        body(b""),
    ]


@pytest.mark.anyio
async def test_minimum_size() -> None:
    middleware = CompressMiddleware(make_app(b"a" * 100), minimum_size=100)
    recorder = await call(middleware)
    assert get_header(recorder.headers, b"content-encoding") == b"gzip"
    assert gzip.decompress(recorder.body) == b"a" * 100
    recorder = await call(CompressMiddleware(make_app(b"a" * 99), minimum_size=100))
    assert recorder.body == b"a" * 99
    assert get_header(recorder.headers, b"vary") is None  # nobody gets it compressed


@pytest.mark.anyio
async def test_minimum_size_zero_still_leaves_empty_bodies_alone() -> None:
    recorder = await call(CompressMiddleware(make_app(b""), minimum_size=0))
    assert recorder.headers == [(b"content-type", b"text/plain"), (b"content-length", b"0")]


@pytest.mark.anyio
async def test_custom_excluded_types() -> None:
    middleware = CompressMiddleware(
        make_app(headers=[(b"content-type", b"application/json")]),
        exclude_content_types=["application/*", "text/csv; charset=utf-8"],
    )
    assert get_header((await call(middleware)).headers, b"content-encoding") is None
    middleware = CompressMiddleware(
        make_app(headers=[(b"content-type", b"Text/CSV")]), exclude_content_types=["text/csv"]
    )
    assert get_header((await call(middleware)).headers, b"content-encoding") is None
    middleware = CompressMiddleware(
        make_app(headers=[(b"content-type", b"image/png")]), exclude_content_types=()
    )
    assert get_header((await call(middleware)).headers, b"content-encoding") == b"gzip"


@pytest.mark.anyio
async def test_incompressible_bodies_are_sent_as_they_are() -> None:
    noise = random.Random(7).randbytes(4000)
    recorder = await call(CompressMiddleware(make_app(noise)))
    assert recorder.body == noise
    assert recorder.headers == [
        (b"content-type", b"text/plain"),
        (b"content-length", b"4000"),
        (b"vary", b"Accept-Encoding"),  # another body might have been compressed
    ]


# --- streams: the size rule ------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_stream_is_compressed_whatever_the_size_of_its_chunks() -> None:
    app = scripted(start(200), body(b"a", more=True), body(b"b"))
    recorder = await call(CompressMiddleware(app))
    assert get_header(recorder.headers, b"content-encoding") == b"gzip"
    assert gzip.decompress(recorder.body) == b"ab"


@pytest.mark.anyio
async def test_a_stream_declaring_a_small_length_is_left_alone() -> None:
    app = scripted(start(200, [(b"content-length", b"2")]), body(b"a", more=True), body(b"b"))
    expected = await call(app)
    assert (await call(CompressMiddleware(app))).sent == expected.sent
    app = scripted(start(200, [(b"content-length", b"600")]), body(b"a" * 300, True), body(b"b"))
    recorder = await call(CompressMiddleware(app))
    assert get_header(recorder.headers, b"content-encoding") == b"gzip"
    assert get_header(recorder.headers, b"content-length") is None


# --- headers ---------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        ([], [b"Accept-Encoding"]),
        ([b"Origin"], [b"Origin, Accept-Encoding"]),
        ([b"Origin", b"Cookie"], [b"Origin, Cookie, Accept-Encoding"]),
        ([b"accept-encoding"], [b"accept-encoding"]),
        ([b"*"], [b"*"]),
    ],
)
async def test_vary_is_merged(vary: list[bytes], expected: list[bytes]) -> None:
    headers = [(b"vary", value) for value in vary]
    for accept in (b"gzip", b"identity"):  # the uncompressed answer varies too
        recorder = await call(CompressMiddleware(make_app(headers=headers)), http_scope(accept))
        assert [value for name, value in recorder.headers if name == b"vary"] == expected


@pytest.mark.anyio
async def test_headers_of_a_compressed_body() -> None:
    headers = [
        (b"content-type", b"text/plain"),
        (b"etag", b'"v1"'),
        (b"x-other", b"kept"),
    ]
    recorder = await call(CompressMiddleware(make_app(headers=headers)))
    compressed = recorder.body
    assert recorder.headers == [
        (b"content-type", b"text/plain"),
        (b"etag", b'W/"v1"'),
        (b"x-other", b"kept"),
        (b"vary", b"Accept-Encoding"),
        (b"content-encoding", b"gzip"),
        (b"content-length", b"%d" % len(compressed)),
    ]
    assert gzip.decompress(compressed) == BODY


@pytest.mark.anyio
async def test_weak_etags_stay_as_they_are() -> None:
    app = make_app(headers=[(b"etag", b'W/"v1"')])
    recorder = await call(CompressMiddleware(app))
    assert get_header(recorder.headers, b"etag") == b'W/"v1"'


@pytest.mark.anyio
async def test_an_uncompressed_answer_keeps_its_etag_and_length() -> None:
    app = make_app(headers=[(b"etag", b'"v1"')])
    recorder = await call(CompressMiddleware(app), http_scope(b"deflate"))
    assert recorder.headers == [
        (b"etag", b'"v1"'),
        (b"content-length", b"%d" % len(BODY)),
        (b"vary", b"Accept-Encoding"),
    ]
    assert recorder.body == BODY


@pytest.mark.anyio
async def test_a_stream_loses_its_length_and_its_strong_etag() -> None:
    headers = [(b"content-length", b"2000"), (b"etag", b'"s"')]
    app = scripted(start(200, headers), body(b"x" * 1000, more=True), body(b"y" * 1000))
    recorder = await call(CompressMiddleware(app))
    assert recorder.headers == [
        (b"etag", b'W/"s"'),
        (b"vary", b"Accept-Encoding"),
        (b"content-encoding", b"gzip"),
    ]
    assert gzip.decompress(recorder.body) == b"x" * 1000 + b"y" * 1000


@pytest.mark.anyio
async def test_the_apps_messages_are_not_modified() -> None:
    headers = [(b"content-type", b"text/plain"), (b"etag", b'"v1"')]
    sent = [start(200, headers), body(BODY)]
    app = scripted(*sent)
    await call(CompressMiddleware(app))
    await call(CompressMiddleware(app))  # the same dicts a second time
    assert sent == [start(200, [(b"content-type", b"text/plain"), (b"etag", b'"v1"')]), body(BODY)]


def test_through_a_client(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CompressMiddleware(make_app(), encodings=("br", "gzip")))
    response = client.get("/", headers={"Accept-Encoding": "gzip;q=0.5, br"})
    assert response.headers["content-encoding"] == "br"
    assert response.content == BODY  # httpx decodes it
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == BODY


# --- exclude_paths ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "root_path", "compressed"),
    [
        ("/static", "", False),
        ("/static/", "", False),
        ("/static/app.js", "", False),
        ("/staticky", "", True),
        ("/api/static/x", "", True),
        ("/metrics", "", False),
        ("/app/static/x", "/app", False),  # the route path is below root_path
        ("/app/metrics", "/app", False),
        ("/app/other", "/app", True),
        ("/", "", True),
    ],
)
async def test_exclude_paths(path: str, root_path: str, compressed: bool) -> None:
    middleware = CompressMiddleware(make_app(), exclude_paths=("/static/", "/metrics"))
    recorder = await call(middleware, http_scope(path=path, root_path=root_path))
    assert (get_header(recorder.headers, b"content-encoding") == b"gzip") is compressed
    if not compressed:
        assert get_header(recorder.headers, b"vary") is None


@pytest.mark.anyio
async def test_exclude_everything() -> None:
    middleware = CompressMiddleware(make_app(), exclude_paths=["/"])
    for path in ("/", "/a/b"):
        recorder = await call(middleware, http_scope(path=path))
        assert recorder.body == BODY


# --- other messages and scopes ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["http.response.pathsend", "http.response.zerocopysend"])
async def test_file_sends_pass_through_uncompressed(kind: str) -> None:
    headers = [(b"content-type", b"text/html"), (b"content-length", b"9000")]
    file_message = {"type": kind, "path": "index.html"}
    app = scripted(start(200, headers), file_message)
    recorder = await call(CompressMiddleware(app))
    assert recorder.sent == [start(200, headers), file_message]


@pytest.mark.anyio
async def test_early_hints_and_unknown_messages_are_passed_on() -> None:
    hint = {"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]}
    debug = {"type": "http.response.debug", "info": {}}
    app = scripted(hint, start(200), debug, body(BODY))
    recorder = await call(CompressMiddleware(app))
    assert recorder.sent[:3] == [hint, start(200), debug]  # the start no longer waits
    assert recorder.sent[3] == body(BODY)


@pytest.mark.anyio
async def test_early_hints_before_the_start_do_not_stop_compression() -> None:
    hint = {"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]}
    app = scripted(hint, start(200), body(BODY))
    recorder = await call(CompressMiddleware(app))
    assert [message["type"] for message in recorder.sent] == [
        "http.response.early_hint",
        "http.response.start",
        "http.response.body",
    ]
    assert gzip.decompress(recorder.sent[2]["body"]) == BODY


@pytest.mark.anyio
async def test_a_body_without_a_start_is_not_ours_to_judge() -> None:
    app = scripted(body(BODY))
    assert (await call(CompressMiddleware(app))).sent == [body(BODY)]


@pytest.mark.anyio
@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_non_http_scopes_pass_through(scope_type: str) -> None:
    seen: list[tuple[str, object]] = []
    scope: Scope = {"type": scope_type, "headers": [(b"accept-encoding", b"gzip")]}

    async def app(scope_: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope_["type"], send))
        await send({"type": f"{scope_type}.probe"})

    recorder = Recorder()
    await CompressMiddleware(app)(scope, recorder.receive, recorder.send)
    assert seen == [(scope_type, recorder.send)]  # the server's own send: nothing in between
    assert recorder.sent == [{"type": f"{scope_type}.probe"}]
