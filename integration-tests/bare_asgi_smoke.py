"""Run one middleware distribution around a bare ASGI app, with nothing else installed.

Used by test_wheels.py inside a fresh virtual environment:
``python bare_asgi_smoke.py stellina-cors`` exits 0 when the middleware answered as expected.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The shared test harness is a plain file of the repository, not an installed distribution.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))
from stellina_testing import Recorder, http_scope

Message = dict[str, Any]


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b"hello " * 200
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"1200")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def call(app: Any, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    scope = http_scope(headers=[(b"host", b"testserver"), *headers])
    return asyncio.run(Recorder.with_body().run(app, scope))


def header(messages: list[Message], name: bytes) -> bytes | None:
    return dict(messages[0]["headers"]).get(name)


def cors() -> None:
    from stellina.middleware import Middleware
    from stellina.middleware.cors import CORSMiddleware

    sent = call(
        CORSMiddleware(hello, allow_origins=["https://a.example"]),
        [(b"origin", b"https://a.example")],
    )
    assert header(sent, b"access-control-allow-origin") == b"https://a.example", sent
    # The spec an application builds its stack from, with nothing but stellina-cors installed.
    factory, args, kwargs = Middleware(CORSMiddleware, allow_origins=["*"])
    assert factory is CORSMiddleware
    sent = call(factory(hello, *args, **kwargs), [(b"origin", b"https://b.example")])
    assert header(sent, b"access-control-allow-origin") == b"*", sent


def gzip() -> None:
    from stellina.middleware.gzip import GZipMiddleware

    sent = call(GZipMiddleware(hello), [(b"accept-encoding", b"gzip")])
    assert header(sent, b"content-encoding") == b"gzip", sent


def trustedhost() -> None:
    from stellina.middleware.trustedhost import TrustedHostMiddleware

    assert (
        call(TrustedHostMiddleware(hello, allowed_hosts=["other.example"]), [])[0]["status"] == 400
    )


def httpsredirect() -> None:
    from stellina.middleware.httpsredirect import HTTPSRedirectMiddleware

    sent = call(HTTPSRedirectMiddleware(hello), [])
    assert sent[0]["status"] == 307
    assert header(sent, b"location") == b"https://testserver/", sent


def bodylimit() -> None:
    from stellina.middleware.body_limit import RequestBodyLimitMiddleware

    sent = call(RequestBodyLimitMiddleware(hello, max_body_size=10), [(b"content-length", b"11")])
    assert sent[0]["status"] == 413, sent


def errors() -> None:
    from stellina.middleware.errors import ServerErrorMiddleware

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("broken")

    recorder = Recorder.with_body()
    try:
        asyncio.run(recorder.run(ServerErrorMiddleware(broken), http_scope()))
    except RuntimeError:
        assert recorder.status == 500, recorder.sent
    else:
        raise AssertionError("the error must reach the server")


def sessions() -> None:
    from stellina.middleware.sessions import SessionMiddleware

    async def count(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["n"] = 1
        await hello(scope, receive, send)

    sent = call(SessionMiddleware(count, secret_key="k"), [])
    assert (header(sent, b"set-cookie") or b"").startswith(b"session="), sent


def wsgi() -> None:
    from stellina.middleware.wsgi import WSGIMiddleware

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from wsgi"]

    sent = call(WSGIMiddleware(app), [])
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"from wsgi"


def compress() -> None:
    from stellina.middleware.compress import CompressMiddleware

    # Alone (no extra installed), gzip from the standard library is what it offers.
    sent = call(CompressMiddleware(hello), [(b"accept-encoding", b"zstd, br, gzip")])
    assert header(sent, b"content-encoding") == b"gzip", sent


def csrf() -> None:
    from stellina.middleware.csrf import CSRFMiddleware

    app = CSRFMiddleware(hello, "k")
    safe = call(app, [])
    cookie = header(safe, b"set-cookie") or b""
    assert cookie.startswith(b"csrftoken="), safe
    same_origin_get = call(app, [(b"origin", b"http://testserver")])
    assert same_origin_get[0]["status"] == 200, same_origin_get  # GET is safe
    scope = http_scope(method="POST", headers=[(b"host", b"testserver")])
    posted = asyncio.run(Recorder.with_body().run(app, scope))
    assert posted[0]["status"] == 403, posted


CHECKS: dict[str, Callable[[], None]] = {
    "stellina-compress": compress,
    "stellina-csrf": csrf,
    "stellina-cors": cors,
    "stellina-gzip": gzip,
    "stellina-trustedhost": trustedhost,
    "stellina-httpsredirect": httpsredirect,
    "stellina-bodylimit": bodylimit,
    "stellina-errors": errors,
    "stellina-sessions": sessions,
    "stellina-wsgi": wsgi,
}

if __name__ == "__main__":
    CHECKS[sys.argv[1]]()
