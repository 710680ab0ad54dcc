"""Signed-cookie sessions: saving, clearing, flags, and cookies a client made up."""

from __future__ import annotations

import json
from base64 import b64encode
from typing import Any

import itsdangerous
import pytest
from stellina_testing import ClientFactory, Recorder, http_scope, websocket_scope

from stellina.middleware import Middleware
from stellina.middleware.sessions import Session, SessionMiddleware
from stellina.types import Message, Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """/set?k=v stores k, /clear empties the session, /read only reads it."""
    session = scope["session"]
    path = scope["path"]
    if path == "/set":
        key, _, value = scope["query_string"].decode().partition("=")
        session[key] = value
    elif path == "/clear":
        session.clear()
    elif path == "/read":
        session.mark_accessed()
    body = json.dumps(dict(session)).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def signed(payload: bytes, secret: str = "secret") -> str:
    return itsdangerous.TimestampSigner(secret).sign(b64encode(payload)).decode()


def test_session_round_trip(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    response = client.get("/set?user=ada")
    assert response.json() == {"user": "ada"}
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith("session=")
    assert set_cookie.endswith("; path=/; Max-Age=1209600; httponly; samesite=lax")
    assert response.headers["vary"] == "Cookie"
    response = client.get("/")
    assert response.json() == {"user": "ada"}
    # Unchanged sessions are not sent again, and reading alone only varies.
    assert "set-cookie" not in response.headers
    assert "vary" not in response.headers
    response = client.get("/read")
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


def test_cleared_session_expires_the_cookie(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    client.get("/set?a=1")
    response = client.get("/clear")
    assert response.json() == {}
    assert response.headers["set-cookie"] == (
        "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax"
    )
    assert client.get("/").json() == {}
    # Emptying a session that was never stored sends no cookie.
    response = test_client_factory(SessionMiddleware(app, secret_key="secret")).get("/clear")
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


def test_cookie_options(test_client_factory: ClientFactory) -> None:
    middleware = SessionMiddleware(
        app,
        secret_key="secret",
        session_cookie="sid",
        max_age=None,
        path="/app",
        same_site="strict",
        https_only=True,
        domain="example.org",
    )
    response = test_client_factory(middleware).get("/set?a=1")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sid=")
    assert cookie.endswith("; path=/app; httponly; samesite=strict; secure; domain=example.org")
    partitioned = SessionMiddleware(app, secret_key="secret", max_age=0, partitioned=True)
    cookie = test_client_factory(partitioned).get("/set?a=1").headers["set-cookie"]
    assert cookie.endswith("; path=/; Max-Age=0; httponly; samesite=lax; partitioned")


def test_cookie_format_is_the_starlette_one(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    client.cookies.set("session", signed(b'{"from": "elsewhere"}'))
    assert client.get("/").json() == {"from": "elsewhere"}
    value = client.get("/set?a=1").headers["set-cookie"].split(";")[0].split("=", 1)[1]
    payload = itsdangerous.TimestampSigner("secret").unsign(value, max_age=60)
    assert payload == b64encode(json.dumps({"from": "elsewhere", "a": "1"}).encode())


@pytest.mark.parametrize(
    "cookie",
    [
        "garbage",
        "",
        "a.b.c",
        signed(b'{"a": 1}', secret="other"),
        signed(b"[1, 2]"),
        signed(b"null"),
        signed(b"not json"),
        signed(b"\xff\xfe"),
        signed(b'{"a": 1}') + "x",
        "x" * 100_000,
        "\u00e9" * 1000,
    ],
)
def test_bad_cookies_give_an_empty_session(test_client_factory: ClientFactory, cookie: str) -> None:
    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    response = client.get("/", headers={b"Cookie": f"session={cookie}".encode()})
    assert response.status_code == 200
    assert response.json() == {}
    assert "set-cookie" not in response.headers


class _LongAgoSigner(itsdangerous.TimestampSigner):
    def get_timestamp(self) -> int:
        return 1_000_000_000  # 2001


def test_expired_cookie_gives_an_empty_session(test_client_factory: ClientFactory) -> None:
    stale = _LongAgoSigner("secret").sign(b64encode(b'{"a": 1}')).decode()
    client = test_client_factory(SessionMiddleware(app, secret_key="secret", max_age=60))
    assert client.get("/", headers={"Cookie": f"session={stale}"}).json() == {}
    assert client.get("/", headers={"Cookie": f"session={signed(b'{}')}"}).json() == {}
    forever = test_client_factory(SessionMiddleware(app, secret_key="secret", max_age=None))
    assert forever.get("/", headers={"Cookie": f"session={stale}"}).json() == {"a": 1}


def test_cookie_header_parsing(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    good = signed(b'{"a": 1}')
    cases = {
        f"other=1; session={good}; x": {"a": 1},
        f'session="{good}"': {"a": 1},
        f"session={good}; session=bad": {},  # the last one wins
        f"xsession={good}": {},
        ";;; = ;session": {},
    }
    for header, expected in cases.items():
        assert client.get("/", headers={"Cookie": header}).json() == expected


def test_usable_as_a_middleware_spec(test_client_factory: ClientFactory) -> None:
    cls, args, kwargs = Middleware(SessionMiddleware, secret_key="secret", max_age=10)
    response = test_client_factory(cls(app, *args, **kwargs)).get("/set?a=1")
    assert "Max-Age=10;" in response.headers["set-cookie"]


@pytest.mark.parametrize(
    "options",
    [{"session_cookie": "a\r\nb"}, {"session_cookie": "a=b"}, {"path": "/\n"}, {"domain": "x;y"}],
)
def test_header_injection_in_options_is_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SessionMiddleware(app, secret_key="secret", **options)


@pytest.mark.anyio
async def test_websocket_gets_the_session() -> None:
    seen: list[Any] = []

    async def ws_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["session"]))
        await send({"type": "websocket.accept"})

    recorder = Recorder(last={"type": "websocket.connect"})
    for payload in (b"{}", b'{"a": 2}'):
        cookie = b"session=" + signed(payload).encode()
        scope = websocket_scope(headers=[(b"cookie", cookie)])
        await recorder.run(SessionMiddleware(ws_app, secret_key="secret"), scope)
    assert seen == [{}, {"a": 2}]
    assert recorder.sent == [{"type": "websocket.accept"}] * 2


def test_replacing_the_session_dict_saves_it(test_client_factory: ClientFactory) -> None:
    async def replacing(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"] = {"new": True}
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = test_client_factory(SessionMiddleware(replacing, secret_key="secret"))
    assert client.get("/").headers["set-cookie"].startswith("session=")
    assert isinstance(Session(), dict)


@pytest.mark.anyio
async def test_random_cookies_never_fail() -> None:
    import random

    rng = random.Random(1234)
    good = signed(b'{"a": 1}').encode()
    pieces = [b".", b"=", b";", b'"', b"\\", b"\x00", b"\xff", b"session", good, b"A", b"-_"]
    seen: list[Any] = []

    async def reader(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["session"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        assert all(
            b"\r" not in value and b"\n" not in value for _, value in message.get("headers", ())
        )

    middleware = SessionMiddleware(reader, secret_key="secret")
    for _ in range(300):
        value = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        scope = {"type": "http", "headers": [(b"cookie", b"session=" + value)]}
        await middleware(scope, receive, send)
    assert all(session in ({}, {"a": 1}) for session in seen)
    assert {"a": 1} in seen


@pytest.mark.anyio
async def test_vary_cookie_joins_the_existing_vary_headers() -> None:
    async def reading(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"].mark_accessed()
        headers = [(b"vary", b"Accept"), (b"vary", b"Origin, cookie")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    recorder = Recorder()
    await recorder.run(SessionMiddleware(reading, secret_key="s"), http_scope())
    assert [value for name, value in recorder.headers if name == b"vary"] == [
        b"Accept, Origin, cookie"
    ]


def test_the_secret_key_is_not_kept() -> None:
    middleware = SessionMiddleware(app, secret_key="very-secret-value")
    assert "very-secret-value" not in repr(middleware)
    assert not hasattr(middleware, "secret_key")
