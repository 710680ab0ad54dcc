"""StaticFiles(cache_control=..., immutable_pattern=...): Cache-Control on 200, 206 and 304."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from stellina_testing import ClientFactory

from stellina.middleware.exceptions import ExceptionMiddleware
from stellina.staticfiles import StaticFiles
from stellina.testclient import TestClient

IMMUTABLE = "public, max-age=31536000, immutable"
HASHED = r"\.[0-9a-f]{8,}\.(js|css)$"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "docs").mkdir()
    (static / "css" / "app.css").write_text("body { color: red }")
    (static / "app.0123abcd.js").write_text("console.log(1)")
    (static / "app.js").write_text("console.log(2)")
    (static / "index.html").write_text("<h1>home</h1>")
    (static / "docs" / "index.html").write_text("<h1>docs</h1>")
    (static / "404.html").write_text("<h1>not here</h1>")
    return static


def make_client(factory: ClientFactory, root: Path, **options: object) -> TestClient:
    app = ExceptionMiddleware(StaticFiles(directory=root, **options))  # type: ignore[arg-type]
    return factory(app, follow_redirects=False)


def test_none_by_default(root: Path, test_client_factory: ClientFactory) -> None:
    client = make_client(test_client_factory, root)
    assert "cache-control" not in client.get("/css/app.css").headers
    assert "cache-control" not in client.get("/app.0123abcd.js").headers


def test_a_value_on_200_206_304_and_head(root: Path, test_client_factory: ClientFactory) -> None:
    client = make_client(test_client_factory, root, cache_control="public, max-age=60")
    full = client.get("/css/app.css")
    assert (full.status_code, full.headers["cache-control"]) == (200, "public, max-age=60")
    partial = client.get("/css/app.css", headers={"range": "bytes=0-3"})
    assert (partial.status_code, partial.content) == (206, b"body")
    assert partial.headers["cache-control"] == "public, max-age=60"
    tag = {"if-none-match": full.headers["etag"]}
    not_modified = client.get("/css/app.css", headers=tag)
    assert (not_modified.status_code, not_modified.headers["cache-control"]) == (
        304,
        "public, max-age=60",
    )
    since = {"if-modified-since": full.headers["last-modified"]}
    assert (
        client.get("/css/app.css", headers=since).headers["cache-control"] == "public, max-age=60"
    )
    head = client.head("/css/app.css")
    assert (head.status_code, head.headers["cache-control"]) == (200, "public, max-age=60")


def test_not_on_refusals(root: Path, test_client_factory: ClientFactory) -> None:
    client = make_client(test_client_factory, root, cache_control="max-age=60")
    missing = client.get("/nope.css")
    assert missing.status_code == 404
    assert "cache-control" not in missing.headers
    post = client.post("/css/app.css")
    assert post.status_code == 405
    assert "cache-control" not in post.headers
    unsatisfiable = client.get("/css/app.css", headers={"range": "bytes=500-"})
    assert unsatisfiable.status_code == 416
    assert "cache-control" not in unsatisfiable.headers


def test_html_mode(root: Path, test_client_factory: ClientFactory) -> None:
    seen: list[str] = []

    def policy(path: str) -> str:
        seen.append(path)
        return "no-cache"

    client = make_client(test_client_factory, root, html=True, cache_control=policy)
    assert client.get("/").headers["cache-control"] == "no-cache"
    assert client.get("/docs/").headers["cache-control"] == "no-cache"
    redirect = client.get("/docs")
    assert redirect.status_code == 307
    assert "cache-control" not in redirect.headers
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.text) == (404, "<h1>not here</h1>")
    assert "cache-control" not in missing.headers
    assert seen == ["index.html", "docs/index.html"]


def test_a_callable_gets_the_relative_path(root: Path, test_client_factory: ClientFactory) -> None:
    seen: list[str] = []

    def policy(path: str) -> str | None:
        seen.append(path)
        return "max-age=600" if path.endswith(".css") else None

    client = make_client(test_client_factory, root, cache_control=policy)
    css = client.get("/css/app.css")
    assert css.headers["cache-control"] == "max-age=600"
    etag = css.headers["etag"]
    revalidated = client.get("/css/app.css", headers={"if-none-match": etag})
    assert (revalidated.status_code, revalidated.headers["cache-control"]) == (304, "max-age=600")
    script = client.get("/app.js")
    assert script.status_code == 200
    assert "cache-control" not in script.headers
    assert client.get("/nope.css").status_code == 404
    assert seen == ["css/app.css", "css/app.css", "app.js"]


def test_a_callable_value_with_a_line_break_is_refused(
    root: Path, test_client_factory: ClientFactory
) -> None:
    client = make_client(test_client_factory, root, cache_control=lambda path: "a\r\nx-evil: 1")
    with pytest.raises(ValueError, match="CR, LF and NUL"):
        client.get("/app.js")


@pytest.mark.parametrize("pattern", [HASHED, re.compile(HASHED)])
def test_immutable_pattern(root: Path, test_client_factory: ClientFactory, pattern: object) -> None:
    client = make_client(
        test_client_factory, root, cache_control="no-cache", immutable_pattern=pattern
    )
    hashed = client.get("/app.0123abcd.js")
    assert hashed.headers["cache-control"] == IMMUTABLE
    revalidated = client.get("/app.0123abcd.js", headers={"if-none-match": hashed.headers["etag"]})
    assert (revalidated.status_code, revalidated.headers["cache-control"]) == (304, IMMUTABLE)
    assert client.get("/app.js").headers["cache-control"] == "no-cache"
    assert client.get("/css/app.css").headers["cache-control"] == "no-cache"


def test_immutable_pattern_alone(root: Path, test_client_factory: ClientFactory) -> None:
    client = make_client(test_client_factory, root, immutable_pattern=HASHED)
    assert client.get("/app.0123abcd.js").headers["cache-control"] == IMMUTABLE
    assert "cache-control" not in client.get("/app.js").headers


def test_with_precompressed_siblings(root: Path, test_client_factory: ClientFactory) -> None:
    (root / "app.0123abcd.js.gz").write_bytes(gzip.compress(b"console.log(1)"))
    client = make_client(test_client_factory, root, precompressed=True, immutable_pattern=HASHED)
    encoded = client.get("/app.0123abcd.js", headers={"accept-encoding": "gzip"})
    assert (encoded.headers["content-encoding"], encoded.text) == ("gzip", "console.log(1)")
    assert encoded.headers["cache-control"] == IMMUTABLE
    tag = {"accept-encoding": "gzip", "if-none-match": encoded.headers["etag"]}
    revalidated = client.get("/app.0123abcd.js", headers=tag)
    assert (revalidated.status_code, revalidated.headers["cache-control"]) == (304, IMMUTABLE)
    ranged = client.get(
        "/app.0123abcd.js", headers={"accept-encoding": "gzip", "range": "bytes=0-1"}
    )
    assert (ranged.status_code, ranged.headers["cache-control"]) == (206, IMMUTABLE)


@pytest.mark.parametrize(
    "value",
    [
        "max-age=60\r\nset-cookie: a=b",
        "max-age=60\n",
        "\rno-cache",
        "no\x00cache",
        "max-age=\u20ac",
    ],
)
def test_invalid_values_are_refused_at_construction(root: Path, value: str) -> None:
    with pytest.raises(ValueError):
        StaticFiles(directory=root, cache_control=value)


def test_a_value_of_another_type_is_refused(root: Path) -> None:
    with pytest.raises(TypeError, match="cache_control must be a str, a callable or None"):
        StaticFiles(directory=root, cache_control=60)  # type: ignore[arg-type]
