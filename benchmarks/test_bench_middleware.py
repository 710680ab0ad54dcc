"""The standalone middleware against Starlette's, and against a bare app where they pass through."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from benchlib import (
    BIG_JSON,
    HELLO,
    IMPLS,
    KIB,
    MIB,
    PEERS,
    PROSE,
    fixed_app,
    json_body,
    module,
    time_tiny_beside_big,
)
from stellina_testing import read_body as drain

from stellina.types import ASGIApp, Receive, Scope, Send


def wrap(impl: str, name: str, cls: str, app: ASGIApp, **options: Any) -> ASGIApp:
    if impl == "bare":
        return app
    middleware: ASGIApp = getattr(module(impl, f"middleware.{name}"), cls)(app, **options)
    return middleware


def run(benchmark: Any, driver: Any, app: ASGIApp, scope: Scope, status: int = 200) -> None:
    messages = benchmark(driver.call, app, scope)
    assert messages[0]["status"] == status


# --- CORS -------------------------------------------------------------------------------

CORS_OPTIONS = {
    "allow_origins": ["https://app.example.com", "https://admin.example.com"],
    "allow_methods": ["GET", "POST", "PUT"],
    "allow_headers": ["X-Token", "X-Request-Id"],
    "allow_credentials": True,
    "expose_headers": ["X-Total"],
}


@pytest.mark.parametrize("impl", PEERS)
def test_cors_simple(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "cors: simple request"
    app = wrap(impl, "cors", "CORSMiddleware", HELLO, **CORS_OPTIONS)
    run(benchmark, driver, app, make_scope(headers=[(b"origin", b"https://admin.example.com")]))


@pytest.mark.parametrize("impl", PEERS)
def test_cors_preflight(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "cors: preflight"
    app = wrap(impl, "cors", "CORSMiddleware", HELLO, **CORS_OPTIONS)
    headers = [
        (b"origin", b"https://app.example.com"),
        (b"access-control-request-method", b"PUT"),
        (b"access-control-request-headers", b"x-token, content-type"),
    ]
    run(benchmark, driver, app, make_scope(method="OPTIONS", headers=headers))


# --- GZip -------------------------------------------------------------------------------

ACCEPT_GZIP = [(b"accept-encoding", b"gzip, deflate, br, zstd")]


GZIP_BODIES = {
    "32KiB JSON": (lambda: json_body(32 * KIB), b"application/json"),
    "1MiB JSON": (lambda: json_body(MIB), b"application/json"),
    "32KiB text": (lambda: (PROSE * (32 * KIB // len(PROSE) + 1))[: 32 * KIB], b"text/plain"),
    "1MiB text": (lambda: (PROSE * (MIB // len(PROSE) + 1))[:MIB], b"text/plain"),
    "32KiB incompressible": (lambda: random.Random(16).randbytes(32 * KIB), b"text/plain"),
}
GZIP_CASES = [
    (body, level)
    for body in ("32KiB JSON", "1MiB JSON", "32KiB text", "1MiB text")
    for level in (1, 6, 9)
]
GZIP_CASES += [("32KiB incompressible", 1)]


@pytest.mark.parametrize("impl", PEERS)
@pytest.mark.parametrize(("body", "level"), GZIP_CASES, ids=[f"{b}-{lv}" for b, lv in GZIP_CASES])
def test_gzip_compress(
    benchmark: Any, driver: Any, make_scope: Any, impl: str, body: str, level: int
) -> None:
    benchmark.group = f"gzip: {body} level {level}"
    make_body, content_type = GZIP_BODIES[body]
    inner = fixed_app(make_body(), content_type)
    app = wrap(impl, "gzip", "GZipMiddleware", inner, compresslevel=level)
    messages = benchmark(driver.call, app, make_scope(headers=ACCEPT_GZIP))
    assert dict(messages[0]["headers"])[b"content-encoding"] == b"gzip"


@pytest.mark.parametrize("impl", IMPLS)
def test_gzip_loop_responsiveness(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    """The latency of a tiny request while a 10 MiB response compresses (bare: sent as is)."""
    benchmark.group = "gzip: tiny request while 10 MiB compresses"
    big_app = wrap(impl, "gzip", "GZipMiddleware", fixed_app(BIG_JSON, b"application/json"))
    tiny = wrap(impl, "gzip", "GZipMiddleware", HELLO)
    scope = make_scope(headers=ACCEPT_GZIP)
    time_tiny_beside_big(benchmark, driver.loop, big_app, tiny, scope)


# --- Sessions ---------------------------------------------------------------------------

SECRET = "benchmark-secret"


def session_app(write: bool) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = scope["session"]
        if write:
            session["visits"] = session.get("visits", 0) + 1
        else:
            assert session["user"] == "ada"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def session_cookie() -> bytes:
    import base64

    import itsdangerous

    payload = base64.b64encode(json.dumps({"user": "ada", "roles": ["admin"]}).encode())
    return b"theme=dark; session=" + itsdangerous.TimestampSigner(SECRET).sign(payload)


@pytest.mark.parametrize("impl", PEERS)
def test_sessions_load(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "sessions: load"
    app = wrap(impl, "sessions", "SessionMiddleware", session_app(False), secret_key=SECRET)
    run(benchmark, driver, app, make_scope(headers=[(b"cookie", session_cookie())]))


@pytest.mark.parametrize("impl", PEERS)
def test_sessions_save(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "sessions: load and save"
    app = wrap(impl, "sessions", "SessionMiddleware", session_app(True), secret_key=SECRET)
    messages = benchmark(driver.call, app, make_scope(headers=[(b"cookie", session_cookie())]))
    assert b"set-cookie" in dict(messages[0]["headers"])


# --- TrustedHost, HTTPSRedirect ------------------------------------------------------------

HOSTS = ["example.com", "*.example.org", "127.0.0.1", "localhost"]


@pytest.mark.parametrize("impl", PEERS)
def test_trustedhost_refused(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "trustedhost: refused host"
    app = wrap(impl, "trustedhost", "TrustedHostMiddleware", HELLO, allowed_hosts=HOSTS)
    scope = make_scope()
    scope["headers"] = [(b"host", b"evil.com")]
    run(benchmark, driver, app, scope, status=400)


@pytest.mark.parametrize("impl", PEERS)
def test_httpsredirect_redirect(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "httpsredirect: redirect"
    app = wrap(impl, "httpsredirect", "HTTPSRedirectMiddleware", HELLO)
    run(benchmark, driver, app, make_scope(path="/a/b", query_string=b"x=1"), status=307)


# --- Pass-through: the middleware has nothing to do --------------------------------------

PASS_THROUGH: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    "cors: no Origin (pass-through)": ("cors", "CORSMiddleware", CORS_OPTIONS, {}),
    "gzip: small body (pass-through)": ("gzip", "GZipMiddleware", {}, {"headers": ACCEPT_GZIP}),
    "sessions: no cookie, untouched": ("sessions", "SessionMiddleware", {"secret_key": SECRET}, {}),
    "trustedhost: allowed host (pass-through)": (
        "trustedhost",
        "TrustedHostMiddleware",
        {"allowed_hosts": HOSTS},
        {},
    ),
    "httpsredirect: https (pass-through)": (
        "httpsredirect",
        "HTTPSRedirectMiddleware",
        {},
        {"scheme": "https"},
    ),
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", list(PASS_THROUGH))
def test_pass_through(benchmark: Any, driver: Any, make_scope: Any, case: str, impl: str) -> None:
    benchmark.group = case
    name, cls, options, scope_options = PASS_THROUGH[case]
    app = wrap(impl, name, cls, HELLO, **options)
    run(benchmark, driver, app, make_scope(**scope_options))


# --- Body limit (no Starlette peer) ---------------------------------------------------------


def limit_app(impl: str) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await drain(receive)
        await HELLO(scope, receive, send)

    if impl == "bare":
        return app
    from stellina.middleware.body_limit import RequestBodyLimitMiddleware

    return RequestBodyLimitMiddleware(app, max_body_size=1024 * 1024)


@pytest.mark.parametrize("impl", ("bare", "stellina"))
def test_bodylimit_streamed(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "bodylimit: chunked body within the limit"
    scope = make_scope(method="POST", headers=[(b"transfer-encoding", b"chunked")])
    messages = benchmark(driver.call, limit_app(impl), scope, [b"x" * 1024] * 4)
    assert messages[0]["status"] == 200


@pytest.mark.parametrize("impl", ("bare", "stellina"))
def test_bodylimit_declared(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "bodylimit: Content-Length within the limit"
    scope = make_scope(method="POST", headers=[(b"content-length", b"4096")])
    messages = benchmark(driver.call, limit_app(impl), scope, [b"x" * 4096])
    assert messages[0]["status"] == 200
