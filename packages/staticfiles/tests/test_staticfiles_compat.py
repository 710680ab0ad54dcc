"""StaticFiles conditional requests behave like Starlette 1.x."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stellina.datastructures import Headers
from stellina.staticfiles import StaticFiles
from stellina.testclient import TestClient

ClientFactory = Callable[..., TestClient]


@pytest.mark.parametrize("value", ["*", " * "])
def test_if_none_match_star_is_not_modified(
    tmp_path: Path, test_client_factory: ClientFactory, value: str
) -> None:
    (tmp_path / "a.txt").write_text("hello")
    client = test_client_factory(StaticFiles(directory=tmp_path))
    etag = client.get("/a.txt").headers["etag"]
    response = client.get("/a.txt", headers={"if-none-match": value})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert "content-length" not in response.headers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("*", True),
        ('"x", *', False),
        ("W/*", False),
        ('"tag"', True),
        ('W/"tag"', True),
        ('"x", "tag"', True),
        ("tag", False),
        (",", False),
    ],
)
def test_is_not_modified_if_none_match(tmp_path: Path, value: str, expected: bool) -> None:
    static = StaticFiles(directory=tmp_path)
    response_headers = Headers({"etag": '"tag"'})
    assert static.is_not_modified(response_headers, Headers({"if-none-match": value})) is expected
