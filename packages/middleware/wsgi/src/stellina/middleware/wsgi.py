"""WSGIMiddleware: serve a WSGI application from ASGI, streaming both bodies."""

from __future__ import annotations

__version__ = "0.1.0"

import io
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, BinaryIO

import anyio.from_thread
import anyio.to_thread

from stellina.asgi import StellinaDeprecationWarning, route_path
from stellina.types import Message, Receive, Scope, Send

warnings.warn(
    "stellina.middleware.wsgi is deprecated and will be removed in a future release. "
    "Please refer to https://github.com/abersheeran/a2wsgi as a replacement.",
    StellinaDeprecationWarning,
    stacklevel=2,
)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Header names that CGI (and so WSGI) gives without the HTTP_ prefix.
_CGI_NAMES = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


def _environ_name(name: bytes) -> str:
    cgi = _CGI_NAMES.get(name)
    if cgi is not None:
        return cgi
    return "HTTP_" + name.decode("latin-1").upper().replace("-", "_")


def _native(text: str) -> str:
    """A path as PEP 3333 wants it: its UTF-8 bytes, decoded as latin-1."""
    try:  # surrogateescape: undecodable bytes, as some servers keep them
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("latin-1")


def _path_info(scope: Scope) -> str:
    """The path below ``root_path``, so that SCRIPT_NAME + PATH_INFO is the whole path.

    A root path that ends with "/" takes its slash with it (``/app/`` + ``users``).
    """
    root: str = scope.get("root_path", "")
    path: str = scope["path"]
    if root.endswith("/") and path.startswith(root):
        return path[len(root) :]
    return route_path(scope)


def build_environ(scope: Scope, body: bytes | BinaryIO | _Input) -> dict[str, Any]:
    """The WSGI environ for an ASGI HTTP ``scope``; ``body`` becomes ``wsgi.input``.

    ``SERVER_PORT`` is the server's port as the scope gives it, as Starlette's is.
    """
    scheme = scope.get("scheme", "http")
    server = scope.get("server") or ("localhost", 443 if scheme == "https" else 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _native(scope.get("root_path", "")),
        "PATH_INFO": _native(_path_info(scope)),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": "" if server[1] is None else server[1],
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body) if isinstance(body, bytes) else body,
        "wsgi.errors": sys.stdout,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
    for raw_name, raw_value in scope.get("headers", ()):
        name = _environ_name(raw_name)
        value = raw_value.decode("latin-1")
        previous = environ.get(name)
        if previous is not None:
            # RFC 9113 8.2.3: split cookie fields are rejoined with "; ".
            value = f"{previous}{'; ' if name == 'HTTP_COOKIE' else ','}{value}"
        environ[name] = value
    return environ


class _Input:
    """``wsgi.input``: the request body, pulled from ASGI ``receive`` as the app reads it."""

    __slots__ = ("_buffer", "_done", "_pos", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._buffer = b""
        self._pos = 0
        self._done = False

    def _fill(self) -> bool:
        """Append the next body chunk to the buffer; False once the body has ended."""
        if self._done:
            return False
        message = anyio.from_thread.run(self._pull)
        if message["type"] != "http.request":
            self._done = True
            raise OSError("Client disconnected while the request body was being read")
        self._buffer = self._buffer[self._pos :] + message.get("body", b"")
        self._pos = 0
        self._done = not message.get("more_body", False)
        return True

    async def _pull(self) -> Message:
        return await self._receive()

    def _take(self, end: int) -> bytes:
        data = self._buffer[self._pos : end]
        self._pos = min(end, len(self._buffer))
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when ``size`` is negative or None)."""
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take(len(self._buffer))
        while len(self._buffer) - self._pos < size and self._fill():
            pass
        return self._take(self._pos + size)

    def readline(self, size: int | None = -1) -> bytes:
        """One line, newline included, of at most ``size`` bytes when ``size`` is positive."""
        limit = -1 if size is None else size
        searched = self._pos
        while True:
            newline = self._buffer.find(b"\n", searched)
            if newline >= 0:
                end = newline + 1
                break
            if 0 <= limit <= len(self._buffer) - self._pos:
                end = len(self._buffer)
                break
            # Filling rebases the buffer on the read position: resume the search there.
            searched = len(self._buffer) - self._pos
            if not self._fill():
                end = len(self._buffer)
                break
        if limit >= 0:
            end = min(end, self._pos + limit)
        return self._take(end)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """The remaining lines, stopping once about ``hint`` bytes were read if it is positive."""
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


def _header_bytes(text: str) -> bytes:
    """A response header name or value, refused when it could split the header block."""
    if "\r" in text or "\n" in text or "\0" in text:
        raise ValueError(f"Invalid character in WSGI response header: {text!r}")
    return text.strip().encode("latin-1")


def _parse_status(status: str) -> int:
    code = status.split(" ", 1)[0]
    if len(code) != 3 or not code.isdigit():
        raise ValueError(f"Invalid WSGI status line: {status!r}")
    return int(code)


class _Exchange:
    """One request: runs the WSGI app in a worker thread and relays its response."""

    __slots__ = ("_error", "_headers", "_send", "_started", "_status", "environ")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.environ = build_environ(scope, _Input(receive))
        self._send = send
        # The error the application reported with exc_info: raised once its response is sent.
        self._error: BaseException | None = None
        self._status: int | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._started = False

    def start_response(
        self,
        status: str,
        response_headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        """PEP 3333 ``start_response``: records status and headers, sent with the first body.

        With ``exc_info`` before the response started, the error response replaces the
        recorded one and the error is raised to the server after it has been sent.
        """
        if exc_info is not None:
            try:
                if self._started:
                    raise exc_info[1].with_traceback(exc_info[2])
                self._error = exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self._status is not None:
            raise RuntimeError("start_response() called a second time without exc_info")
        code = _parse_status(status)
        self._headers = [
            (_header_bytes(name.lower()), _header_bytes(value)) for name, value in response_headers
        ]
        self._status = code
        return self.write

    def _start_message(self) -> Message:
        if self._status is None:
            raise RuntimeError("The WSGI application did not call start_response()")
        self._started = True
        return {"type": "http.response.start", "status": self._status, "headers": self._headers}

    def _relay(self, body: bytes, more_body: bool) -> None:
        message: Message = {"type": "http.response.body", "body": body, "more_body": more_body}
        if self._started:
            anyio.from_thread.run(self._deliver, message)
        else:
            anyio.from_thread.run(self._deliver, self._start_message(), message)

    async def _deliver(self, *messages: Message) -> None:
        for message in messages:
            await self._send(message)

    def write(self, data: bytes) -> None:
        """The legacy ``write`` callable: sends ``data`` at once."""
        if data:
            self._relay(data, True)

    def run(self, app: WSGIApp) -> None:
        """Call ``app`` and stream its body; runs in a worker thread."""
        self._stream(app(self.environ, self.start_response))
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _stream(self, chunks: Iterable[bytes]) -> None:
        try:
            if isinstance(chunks, (list, tuple)):
                # A sized body: the last chunk ends the response, saving a message.
                for chunk in chunks[:-1]:
                    if chunk:
                        self._relay(chunk, True)
                self._relay(chunks[-1] if chunks else b"", False)
                return
            for chunk in chunks:
                if chunk:
                    self._relay(chunk, True)
            self._relay(b"", False)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


class WSGIMiddleware:
    """An ASGI app that runs a WSGI app in worker threads, one per request."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"WSGIMiddleware only serves HTTP, not {scope['type']!r} scopes")
        exchange = _Exchange(scope, receive, send)
        await anyio.to_thread.run_sync(exchange.run, self.app)
