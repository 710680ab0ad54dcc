"""An ASGI app serving files from directories and packages, refusing anything outside them."""

from __future__ import annotations

__version__ = "0.1.0"

import errno
import importlib.util
import os
import re
import stat
from collections.abc import Callable
from email.utils import parsedate
from mimetypes import guess_type
from typing import TYPE_CHECKING, NamedTuple

import anyio.to_thread

from stellina.asgi import accept_encoding, add_vary, encoding_qualities, memoise, set_header
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

# Precompressed siblings: each content coding, best first among equal qualities, and the
# suffix of its file. A file whose name has one of these suffixes gets no sibling itself.
_CODINGS = ("zstd", "br", "gzip")
_SUFFIXES = {"zstd": ".zst", "br": ".br", "gzip": ".gz"}
_ENCODED_SUFFIXES = tuple(_SUFFIXES.values())
# Rankings of recent Accept-Encoding values (short ones only, bounded): browsers send a handful.
_rankings: dict[bytes, tuple[str, ...]] = {}
_IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")


class _Sibling(NamedTuple):
    """A precompressed file to send in place of the requested one."""

    coding: str
    path: str
    stat_result: os.stat_result


# A lookup's result: the file and its stat, the sibling to send instead (if any), and
# whether the answer depends on Accept-Encoding (a usable sibling exists).
_Found = tuple[str, os.stat_result | None, _Sibling | None, bool]


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


# RFC 9110 section 15.4.5: of the headers a 200 would have sent, a 304 carries the
# representation metadata and validators, and the caching headers (RFC 9111).
_304_METADATA = frozenset({"content-location", "date", "etag", "vary"})
_304_CACHING = frozenset({"cache-control", "expires"})


class NotModifiedResponse(Response):
    """A 304 answer carrying only the caching and validator headers of the full response."""

    NOT_MODIFIED_HEADERS = _304_METADATA | _304_CACHING

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


def _rank_codings(value: bytes) -> tuple[str, ...]:
    """The codings of `_CODINGS` an Accept-Encoding value accepts, the one to send first.

    As `encoding_qualities` reads the value (``*`` also weighs identity, unless listed):
    higher q wins, then zstd, br, gzip. A coding weighing less than identity (when identity
    or ``*`` is listed) is left out: the client prefers the file as it is.
    """
    weights = encoding_qualities(value)
    star = weights.get(b"*")
    identity = weights.get(b"identity", star)
    ranked = []
    for order, coding in enumerate(_CODINGS):
        weight = weights.get(coding.encode(), star)
        if weight and (identity is None or weight >= identity):
            ranked.append((-weight, order, coding))
    return tuple(coding for _, _, coding in sorted(ranked))


def _accepted_codings(scope: Scope) -> tuple[str, ...]:
    """The precompressed codings the request accepts, best first; none without Accept-Encoding."""
    value = accept_encoding(scope["headers"])
    ranked = _rankings.get(value)
    if ranked is None:
        ranked = memoise(_rankings, value, _rank_codings(value))
    return ranked


def _entity_tags(header: str) -> set[str]:
    """The opaque tags of an If-None-Match list, weak ones (``W/"x"``) compared as strong."""
    tags = set()
    for item in header.split(","):
        tag = item.strip()
        tags.add(tag[2:] if tag.startswith("W/") else tag)
    return tags


def _package_statics(package: str | tuple[str, str]) -> str:
    """The statics folder of an importable package: ``"statics"``, or the one named with it."""
    name, folder = (package, "statics") if isinstance(package, str) else package
    spec = importlib.util.find_spec(name)
    origin = None if spec is None else spec.origin
    assert origin is not None, f"Package {name!r} could not be found."
    statics = os.path.normpath(os.path.join(origin, os.pardir, folder))
    assert os.path.isdir(statics), f"Directory '{folder!r}' in package {name!r} could not be found."
    return statics


