"""Which coding a client gets from Accept-Encoding, and what the middleware accepts as options."""

from __future__ import annotations

import sys

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

import stellina.middleware.compress as compress_module
from stellina.asgi import get_header
from stellina.middleware import Middleware
from stellina.middleware.compress import DEFAULT_EXCLUDED_CONTENT_TYPES, CompressMiddleware
from stellina.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES as GZIP_DEFAULT
from stellina.types import ASGIApp, Receive, Scope, Send

BODY = b"A body worth compressing, said twice. " * 40


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


async def coding(middleware: ASGIApp, *accept: bytes) -> bytes | None:
    """The Content-Encoding of the answer to a request with these Accept-Encoding headers."""
    recorder = Recorder()
    scope = http_scope(headers=[(b"accept-encoding", value) for value in accept])
    await recorder.run(middleware, scope)
    assert recorder.status == 200
    return get_header(recorder.headers, b"content-encoding")


NEGOTIATION = [
    # the server's order on equal qualities: zstd, br, gzip
    (b"gzip, deflate, br, zstd", b"zstd"),
    (b"gzip, br", b"br"),
    (b"gzip", b"gzip"),
    (b"x-gzip", b"gzip"),
    (b"deflate", None),
    (b"compress, identity", None),
    # the client's qualities first
    (b"zstd;q=0.5, br;q=0.9, gzip;q=0.1", b"br"),
    (b"zstd;q=0.5, gzip", b"gzip"),
    (b"br;q=0.001, gzip;q=0.0005", b"br"),
    (b"zstd;q=1.0, br;q=1.000", b"zstd"),
    # q=0 is a refusal
    (b"zstd;q=0, br;q=0, gzip", b"gzip"),
    (b"zstd;q=0, br;q=0, gzip;q=0", None),
    (b"gzip;q=0.000", None),
    # a coding listed twice keeps its best quality
    (b"br;q=0, br;q=0.5, zstd;q=0.4", b"br"),
    # "*" covers every coding not listed
    (b"*", b"zstd"),
    (b"*;q=0.5, zstd;q=0.4", b"br"),
    (b"zstd;q=0, *", b"br"),
    (b"*;q=0", None),
    (b"*;q=0, gzip", b"gzip"),
    (b"gzip, *;q=0", b"gzip"),
    # identity: refusing it does not make an unacceptable coding acceptable
    (b"identity;q=0", None),
    (b"identity;q=0, gzip", b"gzip"),
    (b"identity;q=0, *", b"zstd"),
    # ... and preferring it over every coding means no compression
    (b"gzip;q=0.5, identity", None),
    (b"gzip;q=0.5, identity;q=0.5", b"gzip"),
    (b"identity;q=0.2, br;q=0.3", b"br"),
    # case and whitespace do not matter
    (b"GZIP", b"gzip"),
    (b"Br;Q=0.9, ZSTD;q=0.1", b"br"),
    (b"  br ;  q = 0.7 ,\tgzip;q=0.9  ", b"gzip"),
    (b"zstd;level=9;q=0.2, br;foo=bar", b"br"),
    # malformed qualities are refusals, never errors
    (b"zstd;q=bogus, br", b"br"),
    (b"zstd;q=, gzip", b"gzip"),
    (b"zstd;q=nan, br;q=inf, gzip;q=-0.5", None),
    (b"zstd;q=1.5, gzip;q=0.9", b"gzip"),
    (b"zstd;q, br", b"br"),
    (b",,, ;;, =;q=1, gzip", b"gzip"),
    (b"", None),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("accept", "expected"), NEGOTIATION)
async def test_negotiation(accept: bytes, expected: bytes | None) -> None:
    middleware = CompressMiddleware(app)
    assert await coding(middleware, accept) == expected
    assert await coding(middleware, accept) == expected  # the memoised answer is the same


@pytest.mark.anyio
async def test_several_accept_encoding_headers_are_one_list() -> None:
    middleware = CompressMiddleware(app)
    assert await coding(middleware, b"gzip", b"br;q=0.5") == b"gzip"
    assert await coding(middleware, b"zstd;q=0, br;q=0", b"gzip;q=0.1") == b"gzip"
    assert await coding(middleware, b"zstd;q=0", b"gzip;q=0.1, zstd;q=0.2") == b"zstd"


@pytest.mark.anyio
async def test_no_accept_encoding_means_no_compression() -> None:
    recorder = Recorder()
    await recorder.run(CompressMiddleware(app), http_scope())
    assert recorder.body == BODY
    assert get_header(recorder.headers, b"content-encoding") is None
    assert get_header(recorder.headers, b"vary") == b"Accept-Encoding"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("encodings", "accept", "expected"),
    [
        (("gzip", "br"), b"zstd, br, gzip", b"gzip"),
        (("gzip", "br"), b"zstd", None),
        (("br",), b"*", b"br"),
        (("gzip", "zstd"), b"zstd;q=0.9, gzip;q=0.9", b"gzip"),
        (["zstd"], b"gzip, zstd;q=0.1", b"zstd"),
    ],
)
async def test_encodings_restrict_and_reorder(
    encodings: tuple[str, ...], accept: bytes, expected: bytes | None
) -> None:
    middleware = CompressMiddleware(app, encodings=encodings)
    assert middleware.encodings == tuple(encodings)
    assert await coding(middleware, accept) == expected


