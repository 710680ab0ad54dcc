"""ExceptionMiddleware: answer HTTPException, WebSocketException and registered exceptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from stellina.concurrency import is_async_callable, run_in_threadpool
from stellina.exceptions import HTTPException, WebSocketException
from stellina.requests import HTTPConnection, Request
from stellina.responses import PlainTextResponse, Response
from stellina.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send
from stellina.websockets import WebSocket

__all__ = ["ExceptionMiddleware"]

Handler = Callable[..., Any]


def _http_exception_response(exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status_code = exc.status_code
    if status_code == 204 or status_code == 304:
        return Response(status_code=status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=status_code, headers=exc.headers)


class ExceptionMiddleware:
    """Answers exceptions raised by the app with the handler registered for them.

    A handler is looked up by status code (for HTTPException), then along the exception's
    class hierarchy; unhandled exceptions propagate. The handlers are also published in the
    scope under ``"stellina.exception_handlers"`` as ``(exception_handlers, status_handlers)``.
    """

    def __init__(
        self,
        app: ASGIApp,
        handlers: Mapping[Any, Handler] | None = None,
        debug: bool = False,
    ) -> None:
        self.app = app
        self.debug = debug
        self._status_handlers: dict[int, Handler] = {}
        http_handler = self.http_exception
        self._exception_handlers: dict[type[BaseException], Handler] = {
            HTTPException: http_handler,
            WebSocketException: self.websocket_exception,
        }
        # The stock HTTPException handler needs no Request and no await: answered inline.
        overridden = type(self).http_exception is not ExceptionMiddleware.http_exception
        self._inline_http: Handler | None = None if overridden else http_handler
        self._handlers = (self._exception_handlers, self._status_handlers)
        if handlers is not None:
            for key, value in handlers.items():
                self.add_exception_handler(key, value)

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[Exception], handler: ExceptionHandler
    ) -> None:
        """Answer an exception class (and its subclasses), or an HTTPException status code."""
        if isinstance(exc_class_or_status_code, int):
            self._status_handlers[exc_class_or_status_code] = handler
        else:
            assert issubclass(exc_class_or_status_code, Exception)
            self._exception_handlers[exc_class_or_status_code] = handler

    def _lookup(self, exc: Exception) -> Handler | None:
        if isinstance(exc, HTTPException) and self._status_handlers:
            handler = self._status_handlers.get(exc.status_code)
            if handler is not None:
                return handler
        handlers = self._exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return handler
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            await self.app(scope, receive, send)
            return
        scope["stellina.exception_handlers"] = self._handlers
        started = False

        # A plain function handing back `send`'s awaitable: no coroutine of its own per message.
        def tracking_send(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            return send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            handler = self._lookup(exc)
            if handler is None:
                raise
            if started:
                msg = "Caught handled exception, but response already started."
                raise RuntimeError(msg) from exc
            if handler is self._inline_http:
                response = _http_exception_response(exc)
            else:
                conn: HTTPConnection
                if scope_type == "http":
                    conn = Request(scope, receive, tracking_send)
                else:
                    conn = WebSocket(scope, receive, tracking_send)
                if is_async_callable(handler):
                    response = await handler(conn, exc)
                else:
                    response = await run_in_threadpool(handler, conn, exc)
            if response is not None:
                await response(scope, receive, tracking_send)

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        """The default HTTPException handler: the detail as plain text, with its headers."""
        return _http_exception_response(exc)

    async def websocket_exception(self, websocket: WebSocket, exc: Exception) -> None:
        """The default WebSocketException handler: close with its code and reason."""
        assert isinstance(exc, WebSocketException)
        await websocket.close(code=exc.code, reason=exc.reason)
