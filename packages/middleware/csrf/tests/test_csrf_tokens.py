"""The token: its cookie, the header check, and the attacks on a double-submit token."""

from __future__ import annotations

import itsdangerous
import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.middleware.csrf import SCOPE_KEY, CSRFMiddleware
from stellina.testclient import TestClient
from stellina.types import Receive, Scope, Send

SECRET = "test-secret"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the token the middleware exposed, in a header and as the body."""
    token = scope[SCOPE_KEY].encode()
    headers = [(b"content-type", b"text/plain"), (b"x-token", token)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"done " + token})


def client_with_token(
    factory: ClientFactory, middleware: CSRFMiddleware, **options: str
) -> tuple[TestClient, str]:
    """A client that holds the cookie of a first GET, and the token it was given."""
    client = factory(middleware, **options)
    response = client.get("/")
    assert response.status_code == 200
    return client, response.headers["x-token"]


def set_cookies(response_headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [value for name, value in response_headers if name == b"set-cookie"]


# --- the cookie ----------------------------------------------------------------------------


def test_safe_request_gets_a_readable_signed_cookie(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(app, SECRET))
    response = client.get("/")
    token = response.headers["x-token"]
    assert response.headers["set-cookie"] == f"csrftoken={token}; Path=/; SameSite=Lax"
    assert "httponly" not in response.headers["set-cookie"].lower()
    # The cookie value is the scope's token: a signed, timestamped random string.
    raw, timestamp, signature = token.split(".")
    assert len(raw) == 43 and timestamp and signature
    assert client.cookies["csrftoken"] == token
    assert response.text == f"done {token}"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_every_safe_method_passes_without_a_token(
    test_client_factory: ClientFactory, method: str
) -> None:
    response = test_client_factory(CSRFMiddleware(app, SECRET)).request(method, "/")
    assert response.status_code == 200
    assert response.headers["set-cookie"].startswith("csrftoken=")


def test_valid_cookie_is_not_set_again(test_client_factory: ClientFactory) -> None:
    client, token = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    response = client.get("/")
    assert "set-cookie" not in response.headers
    assert response.headers["x-token"] == token
    response = client.post("/", headers={"x-csrftoken": token})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers


def test_each_client_gets_its_own_token(test_client_factory: ClientFactory) -> None:
    middleware = CSRFMiddleware(app, SECRET)
    _, first = client_with_token(test_client_factory, middleware)
    _, second = client_with_token(test_client_factory, middleware)
    assert first.split(".")[0] != second.split(".")[0]


def test_https_cookie_is_secure(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(app, SECRET), base_url="https://testserver")
    response = client.get("/")
    assert response.headers["set-cookie"].endswith("; Path=/; SameSite=Lax; Secure")


def test_cookie_attributes(test_client_factory: ClientFactory) -> None:
    middleware = CSRFMiddleware(
        app,
        SECRET,
        cookie_name="__Host-csrf",
        cookie_secure=True,
        cookie_samesite="Strict",
        max_age=3600,
    )
    response = test_client_factory(middleware).get("/")
    token = response.headers["x-token"]
    assert response.headers["set-cookie"] == (
        f"__Host-csrf={token}; Path=/; Max-Age=3600; SameSite=Strict; Secure"
    )
    middleware = CSRFMiddleware(
        app, SECRET, cookie_path="/app", cookie_domain="example.com", cookie_secure=False
    )
    response = test_client_factory(middleware).get("/")
    assert response.headers["set-cookie"].endswith("; Path=/app; Domain=example.com; SameSite=Lax")


def test_custom_names(test_client_factory: ClientFactory) -> None:
    middleware = CSRFMiddleware(app, SECRET, cookie_name="xsrf", header_name="X-XSRF-Token")
    client, token = client_with_token(test_client_factory, middleware)
    assert client.cookies["xsrf"] == token
    assert client.post("/", headers={"x-csrftoken": token}).text == "CSRF token missing"
    assert client.post("/", headers={"X-XSRF-Token": token}).status_code == 200


# --- the header check ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unsafe_method_with_the_header_passes(
    test_client_factory: ClientFactory, method: str
) -> None:
    client, token = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    response = client.request(method, "/", headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.text == f"done {token}"


def test_missing_token(test_client_factory: ClientFactory) -> None:
    client, _ = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    response = client.post("/", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 403
    assert response.text == "CSRF token missing"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_missing_cookie_is_refused_and_a_cookie_is_offered(
    test_client_factory: ClientFactory,
) -> None:
    client = test_client_factory(CSRFMiddleware(app, SECRET))
    response = client.post("/", headers={"x-csrftoken": "anything"})
    assert (response.status_code, response.text) == (403, "CSRF cookie missing")
    # The refusal carries a fresh token, so that the client can retry.
    fresh = client.cookies["csrftoken"]
    assert client.post("/", headers={"x-csrftoken": fresh}).status_code == 200


def test_custom_safe_methods(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(CSRFMiddleware(app, SECRET, safe_methods=["get", "PROPFIND"]))
    assert client.request("PROPFIND", "/").status_code == 200
    assert client.request("HEAD", "/").status_code == 403
    assert client.request("OPTIONS", "/").status_code == 403


@pytest.mark.anyio
async def test_lowercase_method_is_not_safe() -> None:
    recorder = Recorder.with_body(b"")
    await recorder.run(CSRFMiddleware(app, SECRET), http_scope(method="get"))
    assert recorder.status == 403


# --- attacks -------------------------------------------------------------------------------


def test_forged_token_signed_with_another_secret(test_client_factory: ClientFactory) -> None:
    forger = CSRFMiddleware(app, "attacker-secret")
    forged = forger.signer.sign(b"A" * 43).decode()
    client = test_client_factory(CSRFMiddleware(app, SECRET), cookies={"csrftoken": forged})
    response = client.post("/", headers={"x-csrftoken": forged})
    assert (response.status_code, response.text) == (403, "CSRF cookie invalid")
    assert response.headers["set-cookie"].startswith("csrftoken=")


def test_forged_header_with_a_valid_cookie(test_client_factory: ClientFactory) -> None:
    client, token = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    raw = token.split(".")[0]
    # The right random part, but unsigned or signed with another key: refused.
    forged = CSRFMiddleware(app, "attacker-secret").signer.sign(raw).decode()
    for submitted in (raw, forged, token + "x", token[:-1], ""):
        response = client.post("/", headers={"x-csrftoken": submitted})
        assert (response.status_code, response.text) == (403, "CSRF token invalid")


def test_token_from_another_session(test_client_factory: ClientFactory) -> None:
    middleware = CSRFMiddleware(app, SECRET)
    victim, _ = client_with_token(test_client_factory, middleware)
    _, attacker_token = client_with_token(test_client_factory, middleware)
    # Validly signed, but not the token of the victim's cookie.
    response = victim.post("/", headers={"x-csrftoken": attacker_token})
    assert (response.status_code, response.text) == (403, "CSRF token invalid")


def test_expired_token(test_client_factory: ClientFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    middleware = CSRFMiddleware(app, SECRET, max_age=60)
    now = 1_800_000_000
    monkeypatch.setattr(middleware.signer, "get_timestamp", lambda: now)
    client, token = client_with_token(test_client_factory, middleware)
    monkeypatch.setattr(middleware.signer, "get_timestamp", lambda: now + 60)
    assert client.post("/", headers={"x-csrftoken": token}).status_code == 200
    monkeypatch.setattr(middleware.signer, "get_timestamp", lambda: now + 61)
    response = client.post("/", headers={"x-csrftoken": token})
    assert (response.status_code, response.text) == (403, "CSRF token expired")
    fresh = response.headers["set-cookie"].partition(";")[0].partition("=")[2]
    assert fresh != token
    assert client.post("/", headers={"x-csrftoken": fresh}).status_code == 200


def test_token_from_the_future_is_expired(
    test_client_factory: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    middleware = CSRFMiddleware(app, SECRET, max_age=60)
    now = 1_800_000_000
    monkeypatch.setattr(middleware.signer, "get_timestamp", lambda: now + 3600)
    client, token = client_with_token(test_client_factory, middleware)
    monkeypatch.setattr(middleware.signer, "get_timestamp", lambda: now)
    assert client.post("/", headers={"x-csrftoken": token}).text == "CSRF token expired"


def test_without_max_age_tokens_do_not_expire(
    test_client_factory: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    middleware = CSRFMiddleware(app, SECRET)
    monkeypatch.setattr(middleware.signer, "get_timestamp", lambda: 1_000_000_000)
    client, token = client_with_token(test_client_factory, middleware)
    monkeypatch.setattr(middleware.signer, "get_timestamp", lambda: 2_000_000_000)
    assert client.post("/", headers={"x-csrftoken": token}).status_code == 200


@pytest.mark.anyio
async def test_cookie_injected_by_a_sibling_subdomain() -> None:
    """A cookie written for ``.example.com`` by another subdomain, the attacker's choice."""
    middleware = CSRFMiddleware(app, SECRET)
    planted = "A" * 43
    other_key = CSRFMiddleware(app, "sibling-secret").signer.sign(planted).decode()
    for cookie in (planted, other_key, f"{planted}.AAAAAA.{'B' * 43}"):
        headers = [
            (b"host", b"testserver"),
            (b"cookie", f"csrftoken={cookie}".encode()),
            (b"x-csrftoken", cookie.encode()),
        ]
        recorder = Recorder.with_body(b"")
        await recorder.run(middleware, http_scope(method="POST", headers=headers))
        assert (recorder.status, recorder.body) == (403, b"CSRF cookie invalid")