def test_defaults() -> None:
    middleware = CompressMiddleware(app)
    assert middleware.encodings == ("zstd", "br", "gzip")  # both extras are installed here
    assert middleware.minimum_size == 500
    assert middleware.exclude_content_types == DEFAULT_EXCLUDED_CONTENT_TYPES == GZIP_DEFAULT
    assert "text/event-stream" in DEFAULT_EXCLUDED_CONTENT_TYPES
    assert middleware.exclude_paths == ()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"encodings": ("gzip", "deflate")}, "unknown encoding 'deflate'"),
        ({"encodings": ("brotli",)}, "unknown encoding 'brotli': choose among zstd, br, gzip"),
        ({"encodings": ("gzip", "gzip")}, "encoding 'gzip' is listed twice"),
        ({"encodings": ()}, "at least one encoding"),
        ({"minimum_size": -1}, "minimum_size must be 0 or more"),
        ({"thread_minimum_size": -1}, "thread_minimum_size must be 0 or more"),
        ({"gzip_level": 10}, "gzip_level must be between -1 and 9, not 10"),
        ({"brotli_quality": 12}, "brotli_quality must be between 0 and 11, not 12"),
        ({"brotli_quality": -1}, "brotli_quality must be between 0 and 11"),
        ({"zstd_level": 23}, "zstd_level must be between"),
        ({"exclude_paths": ["static"]}, "exclude_paths must start with '/'"),
    ],
)
def test_invalid_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CompressMiddleware(app, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["encodings", "exclude_paths", "exclude_content_types"])
def test_a_single_string_is_not_a_list(name: str) -> None:
    with pytest.raises(TypeError, match=name):
        CompressMiddleware(app, **{name: "gzip"})  # type: ignore[arg-type]


def test_levels_of_codecs_not_offered_are_not_checked() -> None:
    CompressMiddleware(app, encodings=("gzip",), brotli_quality=99, zstd_level=99)


@pytest.mark.anyio
async def test_uninstalled_codecs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)  # import brotli now raises ImportError
    monkeypatch.setattr(compress_module, "_ZSTD_MODULE", "stellina_test_no_zstd_here")
    with pytest.raises(ValueError, match=r"'br' needs its library: .*stellina-compress\[brotli\]"):
        CompressMiddleware(app, encodings=("br", "gzip"))
    with pytest.raises(ValueError, match=r"'zstd' needs its library: .*stellina-compress\[zstd\]"):
        CompressMiddleware(app, encodings=("zstd",))
    middleware = CompressMiddleware(app)  # the default offers what is installed: gzip
    assert middleware.encodings == ("gzip",)
    assert await coding(middleware, b"zstd, br, gzip;q=0.1") == b"gzip"
    assert await coding(middleware, b"zstd, br") is None


HOSTILE = [
    b"gzip;" + b"q=1;" * 50_000,
    b"br, " * 30_000 + b"zstd;q=0.5",
    b"\xff\xfe\x00gzip\x80;q=\xc3\xa9",
    "gzip;q=0.5, br;q=\u00e9".encode(),
    b"zstd;q=0." + b"0" * 100_000 + b"1",
    b"=" * 100_000,
    b";" * 100_000 + b"gzip",
    b"q=1;" * 20_000,
    bytes(range(256)) * 100,
]


@pytest.mark.anyio
@pytest.mark.parametrize("accept", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_accept_encoding_is_never_an_error(accept: bytes) -> None:
    recorder = Recorder()
    await recorder.run(CompressMiddleware(app), http_scope(headers=[(b"accept-encoding", accept)]))
    assert recorder.status == 200
    coding = get_header(recorder.headers, b"content-encoding")
    assert coding in (None, b"zstd", b"br", b"gzip")
    if coding is None:
        assert recorder.body == BODY


@pytest.mark.anyio
async def test_hostile_values_land_where_they_should() -> None:
    middleware = CompressMiddleware(app)
    assert await coding(middleware, HOSTILE[1]) == b"br"
    assert await coding(middleware, HOSTILE[4]) is None  # too many decimals: it rounds to 0
    assert await coding(middleware, HOSTILE[2]) is None


def test_hostile_values_over_a_real_client(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CompressMiddleware(app, encodings=("br", "gzip")))
    for value in ["gzip;q=nan", "br;q=-1, gzip;q=2", ";;;,,,=;q", "gzip;" + "q=1;" * 10_000]:
        response = client.get("/", headers={"Accept-Encoding": value})
        assert response.status_code == 200
        assert response.content == BODY
    response = client.get("/", headers={"Accept-Encoding": "br;q=0.4, gzip;q=0.6"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == BODY  # httpx decodes it


def test_usable_as_a_middleware_spec(test_client_factory: ClientFactory) -> None:
    cls, args, kwargs = Middleware(CompressMiddleware, minimum_size=10, encodings=("br",))
    response = test_client_factory(cls(app, *args, **kwargs)).get("/")
    assert response.headers["content-encoding"] == "br"
    assert response.content == BODY
