"""StaticFiles(precompressed=True): .zst, .br and .gz siblings chosen by Accept-Encoding."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from backports import zstd
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.middleware.exceptions import ExceptionMiddleware
from stellina.staticfiles import StaticFiles
from stellina.testclient import TestClient

SCRIPT = b"function greet(name) { return 'hello ' + name; }\n" * 64
ORIGINAL_MTIME = 1_700_000_000
SIBLING_MTIME = ORIGINAL_MTIME + 60
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": zstd.compress,
    "br": brotli.compress,
    "gzip": lambda data: gzip.compress(data, mtime=0),
}
DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": zstd.decompress,
    "br": brotli.decompress,
    "gzip": gzip.decompress,
}
SUFFIX = {"zstd": ".zst", "br": ".br", "gzip": ".gz"}


def write(path: Path, data: bytes, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def write_with_siblings(
    path: Path, data: bytes, codings: tuple[str, ...] = ("zstd", "br", "gzip")
) -> None:
    """`path` and its precompressed siblings, the siblings a minute newer."""
    write(path, data, ORIGINAL_MTIME)
    for coding in codings:
        write(Path(f"{path}{SUFFIX[coding]}"), COMPRESS[coding](data), SIBLING_MTIME)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    write_with_siblings(static / "app.js", SCRIPT)
    write_with_siblings(static / "only-gzip.css", b"body { color: red }\n" * 40, ("gzip",))
    write(static / "plain.txt", b"no siblings here", ORIGINAL_MTIME)
    write(static / "orphan.js.gz", COMPRESS["gzip"](SCRIPT), SIBLING_MTIME)
    return static


@pytest.fixture
def client(root: Path, test_client_factory: ClientFactory) -> TestClient:
    """A client of StaticFiles(precompressed=True) that sends no Accept-Encoding by default."""
    app = ExceptionMiddleware(StaticFiles(directory=root, precompressed=True))
    test_client = test_client_factory(app)
    del test_client.headers["accept-encoding"]
    return test_client


class Answer:
    """A response with its body exactly as sent (not decoded by the client)."""

    def __init__(self, response: httpx.Response, raw: bytes) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self.raw = raw

    @property
    def coding(self) -> str | None:
        coding: str | None = self.headers.get("content-encoding")
        return coding

    def decoded(self) -> bytes:
        coding = self.coding
        return self.raw if coding is None else DECOMPRESS[coding](self.raw)


def fetch(
    client: TestClient,
    path: str,
    accept: str | None = None,
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
) -> Answer:
    sent = list(headers or [])
    if accept is not None:
        sent.append(("accept-encoding", accept))
    with client.stream(method, path, headers=sent) as response:
        return Answer(response, b"".join(response.iter_raw()))


ACCEPTS = [
    ("zstd, br, gzip", "zstd"),
    ("gzip, deflate, br, zstd", "zstd"),
    ("gzip, deflate, br", "br"),
    ("gzip, br", "br"),
    ("gzip", "gzip"),
    ("GZip, BR", "br"),
    ("x-gzip", "gzip"),
    ("deflate, gzip;q=0.1", "gzip"),
    ("br;q=0.5, gzip;q=0.8", "gzip"),
    ("zstd;q=0.2, br ; q=0.9 , gzip;q=0.9", "br"),
    ("zstd;q=0, br;q=0.001, gzip;q=0", "br"),
    ("br;Q=0.4, gzip;q=0.3", "br"),
    ("*", "zstd"),
    ("*;q=0.5, br", "br"),
    ("*, zstd;q=0", "br"),
    ("identity;q=0.5, gzip;q=0.6", "gzip"),
    ("identity, gzip", "gzip"),  # equal weights: the compressed sibling
    ("gzip;q=0.5", "gzip"),  # identity not weighed by the client: the coding is acceptable
    ("identity", None),
    ("identity, gzip;q=0.5", None),  # the client prefers the file as it is
    ("*;q=0.4, gzip;q=0.3", "zstd"),  # `*` weighs zstd, br and identity alike: a tie
    ("*;q=0.4, identity;q=0.5", None),
    ("br;q=0.3, zstd;q=0, gzip;q=0, *;q=0.4", None),  # `*` weighs identity too
    ("*;q=0", None),
    ("", None),
    ("deflate", None),
    ("gzip;q=0, br;q=0, zstd;q=0", None),
    ("gzip;q=1.5", None),
    ("gzip;q=-1", None),
    ("gzip;q=abc", None),
    ("gzip;q=0.0001", None),
    ("gzip;q=nan, br;q=inf", None),
    ("gzip2, brr, zst", None),
    (None, None),  # no Accept-Encoding: no preference stated, the file as it is
]


@pytest.mark.parametrize(("accept", "coding"), ACCEPTS)
def test_the_coding_follows_accept_encoding(
    client: TestClient, accept: str | None, coding: str | None
) -> None:
    answer = fetch(client, "/app.js", accept)
    assert answer.status == 200
    assert answer.coding == coding
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert answer.headers["content-length"] == str(len(answer.raw))
    assert answer.decoded() == SCRIPT
    if coding is not None:
        assert answer.raw == COMPRESS[coding](SCRIPT)
        assert answer.headers["last-modified"] == formatdate(SIBLING_MTIME, usegmt=True)
    else:
        assert answer.headers["last-modified"] == formatdate(ORIGINAL_MTIME, usegmt=True)


def test_accept_encoding_over_several_header_lines(client: TestClient) -> None:
    lines = [("accept-encoding", "identity;q=0.5"), ("accept-encoding", "gzip")]
    assert fetch(client, "/app.js", headers=lines).coding == "gzip"


def test_only_the_siblings_there_are_offered(client: TestClient) -> None:
    answer = fetch(client, "/only-gzip.css", "zstd, br, gzip")
    assert (answer.coding, answer.headers["vary"]) == ("gzip", "Accept-Encoding")
    assert answer.headers["content-type"] == "text/css; charset=utf-8"
    identity = fetch(client, "/only-gzip.css", "zstd, br")
    assert identity.coding is None
    assert identity.headers["vary"] == "Accept-Encoding"  # caches must not mix the two
    assert identity.decoded() == b"body { color: red }\n" * 40


def test_a_file_without_siblings_has_no_vary(client: TestClient) -> None:
    answer = fetch(client, "/plain.txt", "zstd, br, gzip")
    assert (answer.status, answer.coding, answer.raw) == (200, None, b"no siblings here")
    assert "vary" not in answer.headers


def test_etags_differ_per_coding(client: TestClient) -> None:
    accepts = {"identity": "identity", "zstd": "zstd", "br": "br", "gzip": "gzip"}
    etags = {
        name: fetch(client, "/app.js", accept).headers["etag"] for name, accept in accepts.items()
    }
    assert len(set(etags.values())) == 4
    assert all(tag.startswith('"') and tag.endswith('"') for tag in etags.values())
    assert etags == {
        name: fetch(client, "/app.js", a).headers["etag"] for name, a in accepts.items()
    }


def test_etags_differ_for_siblings_of_one_size_and_time(root: Path, client: TestClient) -> None:
    for suffix in (".zst", ".br", ".gz"):
        write(root / f"plain.txt{suffix}", b"0123456789", SIBLING_MTIME)
    etags = {fetch(client, "/plain.txt", coding).headers["etag"] for coding in COMPRESS}
    assert len(etags) == 3


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_not_modified_per_coding(client: TestClient, coding: str) -> None:
    first = fetch(client, "/app.js", coding)
    etag = first.headers["etag"]
    again = fetch(client, "/app.js", coding, headers=[("if-none-match", etag)])
    assert (again.status, again.raw) == (304, b"")
    assert again.headers["etag"] == etag
    assert again.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in again.headers
    # The same tag does not validate another representation.
    other = fetch(client, "/app.js", "identity", headers=[("if-none-match", etag)])
    assert (other.status, other.coding, other.decoded()) == (200, None, SCRIPT)
    since = fetch(
        client, "/app.js", coding, headers=[("if-modified-since", first.headers["last-modified"])]
    )
    assert (since.status, since.headers["etag"]) == (304, etag)


def test_identity_etag_does_not_validate_a_sibling(client: TestClient) -> None:
    identity_tag = fetch(client, "/app.js").headers["etag"]
    assert fetch(client, "/app.js", headers=[("if-none-match", identity_tag)]).status == 304
    answer = fetch(client, "/app.js", "br", headers=[("if-none-match", identity_tag)])
    assert (answer.status, answer.coding) == (200, "br")


def test_range_applies_to_the_compressed_bytes(client: TestClient) -> None:
    compressed = COMPRESS["gzip"](SCRIPT)
    answer = fetch(client, "/app.js", "gzip", headers=[("range", "bytes=0-9")])
    assert (answer.status, answer.coding) == (206, "gzip")
    assert answer.raw == compressed[:10]
    assert answer.headers["content-range"] == f"bytes 0-9/{len(compressed)}"
    assert answer.headers["content-length"] == "10"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    tail = fetch(client, "/app.js", "gzip", headers=[("range", "bytes=-5")])
    assert (tail.status, tail.raw) == (206, compressed[-5:])


def test_if_range_uses_the_coding_etag(client: TestClient) -> None:
    gzip_tag = fetch(client, "/app.js", "gzip").headers["etag"]
    identity_tag = fetch(client, "/app.js").headers["etag"]
    current = fetch(
        client, "/app.js", "gzip", headers=[("range", "bytes=0-3"), ("if-range", gzip_tag)]
    )
    assert (current.status, current.raw) == (206, COMPRESS["gzip"](SCRIPT)[:4])
    stale = [("range", "bytes=0-3"), ("if-range", identity_tag)]
    whole = fetch(client, "/app.js", "gzip", headers=stale)
    assert (whole.status, whole.coding, whole.decoded()) == (200, "gzip", SCRIPT)


def test_unsatisfiable_range_on_the_compressed_bytes(client: TestClient) -> None:
    size = len(COMPRESS["br"](SCRIPT))
    answer = fetch(client, "/app.js", "br", headers=[("range", f"bytes={size}-")])
    assert answer.status == 416
    assert answer.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_head(client: TestClient, coding: str) -> None:
    answer = fetch(client, "/app.js", coding, method="HEAD")
    assert (answer.status, answer.coding, answer.raw) == (200, coding, b"")
    assert answer.headers["content-length"] == str(len(COMPRESS[coding](SCRIPT)))
    assert answer.headers["vary"] == "Accept-Encoding"


def test_a_stale_sibling_is_ignored(root: Path, client: TestClient) -> None:
    os.utime(root / "app.js.zst", (ORIGINAL_MTIME - 1, ORIGINAL_MTIME - 1))
    assert fetch(client, "/app.js", "zstd, br").coding == "br"
    stale_only = fetch(client, "/app.js", "zstd")
    assert (stale_only.coding, stale_only.decoded()) == (None, SCRIPT)
    os.utime(root / "only-gzip.css.gz", (ORIGINAL_MTIME - 1, ORIGINAL_MTIME - 1))
    answer = fetch(client, "/only-gzip.css", "gzip")
    assert answer.coding is None
    assert "vary" not in answer.headers  # no usable sibling: nothing varies


def test_a_sibling_as_old_as_the_file_is_used(root: Path, client: TestClient) -> None:
    os.utime(root / "app.js.gz", (ORIGINAL_MTIME, ORIGINAL_MTIME))
    assert fetch(client, "/app.js", "gzip").coding == "gzip"


def test_a_sibling_directory_is_ignored(root: Path, client: TestClient) -> None:
    (root / "plain.txt.br").mkdir()
    write(root / "plain.txt.br" / "x", b"x", SIBLING_MTIME)
    answer = fetch(client, "/plain.txt", "br")
    assert (answer.status, answer.coding, answer.raw) == (200, None, b"no siblings here")


def test_a_sibling_symlink_leaving_the_directory_is_ignored(
    tmp_path: Path, root: Path, client: TestClient
) -> None:
    outside = tmp_path / "outside.gz"
    write(outside, COMPRESS["gzip"](b"secret"), SIBLING_MTIME)
    (root / "plain.txt.gz").symlink_to(outside)
    answer = fetch(client, "/plain.txt", "gzip")
    assert (answer.status, answer.coding, answer.raw) == (200, None, b"no siblings here")
    assert "vary" not in answer.headers


def test_a_sibling_symlink_inside_the_directory_is_followed(root: Path, client: TestClient) -> None:
    write(root / "build" / "plain.txt.gz", COMPRESS["gzip"](b"no siblings here"), SIBLING_MTIME)
    (root / "plain.txt.gz").symlink_to(root / "build" / "plain.txt.gz")
    answer = fetch(client, "/plain.txt", "gzip")
    assert (answer.coding, answer.decoded()) == ("gzip", b"no siblings here")


def test_a_sibling_symlink_loop_is_ignored(root: Path, client: TestClient) -> None:
    (root / "plain.txt.gz").symlink_to(root / "plain.txt.gz")
    answer = fetch(client, "/plain.txt", "gzip")
    assert (answer.status, answer.coding) == (200, None)


@pytest.mark.anyio
async def test_follow_symlink_follows_sibling_symlinks(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "shared" / "plain.txt.gz"
    write(outside, COMPRESS["gzip"](b"no siblings here"), SIBLING_MTIME)
    (root / "plain.txt.gz").symlink_to(outside)
    app = StaticFiles(directory=root, precompressed=True, follow_symlink=True)
    recorder = Recorder.with_body()
    scope = http_scope(path="/plain.txt", headers=[(b"accept-encoding", b"gzip")])
    await recorder.run(app, scope)
    assert (recorder.status, dict(recorder.headers)[b"content-encoding"]) == (200, b"gzip")
    assert gzip.decompress(recorder.body) == b"no siblings here"


def test_a_sibling_name_too_long_is_no_sibling(root: Path, client: TestClient) -> None:
    name = "n" * (255 - len(".js")) + ".js"  # the longest name; with ".zst" it is too long
    write(root / name, b"long", ORIGINAL_MTIME)
    answer = fetch(client, f"/{name}", "zstd, br, gzip")
    assert (answer.status, answer.coding, answer.raw) == (200, None, b"long")


def test_a_sibling_without_its_original_is_not_found(client: TestClient) -> None:
    assert fetch(client, "/orphan.js", "gzip").status == 404


def test_a_compressed_file_requested_by_name_is_served_as_it_is(
    root: Path, client: TestClient, test_client_factory: ClientFactory
) -> None:
    plain = ExceptionMiddleware(StaticFiles(directory=root))
    write(root / "app.js.gz.br", brotli.compress(COMPRESS["gzip"](SCRIPT)), SIBLING_MTIME)
    expected = fetch(test_client_factory(plain), "/app.js.gz", "gzip")
    answer = fetch(client, "/app.js.gz", "zstd, br, gzip")
    assert (answer.status, answer.raw) == (200, COMPRESS["gzip"](SCRIPT))
    assert "content-encoding" not in answer.headers
    assert "vary" not in answer.headers
    assert answer.headers == expected.headers


def test_off_by_default_and_no_sibling_is_looked_at(
    root: Path, test_client_factory: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_at: list[str] = []
    real_lstat, real_stat = os.lstat, os.stat

    def lstat(path: str, *args: object, **kwargs: object) -> os.stat_result:
        looked_at.append(os.fspath(path))
        return real_lstat(path, *args, **kwargs)  # type: ignore[arg-type]

    def stat(path: str, *args: object, **kwargs: object) -> os.stat_result:
        looked_at.append(os.fspath(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "lstat", lstat)
    monkeypatch.setattr(os, "stat", stat)
    test_client = test_client_factory(StaticFiles(directory=root))
    response = test_client.get("/app.js", headers={"accept-encoding": "zstd, br, gzip"})
    assert response.content == SCRIPT
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert any(path.endswith("app.js") for path in looked_at)
    assert not any(path.endswith((".zst", ".br", ".gz")) for path in looked_at)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    write_with_siblings(site / "index.html", b"<h1>home</h1>" * 20, ("gzip",))
    write_with_siblings(site / "docs" / "index.html", b"<h1>docs</h1>" * 20, ("br",))
    write_with_siblings(site / "404.html", b"<h1>not here</h1>" * 20, ("zstd", "gzip"))
    return site


def test_html_mode_serves_siblings(site: Path, test_client_factory: ClientFactory) -> None:
    app = StaticFiles(directory=site, html=True, precompressed=True)
    client = test_client_factory(app, follow_redirects=False)
    home = fetch(client, "/", "gzip, br")
    assert (home.status, home.coding, home.decoded()) == (200, "gzip", b"<h1>home</h1>" * 20)
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    docs = fetch(client, "/docs/", "gzip, br")
    assert (docs.status, docs.coding, docs.decoded()) == (200, "br", b"<h1>docs</h1>" * 20)
    assert docs.headers["vary"] == "Accept-Encoding"
    redirect = fetch(client, "/docs", "gzip, br")
    assert (redirect.status, redirect.headers["location"]) == (307, "http://testserver/docs/")
    missing = fetch(client, "/nowhere", "gzip, br, zstd")
    assert (missing.status, missing.coding) == (404, "zstd")
    assert missing.decoded() == b"<h1>not here</h1>" * 20
    assert missing.headers["content-type"] == "text/html; charset=utf-8"
    assert missing.headers["vary"] == "Accept-Encoding"
    identity = fetch(client, "/nowhere", "br")
    assert (identity.status, identity.coding) == (404, None)
    assert identity.headers["vary"] == "Accept-Encoding"
    etag = docs.headers["etag"]
    assert fetch(client, "/docs/", "br", headers=[("if-none-match", etag)]).status == 304


@pytest.mark.anyio
async def test_pathsend_sends_the_sibling(root: Path) -> None:
    app = StaticFiles(directory=root, precompressed=True)
    scope = http_scope(
        path="/app.js",
        headers=[(b"accept-encoding", b"br")],
        extensions={"http.response.pathsend": {}},
    )
    sent = await Recorder.with_body().run(app, scope)
    assert dict(sent[0]["headers"])[b"content-encoding"] == b"br"
    assert sent[1] == {
        "type": "http.response.pathsend",
        "path": os.path.realpath(root / "app.js.br"),
    }


HOSTILE = [
    ",,,,,;;;;;",
    ";q=1",
    "gzip;q=",
    "gzip;q",
    "gzip;=1",
    "gzip;q=0.5;q=1;q=",
    "br;q=1e0, gzip;q=0x1",
    "\tgzip\t;\tq=1",
    "gzip" + ";a=b" * 2000,
    ", ".join(f"coding{i};q=0.{i % 1000:03d}" for i in range(5000)),
    "gzip, " * 10000,
    "gzip;q=" + "0" * 10000,
]


@pytest.mark.parametrize("accept", HOSTILE)
def test_hostile_accept_encoding_is_never_an_error(client: TestClient, accept: str) -> None:
    answer = fetch(client, "/app.js", accept)
    assert answer.status == 200
    assert answer.decoded() == SCRIPT
    assert answer.headers["vary"] == "Accept-Encoding"


@pytest.mark.anyio
async def test_hostile_accept_encoding_bytes(root: Path) -> None:
    app = StaticFiles(directory=root, precompressed=True)
    for value in (b"\xff\xfe\x00gzip", b"gzip\x00;q=1", b"\x80" * 5000, b"br;q=\xc3\xa9"):
        recorder = Recorder.with_body()
        await recorder.run(app, http_scope(path="/app.js", headers=[(b"accept-encoding", value)]))
        assert recorder.status == 200
        coding = dict(recorder.headers).get(b"content-encoding")
        assert coding is None or DECOMPRESS[coding.decode()](recorder.body) == SCRIPT


def test_a_sibling_is_taken_beside_the_file_only(
    tmp_path: Path, root: Path, test_client_factory: ClientFactory
) -> None:
    second = tmp_path / "second"
    write(second / "plain.txt.gz", COMPRESS["gzip"](b"from the second directory"), SIBLING_MTIME)
    write_with_siblings(second / "other.txt", b"other", ("gzip",))
    app = StaticFiles(directory=root, precompressed=True)
    app.all_directories.append(second)
    client = test_client_factory(app)
    first = fetch(client, "/plain.txt", "gzip")
    assert (first.coding, first.raw) == (None, b"no siblings here")
    other = fetch(client, "/other.txt", "gzip")
    assert (other.coding, other.decoded()) == ("gzip", b"other")
