"""The Stellina application: a router behind error handling and the user's middleware."""

from __future__ import annotations

__version__ = "0.1.0"

import functools
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from stellina.asgi import MAX_BODY_SIZE_SCOPE_KEY, TrackedSend, limit_body
from stellina.datastructures import State
from stellina.exceptions import ClientDisconnect
from stellina.middleware import Middleware, MiddlewareFactory
from stellina.middleware.errors import ServerErrorMiddleware
from stellina.middleware.exceptions import ExceptionMiddleware
from stellina.requests import Request
from stellina.responses import Response, _http_messages
from stellina.routing import BaseRoute, Router
from stellina.types import ASGIApp, ExceptionHandler, Lifespan, Receive, Scope, Send

AppType = TypeVar("AppType", bound="Stellina")
P = ParamSpec("P")
R = TypeVar("R")


def _forwarded(
    method: Callable[Concatenate[Router, P], R],
) -> Callable[Concatenate[Stellina, P], R]:
    """A Stellina method doing what the Router's `method` does, on the app's router."""
    name = method.__name__

    @functools.wraps(method)
    def forwarding(self: Stellina, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = getattr(self.router, name)(*args, **kwargs)
        return result

    return forwarding


def _wrapped(app: ASGIApp, spec: Middleware) -> ASGIApp:
    """`app` inside the middleware that `spec` describes; a failure names the middleware."""
    factory, args, kwargs = spec
    try:
        wrapper: ASGIApp = factory(app, *args, **kwargs)
    except Exception as exc:
        exc.add_note(f"while building the middleware {spec!r}")
        raise
    return wrapper


class _RoutingExceptions(ExceptionMiddleware):
    """The app's ExceptionMiddleware, right around its router: for HTTP it serves a plain
    route's endpoint itself (one coroutine less), and `serve` may do the outer guard's work
    too. The answers and exceptions are those of the layers it stands for."""

    def __init__(
        self, router: Router, handlers: Mapping[Any, ExceptionHandler], debug: bool
    ) -> None:
        super().__init__(router, handlers=handlers, debug=debug)
        self.router = router

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        return self.serve(scope, receive, send, None)

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, errors: ServerErrorMiddleware | None
    ) -> None:
        """Serve `scope`; with `errors`, the ServerErrorMiddleware right around this one, do
        its work as well (the app calls this when nothing stands between them)."""
        if scope["type"] != "http":
            await ExceptionMiddleware.__call__(self, scope, receive, send)
            return
        receive = self.publish(scope, receive)
        tracked: TrackedSend | None = None
        started = False  # (tracked by hand while this method sends)
        try:
            try:
                route, app = self.router._resolve(scope)
                respond = None if route is None else route._respond
                if respond is None or MAX_BODY_SIZE_SCOPE_KEY in scope:
                    tracked = TrackedSend(send)
                    await app(scope, receive, tracked.forward)
                    return
                response = await respond(Request(scope, receive, send))
                messages = _http_messages(response)
                if messages is None:
                    tracked = TrackedSend(send)
                    await response(scope, receive, tracked.forward)
                else:
                    started = True
                    await send(messages[0])
                    await send(messages[1])
            except Exception as exc:
                if tracked is None:
                    tracked = TrackedSend(send)
                    tracked.started = started
                if not await self.answer(exc, scope, receive, tracked.forward):
                    raise
        except ClientDisconnect:
            if errors is None:
                raise
            # as ServerErrorMiddleware: the client has gone, quietly
        except Exception as exc:
            if errors is not None:
                started = started if tracked is None else tracked.started
                await errors.answer(exc, scope, receive, send, started=started)
            raise


