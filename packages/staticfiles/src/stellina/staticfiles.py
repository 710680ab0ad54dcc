"""An ASGI app serving files from directories and packages, refusing anything outside them."""

from __future__ import annotations

import errno
import importlib.util
import os
import stat
from email.utils import parsedate
from typing import TYPE_CHECKING

import anyio.to_thread

from stellina.datastructures import URL, Headers
from stellina.exceptions import HTTPException
from stellina.responses import FileResponse, RedirectResponse, Response
from stellina.websockets import WebSocketClose

if TYPE_CHECKING:
    from stellina.types import Receive, Scope, Send

__all__ = ["NotModifiedResponse", "PathLike", "StaticFiles"]

PathLike = str | os.PathLike[str]

_ALLOW = {"Allow": "GET, HEAD"}
# Where "/" is the separator, a backslash in a path is refused like NUL (never a separator).
_SEP_IS_SLASH = os.sep == "/"


def _find_real(root: str, prefix: str, path: str) -> tuple[str, os.stat_result] | None:
    """The real path and stat of `path` below the real directory `root`; None when outside.

    Each component is checked with lstat: a path without symlinks or ".." is its own real
    path, so os.path.realpath (which lstats every component from "/") is only needed when
    the walk meets one of those. Missing components raise FileNotFoundError/NotADirectoryError.
    """
    parts = path.split("/")
    if _SEP_IS_SLASH and parts[0] and ".." not in parts:
        full_path, stat_result, base = root, None, prefix
        for part in parts:
            if part and part != ".":
                full_path = base + part
                base = full_path + "/"
                stat_result = os.lstat(full_path)
                if stat.S_ISLNK(stat_result.st_mode):
                    break
        else:
            return full_path, os.stat(root) if stat_result is None else stat_result
    full_path = os.path.realpath(os.path.join(root, path))
    if full_path != root and not full_path.startswith(prefix):
        return None
    return full_path, os.stat(full_path)


def _find_following(root: str, prefix: str, path: str) -> tuple[str, os.stat_result] | None:
    """`path` below `root` with symlinks followed, as long as it does not climb out with ".."."""
    full_path = os.path.abspath(os.path.join(root, path))
    if full_path != root and not full_path.startswith(prefix):
        return None
    return full_path, os.stat(full_path)


class NotModifiedResponse(Response):
    """A 304 answer carrying only the caching and validator headers of the full response."""

    NOT_MODIFIED_HEADERS = (
        "cache-control",
        "content-location",
        "date",
        "etag",
        "expires",
        "vary",
    )

    def __init__(self, headers: Headers) -> None:
        keep = self.NOT_MODIFIED_HEADERS
        super().__init__(
            status_code=304,
            headers={name: value for name, value in headers.items() if name in keep},
        )


def _parse_http_date(value: str) -> tuple[int, ...] | None:
    """The (year, month, day, hour, minute, second) of an HTTP date, or None if malformed."""
    try:
        parsed = parsedate(value)
    except (ValueError, IndexError, TypeError, OverflowError):
        return None
    return None if parsed is None else tuple(parsed[:6])


def _entity_tags(header: str) -> set[str]:
    """The opaque tags of an If-None-Match list, weak ones (``W/"x"``) compared as strong."""
    tags = set()
    for item in header.split(","):
        tag = item.strip()
        tags.add(tag[2:] if tag.startswith("W/") else tag)
    return tags


