"""StaticFiles never serves anything outside its directories, whatever the request path."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stellina_testing import Recorder, http_scope

from stellina.staticfiles import StaticFiles


async def request(
    app: Any, path: str, *, root_path: str = "", method: str = "GET"
) -> tuple[int, bytes]:
    """Call `app` with a raw scope (no client-side normalization); return status and body.

    An HTTPException is answered the way an application's exception handling would.
    """
    scope = http_scope(
        method=method,
        path=path,
        root_path=root_path,
        raw_path=path.encode("utf-8", "surrogateescape"),
        extensions={},
    )
    recorder = Recorder.with_body()
    await recorder.answer(app, scope)
    return recorder.status, recorder.body


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """tmp/static (served), with secrets beside it that must never be reachable."""
    static = tmp_path / "static"
    (static / "sub").mkdir(parents=True)
    (static / "public.txt").write_text("public")
    (static / "sub" / "inner.txt").write_text("inner")
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "static-private").mkdir()
    (tmp_path / "static-private" / "key.txt").write_text("private key")
    return tmp_path


ESCAPES = [
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/sub/../../../../../../../../etc/passwd",
    "/./../secret.txt",
    "/sub/..//../secret.txt",
    # Separators and dots a server might leave encoded: literal names, never traversal.
    "/..%2Fsecret.txt",
    "/%2e%2e/secret.txt",
    "/..%5Csecret.txt",
    "/%2E%2E%2Fsecret.txt",
    # A sibling sharing the directory's name as a prefix.
    "/../static-private/key.txt",
    # Backslashes: refused outright, whatever they would mean.
    "/..\\secret.txt",
    "/sub\\..\\..\\secret.txt",
    "/\\..\\secret.txt",
    # NUL bytes.
    "/public.txt\x00",
    "/public.txt\x00.png",
    "/\x00",
]


@pytest.mark.anyio
@pytest.mark.parametrize("path", ESCAPES)
@pytest.mark.parametrize("follow_symlink", [False, True])
async def test_traversal_is_not_found(layout: Path, path: str, follow_symlink: bool) -> None:
    app = StaticFiles(directory=layout / "static", follow_symlink=follow_symlink)
    status, body = await request(app, path)
    assert (status, body) == (404, b"Not Found")


@pytest.mark.anyio
async def test_absolute_paths_stay_inside(layout: Path) -> None:
    app = StaticFiles(directory=layout / "static")
    secret = str(layout / "secret.txt")
    assert await request(app, "/" + secret) == (404, b"Not Found")
    assert await request(app, "//" + secret.lstrip("/")) == (404, b"Not Found")
    # A leading run of slashes is just the root of the served directory.
    assert await request(app, "///public.txt") == (200, b"public")


@pytest.mark.anyio
async def test_traversal_through_root_path_is_not_found(layout: Path) -> None:
    app = StaticFiles(directory=layout / "static")
    assert await request(app, "/static/../secret.txt", root_path="/static") == (404, b"Not Found")
    assert await request(app, "/static/public.txt", root_path="/static") == (200, b"public")


@pytest.mark.anyio
async def test_backslash_in_an_existing_name_is_refused(layout: Path) -> None:
    (layout / "static" / "a\\b.txt").write_text("odd")
    app = StaticFiles(directory=layout / "static")
    assert await request(app, "/a\\b.txt") == (404, b"Not Found")
    assert app.lookup_path("a\\b.txt") == ("", None)


@pytest.mark.anyio
async def test_symlink_leaving_the_directory(layout: Path) -> None:
    static = layout / "static"
    (static / "leak.txt").symlink_to(layout / "secret.txt")
    (static / "leakdir").symlink_to(layout / "static-private")
    refusing = StaticFiles(directory=static)
    assert await request(refusing, "/leak.txt") == (404, b"Not Found")
    assert await request(refusing, "/leakdir/key.txt") == (404, b"Not Found")
    following = StaticFiles(directory=static, follow_symlink=True)
    assert await request(following, "/leak.txt") == (200, b"secret")
    assert await request(following, "/leakdir/key.txt") == (200, b"private key")
    # Following symlinks does not allow "..": the path is normalized first.
    assert await request(following, "/leakdir/../../secret.txt") == (404, b"Not Found")


@pytest.mark.anyio
async def test_symlinks_inside_the_directory_are_served(layout: Path) -> None:
    static = layout / "static"
    (static / "alias.txt").symlink_to(static / "public.txt")
    (static / "subalias").symlink_to(static / "sub")
    app = StaticFiles(directory=static)
    assert await request(app, "/alias.txt") == (200, b"public")
    assert await request(app, "/subalias/inner.txt") == (200, b"inner")


@pytest.mark.anyio
async def test_directory_given_as_a_symlink(layout: Path) -> None:
    link = layout / "link-to-static"
    link.symlink_to(layout / "static")
    app = StaticFiles(directory=link)
    assert await request(app, "/public.txt") == (200, b"public")
    assert await request(app, "/../secret.txt") == (404, b"Not Found")


@pytest.mark.anyio
async def test_symlink_loop_inside_is_not_served(layout: Path) -> None:
    static = layout / "static"
    (static / "loop").symlink_to(static / "loop")
    app = StaticFiles(directory=static)
    assert await request(app, "/loop") == (404, b"Not Found")
    assert await request(app, "/loop/x.txt") == (404, b"Not Found")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    ["/" + "a" * 300, "/sub/" + "b" * 1000 + ".txt", "/a" * 3000, "/" + "é" * 200],
)
async def test_overlong_names_are_not_found(layout: Path, path: str) -> None:
    app = StaticFiles(directory=layout / "static")
    assert await request(app, path) == (404, b"Not Found")


@pytest.mark.anyio
async def test_directories_are_not_served_outside_html_mode(layout: Path) -> None:
    app = StaticFiles(directory=layout / "static")
    for path in ("/", "", "/sub", "/sub/", "/.", "/sub/.."):
        assert await request(app, path) == (404, b"Not Found")


@pytest.mark.anyio
async def test_permission_error_is_unauthorized(
    layout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = os.path.realpath(layout / "static" / "public.txt")

    def refusing(real: Callable[..., os.stat_result]) -> Any:
        def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            if os.fspath(path) == locked:
                raise PermissionError(errno.EACCES, "Permission denied", locked)
            return real(path, *args, **kwargs)

        return stat

    app = StaticFiles(directory=layout / "static")
    monkeypatch.setattr(os, "stat", refusing(os.stat))
    monkeypatch.setattr(os, "lstat", refusing(os.lstat))
    assert await request(app, "/public.txt") == (401, b"Unauthorized")
    assert await request(app, "/sub/inner.txt") == (200, b"inner")


@pytest.mark.anyio
async def test_other_os_errors_propagate(layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(real: Callable[..., os.stat_result]) -> Any:
        def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            if os.fspath(path).endswith("public.txt"):
                raise OSError(errno.EIO, "I/O error")
            return real(path, *args, **kwargs)

        return stat

    app = StaticFiles(directory=layout / "static")
    monkeypatch.setattr(os, "stat", failing(os.stat))
    monkeypatch.setattr(os, "lstat", failing(os.lstat))
    with pytest.raises(OSError, match="I/O error"):
        await request(app, "/public.txt")


def _expected(root: Path, path: str, follow_symlink: bool) -> tuple[str, bool]:
    """The check every lookup must agree with: resolved path, inside the root, existing."""
    resolve = os.path.abspath if follow_symlink else os.path.realpath
    real_root = resolve(root)
    full = resolve(os.path.join(real_root, path))
    inside = os.path.commonpath([full, real_root]) == real_root
    return full, inside and os.path.exists(full)


@pytest.mark.parametrize("follow_symlink", [False, True])
def test_lookup_agrees_with_the_simple_check(layout: Path, follow_symlink: bool) -> None:
    static = layout / "static"
    (static / "sub" / "deeper").mkdir()
    (static / "sub" / "deeper" / "f.txt").write_text("f")
    (static / "alias.txt").symlink_to(static / "public.txt")
    (static / "relalias.txt").symlink_to("sub/inner.txt")
    (static / "subalias").symlink_to(static / "sub")
    (static / "sub" / "up").symlink_to("..")
    (static / "sub" / "out").symlink_to(layout)
    (static / "dangling").symlink_to(layout / "nothing")
    app = StaticFiles(directory=static, follow_symlink=follow_symlink)
    names = ["public.txt", "sub", "inner.txt", "deeper", "f.txt", "alias.txt", "relalias.txt"]
    names += ["subalias", "up", "out", "secret.txt", "dangling", "..", ".", "", "static"]
    paths = {os.path.join(*combo) for a in names for b in names for combo in ([a], [a, b])}
    paths |= {os.path.join(a, b, c) for a in names[:4] + names[7:10] for b in names for c in names}
    checked = 0
    for path in sorted(paths):
        full, found = _expected(static, path, follow_symlink)
        result = app.lookup_path(path)
        if found:
            assert result[0] == full, path
            assert result[1] is not None and result[1].st_ino == os.stat(full).st_ino
            checked += 1
        else:
            assert result == ("", None), path
    assert checked > 100


def test_root_directory_prefix(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    relative = os.path.relpath(tmp_path / "file.txt", "/")
    app = StaticFiles(directory="/")
    full_path, stat_result = app.lookup_path(relative)
    assert full_path == os.path.realpath(tmp_path / "file.txt")
    assert stat_result is not None


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    ["", "garbage", "Mon, 99 Foo 2020 99:99:99 GMT", "0", " , ", "\x00" * 50, "1" * 5000],
)
async def test_malformed_if_modified_since_serves_the_file(layout: Path, value: str) -> None:
    app = StaticFiles(directory=layout / "static")
    headers = [(b"if-modified-since", value.encode("latin-1"))]
    recorder = Recorder.with_body()
    await recorder.run(app, http_scope(path="/public.txt", headers=headers, extensions={}))
    assert recorder.status == 200
    assert recorder.body == b"public"