def _cache_control_parts(
    cache_control: str | Callable[[str], str | None] | None,
) -> tuple[tuple[bytes, bytes] | None, Callable[[str], str | None] | None]:
    """The fixed raw header or the per-path function `cache_control` stands for (or neither).

    A str is checked now: CR, LF and NUL raise ValueError. Anything else but None is refused.
    """
    if isinstance(cache_control, str):
        return Headers({"cache-control": cache_control}).raw[0], None
    if callable(cache_control):
        return None, cache_control
    if cache_control is not None:
        raise TypeError("cache_control must be a str, a callable or None")
    return None, None


class StaticFiles:
    """Serve the files of `directory` and of each package's statics folder, searched in order.

    Only GET and HEAD are answered. With `html=True`, a directory serves its `index.html`
    (redirecting to the URL with a trailing slash first) and a missing file serves `404.html`
    when there is one. Symlinks leaving the directories are refused unless `follow_symlink`.

    With `precompressed=True`, a file's ``.zst``, ``.br`` or ``.gz`` sibling (not older than
    the file) is sent instead, with ``Content-Encoding``, when Accept-Encoding allows it.
    `cache_control` (a value, or a function of the relative path giving one or None) is sent
    on 200, 206 and 304 answers; paths matching `immutable_pattern` get a one-year
    ``immutable`` value instead.
    """

    def __init__(
        self,
        *,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
        precompressed: bool = False,
        cache_control: str | Callable[[str], str | None] | None = None,
        immutable_pattern: str | re.Pattern[str] | None = None,
    ) -> None:
        # Refuse bad arguments before keeping any, in this order: a missing package (or its
        # statics folder), a missing directory, a bad pattern, a bad Cache-Control value.
        all_directories = self.get_directories(directory, packages)
        if check_dir and directory is not None and not os.path.isdir(directory):
            raise RuntimeError(f"Directory '{directory}' does not exist")
        pattern = (
            re.compile(immutable_pattern)
            if isinstance(immutable_pattern, str)
            else immutable_pattern
        )
        header, call = _cache_control_parts(cache_control)

        self.directory, self.packages, self.all_directories = directory, packages, all_directories
        self.html, self.follow_symlink = html, follow_symlink
        self.precompressed, self.cache_control = precompressed, cache_control
        self.immutable_pattern = pattern
        self._cache_control_header, self._cache_control_call = header, call
        self.config_checked = False
        # Resolved once by the first request's config check, so the directories stay editable
        # until then; lookups before that resolve them each time.
        self._roots: list[tuple[str, str]] | None = None
        # Without any of the three options, a file is answered by `file_response` alone.
        self._plain = not precompressed and cache_control is None and immutable_pattern is None

    def get_directories(
        self,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
    ) -> list[PathLike]:
        """The directories to search: `directory` first, then each package's statics folder."""
        found: list[PathLike] = [_package_statics(package) for package in packages or ()]
        return found if directory is None else [directory, *found]

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
        codings = _accepted_codings(scope) if self.precompressed else None
        found = await self._lookup(path, codings)
        stat_result = found[1]
        if stat_result is not None:
            if stat.S_ISREG(stat_result.st_mode):
                if self._plain:
                    return self.file_response(found[0], stat_result, scope)
                return self._respond(path, found, scope)
            if self.html and stat.S_ISDIR(stat_result.st_mode):
                index = os.path.join(path, "index.html")
                found = await self._lookup(index, codings)
                stat_result = found[1]
                if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
                    if not scope["path"].endswith("/"):
                        url = URL(scope=scope)
                        return RedirectResponse(url=url.replace(path=url.path + "/"))
                    if self._plain:
                        return self.file_response(found[0], stat_result, scope)
                    return self._respond(os.path.normpath(index), found, scope)
        if self.html:
            found = await self._lookup("404.html", codings)
            stat_result = found[1]
            if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
                return self._respond("404.html", found, scope, status_code=404)
        raise HTTPException(status_code=404)

    def _respond(self, path: str, found: _Found, scope: Scope, status_code: int = 200) -> Response:
        """The answer for a found regular file, with its sibling, Vary and Cache-Control.

        `path` is the file's path relative to the directory; a 200 can become a 304 (or, when
        sent, a 206), and those carry Cache-Control; other statuses do not.
        """
        full_path, stat_result, sibling, vary = found
        assert stat_result is not None
        if sibling is not None:
            response = self._sibling_response(full_path, sibling, scope, status_code)
        elif status_code == 200:
            response = self.file_response(full_path, stat_result, scope)
        else:
            response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        if vary:
            add_vary(response.raw_headers, b"Accept-Encoding")
        if response.status_code in (200, 304):
            self._set_cache_control(response, path if _SEP_IS_SLASH else path.replace(os.sep, "/"))
        return response

    def _sibling_response(
        self, full_path: str, sibling: _Sibling, scope: Scope, status_code: int
    ) -> Response:
        """A FileResponse of the sibling's bytes as the file's encoded form, or a 304.

        The media type is the file's; the ETag, from the sibling's stat and coding, differs
        from the file's own and from every other coding's.
        """
        coding, path, stat_result = sibling
        tag = f'"{stat_result.st_mtime_ns:x}-{stat_result.st_size:x}-{coding}"'
        response = FileResponse(
            path,
            status_code=status_code,
            headers={"content-encoding": coding, "etag": tag},
            media_type=guess_type(full_path)[0] or "application/octet-stream",
            stat_result=stat_result,
        )
        if status_code == 200 and self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    def _set_cache_control(self, response: Response, path: str) -> None:
        """Set the Cache-Control header configured for the relative `path`, if any."""
        pattern = self.immutable_pattern
        if pattern is not None and pattern.search(path):
            set_header(response.raw_headers, *_IMMUTABLE)
        elif self._cache_control_header is not None:
            set_header(response.raw_headers, *self._cache_control_header)
        elif self._cache_control_call is not None:
            value = self._cache_control_call(path)
            if value is not None:
                response.headers["cache-control"] = value  # refuses CR, LF and NUL

    async def _lookup(self, path: str, codings: tuple[str, ...] | None = None) -> _Found:
        """`lookup_path` in a worker thread, with file system refusals mapped to HTTP errors.

        With `codings` (precompressed serving), the same thread picks the sibling to send.
        """
        try:
            if codings is not None:
                return await anyio.to_thread.run_sync(self._lookup_with_sibling, path, codings)
            full_path, stat_result = await anyio.to_thread.run_sync(self.lookup_path, path)
            return full_path, stat_result, None, False
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

    def _lookup_with_sibling(self, path: str, codings: tuple[str, ...]) -> _Found:
        """`lookup_path`, then the first usable sibling in `codings` for a regular file.

        When none of those is usable, the other codings' siblings are looked at only to tell
        whether the answer depends on Accept-Encoding.
        """
        full_path, stat_result = self.lookup_path(path)
        if (
            stat_result is None
            or not stat.S_ISREG(stat_result.st_mode)
            or full_path.endswith(_ENCODED_SUFFIXES)
        ):
            return full_path, stat_result, None, False
        for coding in codings:
            sibling = self._find_sibling(full_path, stat_result, coding)
            if sibling is not None:
                return full_path, stat_result, sibling, True
        for coding in _CODINGS:
            if coding not in codings and self._find_sibling(full_path, stat_result, coding):
                return full_path, stat_result, None, True
        return full_path, stat_result, None, False

    def _find_sibling(
        self, full_path: str, original: os.stat_result, coding: str
    ) -> _Sibling | None:
        """The `coding` sibling of the file at `full_path`, if it is usable.

        Usable: a regular file, not older than the original, reached under the same symlink
        rules. The original's folder is inside a directory already; without `follow_symlink`,
        a symlinked sibling must resolve inside a directory that holds the original too. Any
        error reading it (missing, a loop, a name too long, no permission) means no sibling.
        """
        path = full_path + _SUFFIXES[coding]
        try:
            if self.follow_symlink:
                stat_result = os.stat(path)
            else:
                stat_result = os.lstat(path)
                if stat.S_ISLNK(stat_result.st_mode):
                    path = os.path.realpath(path)
                    roots = self._roots if self._roots is not None else self._resolve_roots()
                    if not any(
                        full_path.startswith(prefix) and path.startswith(prefix)
                        for _, prefix in roots
                    ):
                        return None
                    stat_result = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(stat_result.st_mode) or stat_result.st_mtime_ns < original.st_mtime_ns:
            return None
        return _Sibling(coding, path, stat_result)

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
