"""GZip compression decisions: who gets compressed, and the headers that say so."""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.middleware import Middleware
from stellina.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from stellina.types import Receive, Scope, Send

BODY = b"0123456789" * 100


def make_app(
    body: bytes = BODY, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An app answering ``body``; ``headers`` default to a plain-text content type."""
    if headers is None:
        headers = [(b"content-type", b"text/plain")]
    raw = [*headers, (b"content-length", str(len(body)).encode())]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(raw)})
        await send({"type": "http.response.body", "body": body})

    return app


def test_large_response_is_compressed(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(GZipMiddleware(make_app(headers=[(b"vary", b"Origin")])))
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.content == BODY  # httpx decodes gzip
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Origin, Accept-Encoding"
    assert int(response.headers["content-length"]) == len(gzip.compress(BODY, 9, mtime=0))
    assert int(response.headers["content-length"]) < len(BODY)


def test_small_response_is_untouched(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(GZipMiddleware(make_app(b"tiny")))
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.content == b"tiny"
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers


@pytest.mark.parametrize("level", [1, 6, 9])
def test_minimum_size_and_level(test_client_factory: ClientFactory, level: int) -> None:
    middleware = GZipMiddleware(make_app(b"a" * 20), minimum_size=20, compresslevel=level)
    response = test_client_factory(middleware).get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == b"a" * 20


@pytest.mark.parametrize(
    "accept",
    ["identity", "br", "gzip;q=0", "gzip; q=0.000", "*;q=0", "gzip;q=0, *", "x-gzip;q=0", ""],
)
def test_gzip_not_accepted(test_client_factory: ClientFactory, accept: str) -> None:
    client = test_client_factory(GZipMiddleware(make_app()))
    response = client.get("/", headers={"Accept-Encoding": accept})
    assert response.content == BODY
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == str(len(BODY))
    assert response.headers["vary"] == "Accept-Encoding"  # a gzip client gets another body


@pytest.mark.parametrize(
    "accept",
    ["GZIP", "deflate, gzip;q=0.5", "*", "br;q=1, *;q=0.1", "x-gzip", "gzip;q=bogus, x-gzip"],
)
def test_gzip_accepted(test_client_factory: ClientFactory, accept: str) -> None:
    client = test_client_factory(GZipMiddleware(make_app()))
    response = client.get("/", headers={"Accept-Encoding": accept})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == BODY


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (206, []),
        (200, [(b"content-encoding", b"x-house-codec")]),
        (200, [(b"content-type", b"text/event-stream; charset=utf-8")]),
        (200, [(b"content-type", b"application/grpc+proto")]),
        (200, [(b"content-type", b" IMAGE/PNG")]),
        (200, [(b"content-type", b"video/mp4")]),
        (200, [(b"content-type", b"audio")]),
        (200, [(b"content-type", b"font/woff2")]),
        (200, [(b"content-type", b"application/zip"), (b"content-type", b"text/html")]),
    ],
)
def test_excluded_responses(
    test_client_factory: ClientFactory, status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    client = test_client_factory(GZipMiddleware(make_app(status=status, headers=headers)))
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == status
    assert response.headers.get("content-encoding") != "gzip"
    assert "vary" not in response.headers


def test_hostile_accept_encoding(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(GZipMiddleware(make_app()))
    for value in ["gzip;q=nan", "gzip;q=-1", "gzip;q=2", ";;;,,,=;q", "gzip;" + "q=1;" * 50_000]:
        response = client.get("/", headers={"Accept-Encoding": value})
        assert response.status_code == 200
        assert response.content == BODY
    response = client.get("/", headers={"Accept-Encoding": "br, " * 30_000 + "gzip"})
    assert response.headers["content-encoding"] == "gzip"


def test_usable_as_a_middleware_spec(test_client_factory: ClientFactory) -> None:
    cls, args, kwargs = Middleware(GZipMiddleware, minimum_size=10, compresslevel=1)
    response = test_client_factory(cls(make_app(), *args, **kwargs)).get("/")
    assert response.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize(
    ("content_type", "excluded"),
    [
        ("application/grpc-web", False),
        ("image/svg+xml", False),
        ("application/zip+other", False),
        ("videos/x", False),
        ("text/html, image/png", False),
        ("text/html", False),
        ("image/webp;q=1", True),
    ],
)
@pytest.mark.anyio
async def test_default_exclusions(content_type: str, excluded: bool) -> None:
    middleware = GZipMiddleware(make_app(headers=[(b"content-type", content_type.encode())]))
    recorder = Recorder.with_body(b"")
    await recorder.run(middleware, http_scope(headers=[(b"accept-encoding", b"gzip")]))
    assert ((b"content-encoding", b"gzip") in recorder.headers) is not excluded


@pytest.mark.anyio
async def test_responders_are_usable_alone() -> None:
    recorder = Recorder.with_body(b"")
    await recorder.run(GZipResponder(make_app(), 10, compresslevel=1), http_scope(headers=[]))
    assert (b"content-encoding", b"gzip") in recorder.headers
    assert gzip.decompress(recorder.body) == BODY
    recorder = Recorder.with_body(b"")
    identity = IdentityResponder(make_app(), 10, exclude_content_types=())
    await recorder.run(identity, http_scope(headers=[(b"accept-encoding", b"gzip")]))
    assert (b"vary", b"Accept-Encoding") in recorder.headers
    assert recorder.body == BODY
    assert (GZipResponder.content_encoding, IdentityResponder.content_encoding) == (
        "gzip",
        "identity",
    )


def test_custom_exclusions(test_client_factory: ClientFactory) -> None:
    def encoding(content_type: bytes, excluded: tuple[str, ...]) -> str | None:
        app = make_app(headers=[(b"content-type", content_type)])
        client = test_client_factory(GZipMiddleware(app, exclude_content_types=excluded))
        response = client.get("/", headers={"Accept-Encoding": "gzip"})
        value: str | None = response.headers.get("content-encoding")
        return value

    assert encoding(b"text/event-stream", ()) == "gzip"
    assert encoding(b"text/html", ("Text/*",)) is None
    assert encoding(b"text/html", ("text/html; charset=utf-8",)) is None
    assert encoding(b"application/ld+json", ("application/ld",)) == "gzip"
    assert encoding(b"image/png", ("text/html",)) == "gzip"
