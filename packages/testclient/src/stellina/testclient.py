"""An httpx client that drives an ASGI application in-process, on an anyio portal thread."""

from __future__ import annotations

__version__ = "0.1.0"

import contextlib
import inspect
import sys
import warnings
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self, TypedDict
from urllib.parse import urljoin

import anyio.from_thread
import httpx
from anyio.from_thread import BlockingPortal

from stellina._testclient.calls import as_asgi3
from stellina._testclient.lifespan import Lifespan
from stellina._testclient.transport import TestClientTransport, websocket_scope
from stellina._testclient.websocket import WebSocketDenialResponse, WebSocketTestSession
from stellina.asgi import StellinaDeprecationWarning
from stellina.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from httpx._client import UseClientDefault
    from httpx._types import (
        AuthTypes,
        CookieTypes,
        HeaderTypes,
        QueryParamTypes,
        RequestContent,
        RequestData,
        RequestExtensions,
        RequestFiles,
        TimeoutTypes,
    )

__all__ = [
    "ASGI2App",
    "ASGI3App",
    "ASGIInstance",
    "TestClient",
    "WebSocketDenialResponse",
    "WebSocketTestSession",
]

ASGIInstance = Callable[[Receive, Send], Awaitable[None]]
ASGI2App = Callable[[Scope], ASGIInstance]
ASGI3App = Callable[[Scope, Receive, Send], Awaitable[None]]


_REQUEST_OPTIONS = frozenset(
    name
    for name, parameter in inspect.signature(httpx.Client.request).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)

#: TestClient arguments handed on unchanged: to the transport, and to httpx.Client.
_TRANSPORT_OPTIONS = ("raise_server_exceptions", "root_path", "client")
_HTTPX_OPTIONS = ("base_url", "cookies", "follow_redirects")


class _AsyncBackend(TypedDict):
    backend: str
    backend_options: dict[str, Any]


def _outside_httpx() -> int:
    """The warning stack level of the first caller outside httpx (``get()`` calls ``request()``)."""
    level, frame = 2, sys._getframe(2)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("httpx."):
        level, frame = level + 1, frame.f_back
    return level


class TestClient(httpx.Client):
    """An httpx client whose requests are served by an ASGI app running in-process.

    Used as a context manager, it keeps one event loop for the whole block and runs the
    app's lifespan around it.
    """

    __test__ = False
    portal: BlockingPortal | None = None

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        backend: Literal["asyncio", "trio"] = "asyncio",
        backend_options: dict[str, Any] | None = None,
        cookies: CookieTypes | None = None,
        headers: dict[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        given = dict(locals())
        self.async_backend = _AsyncBackend(backend=backend, backend_options=backend_options or {})
        self.app = as_asgi3(app)
        self.app_state: dict[str, Any] = {}
        self._lifespan: Lifespan | None = None
        # The constructor's options go on, by name, to the transport or to httpx.
        self._asgi = TestClientTransport(
            self.app,
            self._portal_factory,
            app_state=self.app_state,
            **{name: given[name] for name in _TRANSPORT_OPTIONS},
        )
        agent = httpx.Headers(headers)
        agent.setdefault("user-agent", "testclient")
        super().__init__(
            transport=self._asgi, headers=agent, **{name: given[name] for name in _HTTPX_OPTIONS}
        )

    @contextlib.contextmanager
    def _portal_factory(self) -> Generator[BlockingPortal, None, None]:
        """The `with` block's portal, or (outside one) a fresh loop for a single call."""
        if self.portal is not None:
            yield self.portal
        else:
            with anyio.from_thread.start_blocking_portal(**self.async_backend) as portal:
                yield portal

    def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = httpx.USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = httpx.USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> httpx.Response:
        """Send a request to the app (as httpx does; `timeout` has no effect here)."""
        if timeout is not httpx.USE_CLIENT_DEFAULT:
            warnings.warn(
                "You should not use the 'timeout' argument with the TestClient: "
                "the application runs in-process, so there is nothing to time out.",
                StellinaDeprecationWarning,
                stacklevel=_outside_httpx(),
            )
        # Everything but the warning is httpx's: hand the keyword options on as they came.
        options = {name: value for name, value in locals().items() if name in _REQUEST_OPTIONS}
        return super().request(method, url, **options)

    def websocket_connect(
        self, url: str, subprotocols: Sequence[str] | None = None, **kwargs: Any
    ) -> WebSocketTestSession:
        """Open a WebSocket to the app; use the result as a context manager.

        `kwargs` are those of `build_request` (`params`, `headers`, `cookies`, ...) and `auth`
        (the client's own `auth` when not given), as for `request`.
        """
        auth = kwargs.pop("auth", httpx.USE_CLIENT_DEFAULT)
        headers = httpx.Headers(kwargs.pop("headers", None))
        headers.setdefault("connection", "upgrade")
        headers.setdefault("sec-websocket-key", "testserver==")
        headers.setdefault("sec-websocket-version", "13")
        if subprotocols is not None:
            headers.setdefault("sec-websocket-protocol", ", ".join(subprotocols))
        request = self.build_request(
            "GET", urljoin("ws://testserver", url), headers=headers, **kwargs
        )
        # The handshake is one request: the auth flow's first step gives its headers.
        request = next(self._build_request_auth(request, auth).sync_auth_flow(request))
        scope = websocket_scope(request, self._asgi.scope_for(request))
        return WebSocketTestSession(self.app, scope, self._portal_factory)

    def _lifespan_call(self, *, renew: bool = False) -> Lifespan:
        """The app's lifespan call; with ``renew``, a new one when the last has ended."""
        call = self._lifespan
        if call is None or (renew and call.done):
            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.app_state}
            call = self._lifespan = Lifespan(self.app, scope)
        return call

    async def lifespan(self) -> None:
        """Run a lifespan call of the app until it returns (on the portal's loop).

        A call that has ended is not run again: a new one starts.
        """
        await self._lifespan_call(renew=True).run()

    async def wait_startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the app's answer; raise if startup failed."""
        await self._lifespan_call().startup()

    async def wait_shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish; raise what failed."""
        await self._lifespan_call().shutdown()

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(
                anyio.from_thread.start_blocking_portal(**self.async_backend)
            )
            # Undone in reverse: shutdown, cancel the lifespan call, cancel what still runs
            # (unclosed streams, WebSockets), forget the portal, stop its thread.
            stack.callback(self._end_block)
            stack.callback(portal.call, portal.stop, True)
            self.portal = portal
            lifespan = self._lifespan_call(renew=True)
            portal.start_task_soon(self.lifespan)
            stack.callback(portal.call, lifespan.cancel)
            portal.call(self.wait_startup)
            stack.callback(portal.call, self.wait_shutdown)
            self._block = stack.pop_all()
        return self

    def _end_block(self) -> None:
        self.portal = None
        self._lifespan = None

    def __exit__(self, *args: object) -> None:
        self._block.close()