class StaticFiles:
    """Serve the files of `directory` and of each package's statics folder, searched in order.

    Only GET and HEAD are answered. With `html=True`, a directory serves its `index.html`
    (redirecting to the URL with a trailing slash first) and a missing file serves `404.html`
    when there is one. Symlinks leaving the directories are refused unless `follow_symlink`.
    """

    def __init__(
        self,
        *,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
    ) -> None:
        self.directory = directory
        self.packages = packages
        self.all_directories = self.get_directories(directory, packages)
        self.html = html
        self.config_checked = False
        self.follow_symlink = follow_symlink
        if check_dir and directory is not None and not os.path.isdir(directory):
            raise RuntimeError(f"Directory '{directory}' does not exist")
        # Resolved once by the first request's config check, so the directories stay editable
        # until then; lookups before that resolve them each time.
        self._roots: list[tuple[str, str]] | None = None

    def get_directories(
        self,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
    ) -> list[PathLike]:
        """The directories to search: `directory` first, then each package's statics folder."""
        directories: list[PathLike] = [] if directory is None else [directory]
        for package in packages or ():
            if isinstance(package, tuple):
                package, statics_dir = package
            else:
                statics_dir = "statics"
            spec = importlib.util.find_spec(package)
            assert spec is not None, f"Package {package!r} could not be found."
            assert spec.origin is not None, f"Package {package!r} could not be found."
            package_directory = os.path.normpath(os.path.join(spec.origin, "..", statics_dir))
            assert os.path.isdir(package_directory), (
                f"Directory '{statics_dir!r}' in package {package!r} could not be found."
            )
            directories.append(package_directory)
        return directories

    def _resolve_roots(self) -> list[tuple[str, str]]:
        """Each directory as an absolute (real, unless following symlinks) path and its prefix."""
        resolve = os.path.abspath if self.follow_symlink else os.path.realpath
        roots = []
        for directory in self.all_directories:
            root = resolve(directory)
            roots.append((root, root if root.endswith(os.sep) else root + os.sep))
        return roots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an HTTP request; a WebSocket session is closed (code 1000) straight away.

        Refusals (401, 404, 405) propagate as HTTPException, for the application's exception
        handling to turn into a response.
        """
        if scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)
            return
        assert scope["type"] == "http"
        if not self.config_checked:
            await self.check_config()
            self.config_checked = True
        response = await self.get_response(self.get_path(scope), scope)
        await response(scope, receive, send)

    def get_path(self, scope: Scope) -> str:
        """The request path below the mount point, as a normalized relative file system path."""
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            if len(path) == len(root_path):
                path = ""
            elif path[len(root_path)] == "/":
                path = path[len(root_path) :]
        return os.path.normpath(os.path.join(*path.split("/")))

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The response for `path`; raises HTTPException for 401, 404 and 405."""
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers=_ALLOW)
        full_path, stat_result = await self._lookup(path)
        if stat_result is not None:
            if stat.S_ISREG(stat_result.st_mode):
                return self.file_response(full_path, stat_result, scope)
            if self.html and stat.S_ISDIR(stat_result.st_mode):
                full_path, stat_result = await self._lookup(os.path.join(path, "index.html"))
                if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
                    if not scope["path"].endswith("/"):
                        url = URL(scope=scope)
                        return RedirectResponse(url=url.replace(path=url.path + "/"))
                    return self.file_response(full_path, stat_result, scope)
        if self.html:
            full_path, stat_result = await self._lookup("404.html")
            if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
                return FileResponse(full_path, status_code=404, stat_result=stat_result)
        raise HTTPException(status_code=404)

    async def _lookup(self, path: str) -> tuple[str, os.stat_result | None]:
        """`lookup_path` in a worker thread, with file system refusals mapped to HTTP errors."""
        try:
            return await anyio.to_thread.run_sync(self.lookup_path, path)
        except PermissionError:
            raise HTTPException(status_code=401) from None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise HTTPException(status_code=404) from None
            raise

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """The first `path` existing inside one of the directories, with its stat, or ("", None)."""
        if "\x00" in path or (_SEP_IS_SLASH and "\\" in path):
            return "", None
        find = _find_following if self.follow_symlink else _find_real
        roots = self._roots if self._roots is not None else self._resolve_roots()
        for root, prefix in roots:
            try:
                found = find(root, prefix, path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                if exc.errno != errno.ELOOP:  # a symlink loop is no file to serve
                    raise
                continue
            if found is not None:
                return found
        return "", None

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """A FileResponse for the file, or a 304 when the request's validators still match."""
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    async def check_config(self) -> None:
        """Fail with RuntimeError unless `directory` (when given) is an existing directory."""
        self._roots = await anyio.to_thread.run_sync(self._checked_roots)

    def _checked_roots(self) -> list[tuple[str, str]]:
        """The resolved directories, once `directory` is known to be a directory."""
        directory = self.directory
        if directory is not None:
            try:
                stat_result = os.stat(directory)
            except FileNotFoundError:
                raise RuntimeError(f"StaticFiles directory '{directory}' does not exist.") from None
            if not (stat.S_ISDIR(stat_result.st_mode) or stat.S_ISLNK(stat_result.st_mode)):
                raise RuntimeError(f"StaticFiles path '{directory}' is not a directory.")
        return self._resolve_roots()

    def is_not_modified(self, response_headers: Headers, request_headers: Headers) -> bool:
        """Whether If-None-Match (else If-Modified-Since) says the client's copy is current."""
        if if_none_match := request_headers.get("if-none-match"):
            if if_none_match.strip() == "*":  # any current representation matches
                return True
            etag = response_headers.get("etag")
            return etag is not None and etag in _entity_tags(if_none_match)
        if_modified_since = request_headers.get("if-modified-since")
        if if_modified_since is None:
            return False
        last_modified = response_headers.get("last-modified")
        if last_modified is None:
            return False
        since = _parse_http_date(if_modified_since)
        modified = _parse_http_date(last_modified)
        return since is not None and modified is not None and since >= modified