def test_planted_cookie_beside_the_real_one(test_client_factory: ClientFactory) -> None:
    client, token = client_with_token(test_client_factory, CSRFMiddleware(app, SECRET))
    planted = "A" * 43
    both = f"csrftoken={planted}; csrftoken={token}"
    # The validly signed cookie is the one used, whichever comes first...
    response = client.post("/", headers={"cookie": both, "x-csrftoken": token})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    # ...and the planted value is worth nothing as the submitted token.
    response = client.post("/", headers={"cookie": both, "x-csrftoken": planted})
    assert response.text == "CSRF token invalid"


# --- hostile input -------------------------------------------------------------------------


async def raw_post(middleware: CSRFMiddleware, *headers: tuple[bytes, bytes]) -> Recorder:
    """A POST with exactly these raw headers (and a Host), driven without a client."""
    recorder = Recorder.with_body(b"")
    scope = http_scope(method="POST", headers=[(b"host", b"testserver"), *headers])
    await recorder.run(middleware, scope)
    return recorder


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("cookie", "reason"),
    [
        (b"csrftoken=", b"CSRF cookie invalid"),
        (b"csrftoken=\xff\xfe.\x00.\x80", b"CSRF cookie invalid"),
        (b"csrftoken=" + b"a." * 5000, b"CSRF cookie invalid"),
        (b"csrftoken=...", b"CSRF cookie invalid"),
        (b"csrftoken=a.!!!!.b", b"CSRF cookie invalid"),
        (b'csrftoken="', b"CSRF cookie invalid"),
        (b"csrftoken", b"CSRF cookie missing"),
        (b"xcsrftoken=a; csrftokens=b", b"CSRF cookie missing"),
        (b";;;=;=csrftoken;" * 2000, b"CSRF cookie missing"),
        (b"; ".join([b"csrftoken=x"] * 10_000), b"CSRF cookie invalid"),
    ],
)
async def test_garbage_cookies(cookie: bytes, reason: bytes) -> None:
    middleware = CSRFMiddleware(app, SECRET)
    recorder = await raw_post(middleware, (b"cookie", cookie), (b"x-csrftoken", b"x"))
    assert (recorder.status, recorder.body) == (403, reason)
    assert len(set_cookies(recorder.headers)) == 1


