"""StaticFiles as a bare ASGI app: files, validators, methods, html mode, directories, packages."""

from __future__ import annotations

import os
import sys
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from stellina_testing import Recorder, http_scope

from stellina.datastructures import Headers
from stellina.exceptions import HTTPException
from stellina.responses import FileResponse, Response
from stellina.staticfiles import NotModifiedResponse, StaticFiles
from stellina.types import Message, Scope


class Result:
    """What an ASGI call sent: status, headers and the joined body."""

    def __init__(self, sent: list[Message]) -> None:
        self.sent = sent
        self.status: int = sent[0]["status"]
        self.headers = Headers(raw=sent[0]["headers"])
        self.body = b"".join(m.get("body", b"") for m in sent[1:])


async def call(
    app: Any,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    root_path: str = "",
    query_string: bytes = b"",
    extensions: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    raise_errors: bool = False,
) -> Result:
    """Call `app`; unless `raise_errors`, answer an HTTPException as an application would."""
    scope = http_scope(
        method=method,
        path=path,
        root_path=root_path,
        raw_path=path.encode(),
        query_string=query_string,
        headers=[(b"host", b"example.org")]
        + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        server=("example.org", 80),
        extensions=extensions or {},
        **(extra or {}),
    )
    recorder = Recorder.with_body()
    await (recorder.run if raise_errors else recorder.answer)(app, scope)
    return Result(recorder.sent)


@pytest.fixture
def static(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "docs").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "example.txt").write_text("<file content>")
    (root / "style.css").write_text("body {}")
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "docs" / "index.html").write_text("<h1>docs</h1>")
    return root


@pytest.mark.anyio
async def test_serves_a_file_with_validators(static: Path) -> None:
    app = StaticFiles(directory=static)
    result = await call(app, "/example.txt")
    assert result.status == 200
    assert result.body == b"<file content>"
    assert result.headers["content-type"] == "text/plain; charset=utf-8"
    assert result.headers["content-length"] == "14"
    assert result.headers["etag"].startswith('"')
    mtime = os.stat(static / "example.txt").st_mtime
    assert result.headers["last-modified"] == formatdate(mtime, usegmt=True)
    css = await call(app, "/style.css")
    assert css.headers["content-type"].startswith("text/css")


@pytest.mark.anyio
async def test_head_sends_headers_only(static: Path) -> None:
    result = await call(StaticFiles(directory=static), "/example.txt", method="HEAD")
    assert result.status == 200
    assert result.headers["content-length"] == "14"
    assert result.body == b""


@pytest.mark.anyio
async def test_range_request(static: Path) -> None:
    app = StaticFiles(directory=static)
    result = await call(app, "/example.txt", headers={"range": "bytes=1-4"})
    assert result.status == 206
    assert result.body == b"file"
    assert result.headers["content-range"] == "bytes 1-4/14"


@pytest.mark.anyio
async def test_pathsend_extension(static: Path) -> None:
    app = StaticFiles(directory=static)
    result = await call(app, "/example.txt", extensions={"http.response.pathsend": {}})
    assert result.status == 200
    assert result.sent[1] == {
        "type": "http.response.pathsend",
        "path": os.path.realpath(static / "example.txt"),
    }


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
async def test_other_methods_are_not_allowed(static: Path, method: str) -> None:
    result = await call(StaticFiles(directory=static), "/example.txt", method=method)
    assert result.status == 405
    assert result.body == b"Method Not Allowed"
    assert result.headers["allow"] == "GET, HEAD"


@pytest.mark.anyio
async def test_missing_file_is_plain_not_found(static: Path) -> None:
    result = await call(StaticFiles(directory=static), "/nope.txt")
    assert (result.status, result.body) == (404, b"Not Found")
    assert result.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.anyio
@pytest.mark.parametrize("extra", [{}, {"app": object()}])
async def test_errors_are_raised_with_or_without_an_application(
    static: Path, extra: dict[str, Any]
) -> None:
    app = StaticFiles(directory=static)
    with pytest.raises(HTTPException) as missing:
        await call(app, "/nope.txt", extra=extra, raise_errors=True)
    assert (missing.value.status_code, missing.value.detail) == (404, "Not Found")
    with pytest.raises(HTTPException) as method:
        await call(app, "/example.txt", method="POST", extra=extra, raise_errors=True)
    assert method.value.status_code == 405
    assert method.value.headers == {"Allow": "GET, HEAD"}
    assert app.config_checked  # checked by the first request, raised errors or not