class Stellina:
    """An ASGI application: routes, middleware, exception handlers and lifespan in one object."""

    def __init__(
        self: AppType,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        lifespan: Lifespan[AppType] | None = None,
        *,
        max_body_size: int | None = None,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
    ) -> None:
        assert lifespan is None or (on_startup is None and on_shutdown is None), (
            "Use either 'lifespan' or 'on_startup'/'on_shutdown', not both."
        )
        self._debug = debug
        self.state = State()
        self.router = Router(
            routes, on_startup=on_startup, on_shutdown=on_shutdown, lifespan=lifespan
        )
        self.exception_handlers: dict[Any, ExceptionHandler] = dict(exception_handlers or {})
        self.user_middleware: list[Middleware] = list(middleware or [])
        self.max_body_size = max_body_size
        self.middleware_stack: ASGIApp | None = None
        self._debuggable: list[Any] = []
        self._guards: tuple[ServerErrorMiddleware, _RoutingExceptions] | None = None

    @property
    def debug(self) -> bool:
        """Whether errors render a traceback page; may be changed at any time."""
        return self._debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._debug = value
        for middleware in self._debuggable:
            middleware.debug = value

    def build_middleware_stack(self) -> ASGIApp:
        """Wrap the router: ServerErrorMiddleware → user middleware → ExceptionMiddleware."""
        handlers = dict(self.exception_handlers)
        # 500 and Exception both name the server-error handler; the one given last wins.
        server_error = [handlers.pop(key) for key in list(handlers) if key in (500, Exception)]
        innermost = _RoutingExceptions(self.router, handlers, self._debug)
        app: ASGIApp = innermost
        app = functools.reduce(_wrapped, reversed(self.user_middleware), app)
        if self.max_body_size is not None:
            app = limit_body(app, self.max_body_size, always_answer=True)
        outermost = ServerErrorMiddleware(
            app, handler=server_error[-1] if server_error else None, debug=self._debug
        )
        self._debuggable = [outermost, innermost]
        self._guards = (outermost, innermost) if app is innermost else None
        return outermost

    @property
    def routes(self) -> list[BaseRoute]:
        """The router's routes."""
        return self.router.routes

    url_path_for = _forwarded(Router.url_path_for)
    mount = _forwarded(Router.mount)
    host = _forwarded(Router.host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        stack = self.middleware_stack
        if stack is None:
            stack = await self._start(scope, receive, send)
        guards = self._guards
        if guards is not None and guards[0] is stack and scope["type"] == "http":
            # Nothing between the two guards: the inner one does the outer one's work too.
            await guards[1].serve(scope, receive, send, guards[0])
        else:
            await stack(scope, receive, send)

    async def _start(self, scope: Scope, receive: Receive, send: Send) -> ASGIApp:
        """Build the middleware stack, once: the first call (lifespan, if the server runs it)
        starts the application. A stack that cannot be built fails the lifespan startup with
        the reason, so that the server reports it and stops before serving anything."""
        try:
            self.middleware_stack = self.build_middleware_stack()
        except Exception as exc:
            if scope["type"] == "lifespan":
                await receive()  # lifespan.startup
                reason = "".join(traceback.format_exception_only(exc)).strip()
                await send({"type": "lifespan.startup.failed", "message": reason})
            raise
        return self.middleware_stack

    def add_middleware(
        self, middleware_class: MiddlewareFactory[P], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Add a middleware outside those already given; refused once the app has started."""
        if self.middleware_stack is not None:
            raise RuntimeError("Cannot add middleware after an application has started")
        self.user_middleware.insert(0, Middleware(middleware_class, *args, **kwargs))

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[Exception], handler: ExceptionHandler
    ) -> None:
        """Handle an exception class or an HTTP status code with `handler(request, exc)`."""
        self.exception_handlers[exc_class_or_status_code] = handler

    def add_route(
        self,
        path: str,
        route: Callable[[Request], Awaitable[Response] | Response],
        methods: list[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        """Add an HTTP route."""
        self.router.add_route(
            path, route, methods=methods, name=name, include_in_schema=include_in_schema
        )

    def add_websocket_route(
        self, path: str, route: Callable[..., Awaitable[None]], name: str | None = None
    ) -> None:
        """Add a WebSocket route."""
        self.router.add_websocket_route(path, route, name=name)