@pytest.mark.anyio
async def test_valid_cookie_after_many_planted_ones_is_not_searched_for_ever() -> None:
    middleware = CSRFMiddleware(app, SECRET)
    token = middleware.signer.sign(b"A" * 43)
    cookie = b"; ".join([b"csrftoken=x"] * 100 + [b"csrftoken=" + token])
    recorder = await raw_post(middleware, (b"cookie", cookie), (b"x-csrftoken", token))
    assert (recorder.status, recorder.body) == (403, b"CSRF cookie invalid")
    cookie = b"; ".join([b"csrftoken=x"] * 3 + [b"csrftoken=" + token])
    recorder = await raw_post(middleware, (b"cookie", cookie), (b"x-csrftoken", token))
    assert recorder.status == 200


@pytest.mark.anyio
async def test_quoted_cookie_and_cookies_over_several_headers() -> None:
    middleware = CSRFMiddleware(app, SECRET)
    token = middleware.signer.sign(b"A" * 43)
    quoted = (b"cookie", b'theme=dark; csrftoken="' + token + b'"')
    assert (await raw_post(middleware, quoted, (b"x-csrftoken", token))).status == 200
    split = [(b"cookie", b"a=b"), (b"cookie", b"csrftoken=" + token)]
    assert (await raw_post(middleware, *split, (b"x-csrftoken", token))).status == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    "submitted", [b"\xff\xfe\xfd", b"x" * 100_000, b"a.b.c", b"\x00", b"..", b" "]
)
async def test_garbage_header_tokens(submitted: bytes) -> None:
    middleware = CSRFMiddleware(app, SECRET)
    token = middleware.signer.sign(b"A" * 43)
    recorder = await raw_post(
        middleware, (b"cookie", b"csrftoken=" + token), (b"x-csrftoken", submitted)
    )
    assert (recorder.status, recorder.body) == (403, b"CSRF token invalid")


@pytest.mark.anyio
async def test_huge_headers_are_answered() -> None:
    middleware = CSRFMiddleware(app, SECRET)
    token = middleware.signer.sign(b"A" * 43)
    headers = [(b"x-filler-%d" % index, b"v" * 1000) for index in range(1000)]
    headers += [(b"cookie", b"a=" + b"b" * 100_000 + b"; csrftoken=" + token)]
    recorder = await raw_post(middleware, *headers, (b"x-csrftoken", token))
    assert recorder.status == 200


@pytest.mark.anyio
async def test_value_signed_for_another_purpose_is_not_a_token() -> None:
    """A value signed by another itsdangerous user of the same secret is not a token."""
    other_use = itsdangerous.TimestampSigner(SECRET).sign(b"A" * 43)
    middleware = CSRFMiddleware(app, SECRET)
    recorder = await raw_post(middleware, (b"cookie", b"csrftoken=" + other_use))
    assert recorder.body == b"CSRF cookie invalid"
