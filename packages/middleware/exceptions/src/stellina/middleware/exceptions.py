"""ExceptionMiddleware: answer HTTPException, WebSocketException and registered exceptions."""

from __future__ import annotations

__version__ = "0.1.0"

from collections.abc import Mapping
from typing import Any

from stellina._exception_handler import BodyRecorder, Handler, call_handler
from stellina.asgi import EXCEPTION_MIDDLEWARE_SCOPE_KEY, TrackedSend, find_exception_handler
from stellina.exceptions import HTTPException, WebSocketException
from stellina.requests import HTTPConnection, Request
from stellina.responses import PlainTextResponse, Response
from stellina.types import ASGIApp, ExceptionHandler, Receive, Scope, Send
from stellina.websockets import WebSocket

__all__ = ["ExceptionMiddleware"]

# Where the request's BodyRecorder is kept while custom handlers may want the body again.
_BODY_COPY_KEY = "stellina.exception_body_copy"


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

    A handler's Request can read the body again that the app already read: while handlers
    that may need it are registered, the body is copied as it passes (up to
    ``stellina._exception_handler.BODY_COPY_LIMIT`` bytes). A handled exception leaves with its
    traceback cleared, so an exception instance raised again and again does not grow one.
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
        # Only handlers other than the stock ones may want the body again.
        self._record_body = overridden
        self._handlers = (self._exception_handlers, self._status_handlers)
        if handlers is not None:
            for key, value in handlers.items():
                self.add_exception_handler(key, value)

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[Exception], handler: ExceptionHandler
    ) -> None:
        """Answer an exception class (and its subclasses), or an HTTPException status code."""
        key = exc_class_or_status_code
        self._record_body = True  # a custom handler may read the body again
        assert isinstance(key, int) or issubclass(key, Exception)
        table: dict[Any, Handler] = (
            self._status_handlers if isinstance(key, int) else self._exception_handlers
        )
        table[key] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            await self.app(scope, receive, send)
            return
        receive = self.publish(scope, receive)
        tracking_send = TrackedSend.around(send)
        try:
            await self.app(scope, receive, tracking_send.forward)
        except Exception as exc:
            if not await self.answer(exc, scope, receive, tracking_send.forward):
                raise

    def publish(self, scope: Scope, receive: Receive) -> Receive:
        """Make this middleware and its handlers known in the HTTP or WebSocket ``scope``;
        the ``receive`` to give the app (one that keeps the body while a handler may want it
        again)."""
        scope["stellina.exception_handlers"] = self._handlers
        scope[EXCEPTION_MIDDLEWARE_SCOPE_KEY] = self
        if self._record_body and scope["type"] == "http":
            receive = scope[_BODY_COPY_KEY] = BodyRecorder(receive)
        return receive

    async def answer(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer ``exc``, raised while serving ``scope``, with the handler registered for it.

        ``send`` is the one the failing app was given, through a `TrackedSend`. Returns False
        when no handler is registered for ``exc``; raises RuntimeError when the response had
        started already. Layers below the middleware find it in the scope under
        ``stellina.asgi.EXCEPTION_MIDDLEWARE_SCOPE_KEY`` and answer through it, so that the
        response passes through their own middleware.
        """
        handler = find_exception_handler(self._exception_handlers, self._status_handlers, exc)
        if handler is None:
            return False
        if TrackedSend.around(send).started:
            msg = "Caught handled exception, but response already started."
            raise RuntimeError(msg) from exc
        if handler is self._inline_http:
            response = _http_exception_response(exc)
        else:
            conn: HTTPConnection
            if scope["type"] == "websocket":
                conn = WebSocket(scope, receive, send)
            else:
                recorder: BodyRecorder | None = scope.get(_BODY_COPY_KEY)
                conn = Request(scope, receive if recorder is None else recorder.replay(), send)
            response = await call_handler(handler, conn, exc)
        exc.__traceback__ = None
        if response is not None:
            await response(scope, receive, send)
        return True

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        """The default HTTPException handler: the detail as plain text, with its headers."""
        return _http_exception_response(exc)

    async def websocket_exception(self, websocket: WebSocket, exc: Exception) -> None:
        """The default WebSocketException handler: close with its code and reason."""
        assert isinstance(exc, WebSocketException)
        await websocket.close(code=exc.code, reason=exc.reason)