@pytest.mark.anyio
async def test_html_mode_without_a_page_to_serve_raises_not_found(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<p>page</p>")
    (tmp_path / "empty").mkdir()
    app = StaticFiles(directory=tmp_path, html=True)
    for path in ("/", "/empty/", "/empty", "/missing"):
        with pytest.raises(HTTPException) as missing:
            await call(app, path, raise_errors=True)
        assert missing.value.status_code == 404
    assert (await call(app, "/page.html")).body == b"<p>page</p>"


async def _etag_and_date(app: StaticFiles) -> tuple[str, str]:
    first = await call(app, "/example.txt")
    return first.headers["etag"], first.headers["last-modified"]


@pytest.mark.anyio
async def test_if_none_match(static: Path) -> None:
    app = StaticFiles(directory=static)
    etag, _ = await _etag_and_date(app)
    matching = (etag, f"W/{etag}", f'"other", {etag}', f' "x" ,  W/{etag} ')
    tabbed = (f'"x",\tW/{etag}', f'W/{etag}\t,\t"y"')
    for value in matching + tabbed:
        result = await call(app, "/example.txt", headers={"if-none-match": value})
        assert result.status == 304, value
        assert result.body == b""
        assert result.headers.items() == [("etag", etag)]
    for value in ('"other"', "*x", etag[:-2] + '"'):
        result = await call(app, "/example.txt", headers={"if-none-match": value})
        assert result.status == 200, value
        assert result.body == b"<file content>"


@pytest.mark.anyio
async def test_if_none_match_on_head(static: Path) -> None:
    app = StaticFiles(directory=static)
    etag, _ = await _etag_and_date(app)
    result = await call(app, "/example.txt", method="HEAD", headers={"if-none-match": etag})
    assert result.status == 304


@pytest.mark.anyio
async def test_if_modified_since(static: Path) -> None:
    app = StaticFiles(directory=static)
    _, last_modified = await _etag_and_date(app)
    mtime = os.stat(static / "example.txt").st_mtime
    later = formatdate(mtime + 3600, usegmt=True)
    earlier = formatdate(mtime - 3600, usegmt=True)
    for value in (last_modified, later):
        result = await call(app, "/example.txt", headers={"if-modified-since": value})
        assert result.status == 304
        assert "content-length" not in result.headers
    result = await call(app, "/example.txt", headers={"if-modified-since": earlier})
    assert result.status == 200


@pytest.mark.anyio
async def test_if_none_match_takes_precedence(static: Path) -> None:
    app = StaticFiles(directory=static)
    _, last_modified = await _etag_and_date(app)
    result = await call(
        app,
        "/example.txt",
        headers={"if-none-match": '"stale"', "if-modified-since": last_modified},
    )
    assert result.status == 200


def test_not_modified_response_keeps_caching_headers() -> None:
    full = Headers(
        {
            "cache-control": "max-age=60",
            "content-length": "10",
            "content-type": "text/plain",
            "etag": '"abc"',
            "expires": "Thu, 01 Jan 2099 00:00:00 GMT",
            "last-modified": "Thu, 01 Jan 2000 00:00:00 GMT",
            "vary": "Accept-Encoding",
            "content-location": "/x",
            "date": "Thu, 01 Jan 2000 00:00:00 GMT",
        }
    )
    response = NotModifiedResponse(full)
    assert set(NotModifiedResponse.NOT_MODIFIED_HEADERS) == {
        "cache-control",
        "content-location",
        "date",
        "etag",
        "expires",
        "vary",
    }
    assert response.status_code == 304
    assert response.body == b""
    assert dict(response.headers) == {
        "cache-control": "max-age=60",
        "etag": '"abc"',
        "expires": "Thu, 01 Jan 2099 00:00:00 GMT",
        "vary": "Accept-Encoding",
        "content-location": "/x",
        "date": "Thu, 01 Jan 2000 00:00:00 GMT",
    }


@pytest.mark.anyio
async def test_html_mode(static: Path) -> None:
    app = StaticFiles(directory=static, html=True)
    root = await call(app, "/")
    assert (root.status, root.body) == (200, b"<h1>home</h1>")
    assert root.headers["content-type"] == "text/html; charset=utf-8"
    docs = await call(app, "/docs/")
    assert (docs.status, docs.body) == (200, b"<h1>docs</h1>")
    redirect = await call(app, "/docs", query_string=b"a=1&b=%0D%0A")
    assert redirect.status == 307
    assert redirect.headers["location"] == "http://example.org/docs/?a=1&b=%0D%0A"
    assert (await call(app, "/empty/")).status == 404
    assert (await call(app, "/missing")).body == b"Not Found"
    file = await call(app, "/example.txt")
    assert file.body == b"<file content>"


@pytest.mark.anyio
async def test_html_mode_not_found_page(static: Path) -> None:
    (static / "404.html").write_text("<h1>custom 404</h1>")
    app = StaticFiles(directory=static, html=True)
    for path in ("/missing", "/empty/", "/docs/missing.html"):
        result = await call(app, path)
        assert (result.status, result.body) == (404, b"<h1>custom 404</h1>")
        assert result.headers["content-type"] == "text/html; charset=utf-8"
    # A 404.html is only used in html mode.
    plain = await call(StaticFiles(directory=static), "/missing")
    assert plain.body == b"Not Found"


@pytest.mark.anyio
async def test_html_mode_under_a_mount(static: Path) -> None:
    app = StaticFiles(directory=static, html=True)
    redirect = await call(app, "/static", root_path="/static")
    assert redirect.status == 307
    assert redirect.headers["location"] == "http://example.org/static/"
    index = await call(app, "/static/", root_path="/static")
    assert index.body == b"<h1>home</h1>"
    docs = await call(app, "/static/docs/", root_path="/static")
    assert docs.body == b"<h1>docs</h1>"


@pytest.mark.anyio
async def test_root_path_is_removed(static: Path) -> None:
    app = StaticFiles(directory=static)
    assert (await call(app, "/assets/example.txt", root_path="/assets")).status == 200
    # A root_path that is not a whole-segment prefix of the path is not removed.
    assert (await call(app, "/assetsexample.txt", root_path="/assets")).status == 404


def test_get_path(static: Path) -> None:
    app = StaticFiles(directory=static)

    def scope(path: str, root_path: str = "") -> Scope:
        return {"type": "http", "path": path, "root_path": root_path}

    assert app.get_path(scope("/a/b.txt")) == os.path.join("a", "b.txt")
    assert app.get_path(scope("/")) == "."
    assert app.get_path(scope("/m", "/m")) == "."
    assert app.get_path(scope("/m/x/../y", "/m")) == "y"
    assert app.get_path(scope("//a//b")) == os.path.join("a", "b")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable package with a `statics` folder and an `assets` folder."""
    name = "h8_static_pkg"
    pkg = tmp_path / "site" / name
    (pkg / "statics").mkdir(parents=True)
    (pkg / "assets").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "statics" / "a.txt").write_text("package statics")
    (pkg / "assets" / "b.txt").write_text("package assets")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


@pytest.mark.anyio
async def test_packages(static: Path, package: str) -> None:
    app = StaticFiles(packages=[package, (package, "assets")])
    assert (await call(app, "/a.txt")).body == b"package statics"
    assert (await call(app, "/b.txt")).body == b"package assets"
    combined = StaticFiles(directory=static, packages=[package])
    assert (await call(combined, "/example.txt")).status == 200
    assert (await call(combined, "/a.txt")).body == b"package statics"
    assert combined.all_directories[0] == static


@pytest.mark.anyio
async def test_several_directories_in_order(static: Path, package: str, tmp_path: Path) -> None:
    (static / "a.txt").write_text("directory first")
    app = StaticFiles(directory=static, packages=[(package, "assets"), package])
    assert (await call(app, "/a.txt")).body == b"directory first"
    assert (await call(app, "/b.txt")).body == b"package assets"
    # The directory list may be edited until the first request.
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "c.txt").write_text("extra")
    late = StaticFiles(directory=static)
    late.all_directories.append(extra)
    assert (await call(late, "/c.txt")).body == b"extra"


def test_package_errors(package: str) -> None:
    with pytest.raises(AssertionError, match="Package 'h8_no_such_pkg' could not be found."):
        StaticFiles(packages=["h8_no_such_pkg"])
    with pytest.raises(AssertionError) as missing_dir:
        StaticFiles(packages=[(package, "nothing")])
    assert str(missing_dir.value) == (
        f"Directory ''nothing'' in package '{package}' could not be found."
    )


def test_arguments_refused_in_order(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(AssertionError, match="Package 'h8_no_such_pkg' could not be found."):
        StaticFiles(directory=missing, packages=["h8_no_such_pkg"], cache_control=1)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=missing, cache_control=1)  # type: ignore[arg-type]


def test_check_dir(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(RuntimeError, match=f"^Directory '{missing}' does not exist$"):
        StaticFiles(directory=missing)
    StaticFiles(directory=missing, check_dir=False)


@pytest.mark.anyio
async def test_missing_directory_at_request_time(tmp_path: Path) -> None:
    missing = tmp_path / "later"
    app = StaticFiles(directory=missing, check_dir=False)
    with pytest.raises(RuntimeError, match=f"^StaticFiles directory '{missing}' does not exist.$"):
        await call(app, "/x.txt")
    missing.mkdir()
    (missing / "x.txt").write_text("now")
    assert (await call(app, "/x.txt")).body == b"now"


@pytest.mark.anyio
async def test_directory_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")
    app = StaticFiles(directory=file, check_dir=False)
    with pytest.raises(RuntimeError, match=f"^StaticFiles path '{file}' is not a directory.$"):
        await call(app, "/x.txt")


@pytest.mark.anyio
async def test_websocket_session_is_closed(static: Path) -> None:
    async def receive() -> Message:
        raise AssertionError("not called")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    app = StaticFiles(directory=static)
    await app({"type": "websocket", "path": "/example.txt"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


@pytest.mark.anyio
async def test_other_scope_types_are_refused(static: Path) -> None:
    async def noop(*args: Any) -> Any:
        raise AssertionError("not called")

    with pytest.raises(AssertionError):
        await StaticFiles(directory=static)({"type": "lifespan"}, noop, noop)


@pytest.mark.anyio
async def test_subclass_falls_back_to_index(static: Path) -> None:
    class SPAStaticFiles(StaticFiles):
        async def get_response(self, path: str, scope: Scope) -> Response:
            try:
                return await super().get_response(path, scope)
            except HTTPException as exc:
                if exc.status_code != 404:
                    raise
                return await super().get_response("index.html", scope)

    app = SPAStaticFiles(directory=static)
    assert (await call(app, "/some/client/route")).body == b"<h1>home</h1>"
    assert (await call(app, "/example.txt")).body == b"<file content>"
    assert (await call(app, "/example.txt", method="POST")).status == 405


@pytest.mark.anyio
async def test_subclass_changes_file_responses(static: Path) -> None:
    class CachedStaticFiles(StaticFiles):
        def file_response(
            self,
            full_path: str | os.PathLike[str],
            stat_result: os.stat_result,
            scope: Scope,
            status_code: int = 200,
        ) -> Response:
            response = super().file_response(full_path, stat_result, scope, status_code)
            response.headers["cache-control"] = "max-age=3600"
            return response

    app = CachedStaticFiles(directory=static)
    result = await call(app, "/example.txt")
    assert result.headers["cache-control"] == "max-age=3600"
    again = await call(app, "/example.txt", headers={"if-none-match": result.headers["etag"]})
    assert again.status == 304
    assert again.headers["cache-control"] == "max-age=3600"


def test_lookup_path(static: Path) -> None:
    app = StaticFiles(directory=static)
    full_path, stat_result = app.lookup_path("example.txt")
    assert full_path == os.path.realpath(static / "example.txt")
    assert stat_result is not None and stat_result.st_size == 14
    assert app.lookup_path("missing.txt") == ("", None)
    assert app.lookup_path("example.txt/child") == ("", None)
    assert app.lookup_path("../static/example.txt")[1] is not None
    assert app.lookup_path("../other") == ("", None)


def test_file_response_type(static: Path) -> None:
    app = StaticFiles(directory=static)
    full_path, stat_result = app.lookup_path("example.txt")
    assert stat_result is not None
    response = app.file_response(full_path, stat_result, {"type": "http", "headers": []})
    assert isinstance(response, FileResponse)
