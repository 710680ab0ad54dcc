"""ServerErrorMiddleware: answer unhandled exceptions with a 500, then re-raise them."""

from __future__ import annotations

__version__ = "0.1.0"

import html
import linecache
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stellina.asgi import TrackedSend
from stellina.exceptions import ClientDisconnect
from stellina.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from types import TracebackType

    from stellina.requests import Request
    from stellina.responses import Response

__all__ = ["ServerErrorMiddleware"]


_PLAIN = b"text/plain; charset=utf-8"
_HTML = b"text/html; charset=utf-8"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;background:#fafafa}
h1{font-size:1.3rem;color:#b00020}h2{font-size:1.1rem;word-break:break-word}
.note{color:#555;font-style:italic}
details{margin:.4rem 0;border:1px solid #ddd;border-radius:4px;background:#fff}
summary{padding:.4rem .6rem;cursor:pointer;font-family:monospace}
pre{margin:0;padding:.4rem 0;overflow-x:auto;font-size:.85rem}
.line{display:block;padding:0 .6rem}.error{background:#fde7e9}
.no{display:inline-block;min-width:3.5em;color:#888;user-select:none}
"""


def _frame_html(filename: str, lineno: int, function: str, module_globals: Any, limit: int) -> str:
    lines = linecache.getlines(filename, module_globals)
    first = max(lineno - (limit - 1) // 2, 1)
    last = min(first + limit - 1, len(lines))
    source = "".join(
        f'<span class="line{" error" if number == lineno else ""}">'
        f'<span class="no">{number}</span>{html.escape(lines[number - 1].rstrip())}</span>'
        for number in range(first, last + 1)
    )
    summary = (
        f"<summary>File <b>{html.escape(filename)}</b>, line <b>{lineno}</b>, "
        f"in <b>{html.escape(function)}</b></summary>"
    )
    return f"{summary}<pre>{source}</pre>" if source else summary


def _exception_html(exc: BaseException, limit: int) -> str:
    try:
        message = str(exc)
    except Exception:
        message = "<exception str() failed>"
    title = html.escape(f"{type(exc).__name__}: {message}")
    frames: list[str] = []
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(
            _frame_html(code.co_filename, tb.tb_lineno, code.co_name, tb.tb_frame.f_globals, limit)
        )
        tb = tb.tb_next
    # Innermost frame first, and the only one unfolded.
    body = "".join(
        f"<details{' open' if index == 0 else ''}>{frame}</details>"
        for index, frame in enumerate(reversed(frames))
    )
    return f"<h2>{title}</h2>{body}"


def _debug_html(exc: BaseException, limit: int) -> str:
    """The debug page: every exception of the chain with its frames and source context."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    note = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, note))
        if current.__cause__ is not None:
            note = "The above exception was the direct cause of the following exception:"
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            note = "During handling of the above exception, another exception occurred:"
            current = current.__context__
        else:
            current = None
    sections = []
    for item, following_note in reversed(chain):
        sections.append(_exception_html(item, limit))
        if following_note:
            sections.append(f'<p class="note">{html.escape(following_note)}</p>')
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>500 Server Error</title><style>{_STYLE}</style></head>"
        f"<body><h1>500 Server Error</h1>{''.join(sections)}</body></html>"
    )


def _wants_html(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            return b"text/html" in value
    return False


async def _send_text(send: Send, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", content_type)]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class ServerErrorMiddleware:
    """Outermost middleware: turns an exception escaping the app into a 500 response.

    With ``debug`` the response is a traceback (HTML when the client accepts it, plain text
    otherwise); else ``handler(request, exc)`` builds it, or a plain "Internal Server Error".
    The exception is always re-raised so that the server can log it, except
    `ClientDisconnect`: a client gone mid-request ends the request quietly.
    """

    def __init__(
        self,
        app: ASGIApp,
        handler: Callable[[Request, Exception], Any] | None = None,
        debug: bool = False,
    ) -> None:
        self.app = app
        self.handler = handler
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        tracking_send = TrackedSend.around(send)

        try:
            await self.app(scope, receive, tracking_send.forward)
        except ClientDisconnect:
            # The client has gone: no one is left to answer or to blame. The request ends
            # here, quietly, rather than as a server error in the log.
            return
        except Exception as exc:
            await self.answer(exc, scope, receive, send, started=tracking_send.started)
            raise

    async def answer(
        self, exc: Exception, scope: Scope, receive: Receive, send: Send, *, started: bool
    ) -> None:
        """Answer ``exc``, escaped from the app serving ``scope``, as this middleware does.

        The handler (when given and not in debug) always runs; nothing is sent when the
        response had ``started``. The caller re-raises ``exc``.
        """
        if self.handler is not None and not self.debug:
            response = await self._call_handler(scope, exc)
            if not started:
                await response(scope, receive, send)
        elif not started:
            await self._send_500(scope, receive, send, exc)

    async def _send_500(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        cls = type(self)
        if self.debug:
            if cls.debug_response is not ServerErrorMiddleware.debug_response:
                await self._send_overridden(self.debug_response, scope, receive, send, exc)
            elif _wants_html(scope):
                await _send_text(send, self.generate_html(exc).encode(), _HTML)
            else:
                await _send_text(send, self.generate_plain_text(exc).encode(), _PLAIN)
        elif cls.error_response is not ServerErrorMiddleware.error_response:
            await self._send_overridden(self.error_response, scope, receive, send, exc)
        else:
            await _send_text(send, b"Internal Server Error", _PLAIN)

    @staticmethod
    async def _send_overridden(
        method: Callable[[Request, Exception], Any],
        scope: Scope,
        receive: Receive,
        send: Send,
        exc: Exception,
    ) -> None:
        # A subclass that builds Response objects has stellina-http installed.
        from stellina.requests import Request

        await method(Request(scope), exc)(scope, receive, send)

    async def _call_handler(self, scope: Scope, exc: Exception) -> ASGIApp:
        # A handler takes a Request, so stellina-http is installed whenever one is given.
        from stellina.concurrency import is_async_callable, run_in_threadpool
        from stellina.requests import Request

        handler = self.handler
        assert handler is not None
        request = Request(scope)
        if is_async_callable(handler):
            response: ASGIApp = await handler(request, exc)
        else:
            response = await run_in_threadpool(handler, request, exc)
        return response

    def debug_response(self, request: Request, exc: Exception) -> Response:
        """The debug-mode response: HTML traceback if the client accepts HTML, else text."""
        from stellina.responses import HTMLResponse, PlainTextResponse

        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(self.generate_html(exc), status_code=500)
        return PlainTextResponse(self.generate_plain_text(exc), status_code=500)

    def error_response(self, request: Request, exc: Exception) -> Response:
        """The response without debug and without a handler."""
        from stellina.responses import PlainTextResponse

        return PlainTextResponse("Internal Server Error", status_code=500)

    def generate_html(self, exc: BaseException, limit: int = 7) -> str:
        """The HTML debug page for ``exc``, showing ``limit`` source lines around each frame."""
        return _debug_html(exc, limit)

    def generate_plain_text(self, exc: BaseException) -> str:
        """The plain-text traceback of ``exc``."""
        return "".join(traceback.format_exception(exc))
