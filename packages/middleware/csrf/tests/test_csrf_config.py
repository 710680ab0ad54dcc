"""Arguments are checked when the middleware is built, with errors naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from stellina.middleware import csrf
from stellina.middleware.csrf import DEFAULT_MAX_BODY_SIZE, CSRFMiddleware
from stellina.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("never called")


def test_defaults() -> None:
    middleware = CSRFMiddleware(app, b"bytes-secret")
    assert middleware.cookie_name == "csrftoken"
    assert middleware.header_name == "x-csrftoken"
    assert middleware.field_name == "csrf_token"
    assert middleware.safe_methods == {"GET", "HEAD", "OPTIONS", "TRACE"}
    assert middleware.exempt_paths == ()
    assert middleware.trusted_origins == ()
    assert (middleware.cookie_path, middleware.cookie_domain) == ("/", None)
    assert (middleware.cookie_secure, middleware.cookie_samesite) == (None, "Lax")
    assert middleware.max_age is None
    assert middleware.max_body_size == DEFAULT_MAX_BODY_SIZE == 1024 * 1024


def test_version() -> None:
    assert csrf.__version__ == "0.1.0"


@pytest.mark.parametrize("secret", ["", b""])
def test_empty_secret(secret: str | bytes) -> None:
    with pytest.raises(ValueError, match="secret must not be empty"):
        CSRFMiddleware(app, secret)


@pytest.mark.parametrize("secret", [None, 42, ["key"]])
def test_secret_type(secret: Any) -> None:
    with pytest.raises(TypeError, match="secret must be a str or bytes"):
        CSRFMiddleware(app, secret)


@pytest.mark.parametrize("name", ["trusted_origins", "safe_methods", "exempt_paths"])
@pytest.mark.parametrize("value", ["https://app.example.com", b"GET", 5])
def test_a_lone_string_is_not_a_collection(name: str, value: Any) -> None:
    with pytest.raises(TypeError, match=f"^{name} must be a collection of str"):
        CSRFMiddleware(app, "s", **{name: value})


@pytest.mark.parametrize("name", ["trusted_origins", "safe_methods", "exempt_paths"])
def test_entries_must_be_strings(name: str) -> None:
    with pytest.raises(TypeError, match=f"^{name} entries must be str"):
        options: dict[str, Any] = {name: [b"/x"]}
        CSRFMiddleware(app, "s", **options)


def test_collections_of_any_kind() -> None:
    middleware = CSRFMiddleware(
        app,
        "s",
        safe_methods={"GET"},
        exempt_paths=(path for path in ["/a"]),
        trusted_origins=frozenset({"https://a.example"}),
    )
    assert middleware.safe_methods == {"GET"}
    assert middleware.exempt_paths == ("/a",)
    assert middleware.trusted_origins == ("https://a.example",)


@pytest.mark.parametrize(
    "origin",
    [
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "ftp://app.example.com",
        "https://",
        "https://*",
        "https://*.",
        "https://a.*.example.com",
        "https://*example.com",
        "https://*.[::1]",
        "https://app.example.com:99999",
        "https://user@app.example.com",
        "null",
    ],
)
def test_invalid_trusted_origins(origin: str) -> None:
    with pytest.raises(ValueError, match="trusted_origins entries must be origins"):
        CSRFMiddleware(app, "s", trusted_origins=[origin])


@pytest.mark.parametrize("path", ["hooks", "", "*"])
def test_exempt_paths_start_with_a_slash(path: str) -> None:
    with pytest.raises(ValueError, match="exempt_paths entries must start with '/'"):
        CSRFMiddleware(app, "s", exempt_paths=[path])


@pytest.mark.parametrize(
    ("option", "value", "error", "message"),
    [
        ("cookie_name", "", ValueError, "invalid cookie_name"),
        ("cookie_name", "a b", ValueError, "invalid cookie_name"),
        ("cookie_name", "a;b", ValueError, "invalid cookie_name"),
        ("cookie_name", "a=b", ValueError, "invalid cookie_name"),
        ("cookie_name", None, TypeError, "cookie_name must be a str"),
        ("header_name", "x csrf", ValueError, "invalid header_name"),
        ("header_name", "x:csrf", ValueError, "invalid header_name"),
        ("field_name", "", ValueError, "invalid field_name"),
        ("field_name", "csrf token", ValueError, "invalid field_name"),
        ("field_name", "jeton_é", ValueError, "invalid field_name"),
        ("field_name", b"csrf", TypeError, "field_name must be a str"),
        ("safe_methods", ["GET", ""], ValueError, "invalid safe_methods entry"),
        ("safe_methods", ["GET POST"], ValueError, "invalid safe_methods entry"),
        ("cookie_path", "app", ValueError, "invalid cookie_path"),
        ("cookie_path", "/a;b", ValueError, "invalid cookie_path"),
        ("cookie_path", "/a\r\nb", ValueError, "invalid cookie_path"),
        ("cookie_domain", "example.com; secure", ValueError, "invalid cookie_domain"),
        ("cookie_domain", "", ValueError, "invalid cookie_domain"),
        ("cookie_secure", "yes", TypeError, "cookie_secure must be True, False or None"),
        ("cookie_samesite", "loose", ValueError, "cookie_samesite must be 'lax'"),
        ("cookie_samesite", None, TypeError, "cookie_samesite must be a str"),
        ("max_age", 0, ValueError, "max_age must be >= 1"),
        ("max_age", True, TypeError, "max_age must be an int"),
        ("max_age", 1.5, TypeError, "max_age must be an int"),
        ("max_body_size", -1, ValueError, "max_body_size must be >= 0"),
        ("max_body_size", None, TypeError, "max_body_size must be an int"),
    ],
)
def test_invalid_options(option: str, value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        CSRFMiddleware(app, "s", **{option: value})


def test_samesite_none_needs_secure() -> None:
    with pytest.raises(ValueError, match="needs a Secure cookie"):
        CSRFMiddleware(app, "s", cookie_samesite="none", cookie_secure=False)
    assert CSRFMiddleware(app, "s", cookie_samesite="None").cookie_samesite == "None"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cookie_name": "__Host-csrf"}, "needs cookie_secure=True"),
        ({"cookie_name": "__secure-csrf", "cookie_secure": False}, "needs cookie_secure=True"),
        (
            {"cookie_name": "__Host-csrf", "cookie_secure": True, "cookie_path": "/app"},
            "needs cookie_path='/' and no cookie_domain",
        ),
        (
            {"cookie_name": "__Host-csrf", "cookie_secure": True, "cookie_domain": "a.com"},
            "needs cookie_path='/' and no cookie_domain",
        ),
    ],
)
def test_cookie_prefix_rules(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CSRFMiddleware(app, "s", **options)


def test_fastapi_style_construction() -> None:
    """``add_middleware(CSRFMiddleware, secret=...)`` calls the class with keywords only."""
    middleware = CSRFMiddleware(app=app, secret="s", trusted_origins=["https://a.example"])
    assert middleware.app is app
