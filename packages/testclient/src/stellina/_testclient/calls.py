"""One ASGI call of the app, run on the portal's event loop and watched from the test thread.

Both sides share one broadcast signal: whoever changes the call's state (the app sending,
the test delivering or asking) pings it, and every waiter re-checks what it waits for. The
loop side owns the state; the test thread reaches it only through ``BlockingPortal.call``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
from anyio.from_thread import BlockingPortal

from stellina.types import ASGIApp, Message, Receive, Scope, Send

PortalFactory = Callable[[], contextlib.AbstractContextManager[BlockingPortal]]

# Loop turns a finishing app gets to return on its own before it is cancelled.
GRACE_TURNS = 100
# Seconds the app may wait on the client while the test waits on the app before that
# standstill is reported as a deadlock instead of hanging the test.
DEADLOCK_SECONDS = 10.0


def as_asgi3(app: Any) -> ASGIApp:
    """`app` itself if it is a one-step (ASGI 3) callable, else a one-step wrapper of it."""
    target = app
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.isclass(target):
        one_step = hasattr(target, "__await__")
    else:
        call = target if inspect.isroutine(target) else getattr(target, "__call__", None)  # noqa: B004
        one_step = inspect.iscoroutinefunction(call)
    if one_step:
        return app  # type: ignore[no-any-return]

    async def two_step(scope: Scope, receive: Receive, send: Send) -> None:
        instance: Callable[[Receive, Send], Awaitable[None]] = app(scope)
        await instance(receive, send)

    return two_step


class AppCall:
    """The app handling one scope; subclasses provide the ``receive`` and ``send`` it gets."""

    receive: Receive
    send: Send

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.done = False
        self.error: Exception | None = None
        self.reported = False
        self._signal: anyio.Event | None = None
        self._scope: anyio.CancelScope | None = None
        self._stop_asked = False
        # While the app waits in `receive` for something only the test can give: since when,
        # and the condition that ends the wait.
        self._parked: tuple[float, Callable[[], bool]] | None = None

    async def run(self) -> None:
        """Run the app to its end, keeping the exception it raised."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            if self._stop_asked:
                scope.cancel()
            try:
                await self.app(self.scope, self.receive, self.send)
            except Exception as exc:
                self.error = exc
            finally:
                self.done = True
                self.ping()

    def ping(self) -> None:
        """Wake every waiter on either side so it re-checks its condition."""
        signal, self._signal = self._signal, None
        if signal is not None:
            signal.set()

    async def _next_ping(self) -> None:
        if self._signal is None:
            self._signal = anyio.Event()
        await self._signal.wait()

    async def park(self, ready: Callable[[], bool]) -> None:
        """App side: wait until `ready()`, known meanwhile as waiting on the client."""
        if ready():
            return
        self._parked = (anyio.current_time(), ready)
        try:
            while not ready():
                await self._next_ping()
        finally:
            self._parked = None

    def waits_on_client(self) -> bool:
        """Whether the app waits in `receive` for something it has not been given yet."""
        return self._parked is not None and not self._parked[1]()

    async def wait_for(self, ready: Callable[[], bool], what: str) -> None:
        """Test side: wait until `ready()` or the app's end; fail instead of deadlocking."""
        while not (ready() or self.done):
            with anyio.move_on_after(DEADLOCK_SECONDS):
                await self._next_ping()
            parked = self._parked
            if parked is None or parked[1]() or ready():
                continue
            if anyio.current_time() - parked[0] >= DEADLOCK_SECONDS:
                await self.cancel()
                raise RuntimeError(
                    f"Deadlock: the application waits for a message from the client while the "
                    f"client waits for {what}."
                )

    async def wait_done(self) -> None:
        """Wait until the app has returned."""
        while not self.done:
            await self._next_ping()

    async def cancel(self) -> None:
        """Cancel the app and wait until it has unwound."""
        self._stop_asked = True
        if self._scope is not None:
            self._scope.cancel()
        await self.wait_done()

    async def settle(self) -> None:
        """Give the app a few loop turns to return by itself, then cancel it."""
        for _ in range(GRACE_TURNS):
            if self.done or self.waits_on_client():
                break
            await anyio.lowlevel.checkpoint()
        if not self.done:
            await self.cancel()

    def raise_unreported(self) -> None:
        """Raise the app's exception, unless the test has already been given it."""
        if self.error is not None and not self.reported:
            self.reported = True
            raise self.error


class Conversation(AppCall):
    """A call that trades discrete messages with the test both ways (lifespan, WebSocket)."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        super().__init__(app, scope)
        self.to_app: deque[Message] = deque()
        self.from_app: deque[Message] = deque()

    async def receive(self) -> Message:
        await self.park(lambda: bool(self.to_app))
        return self.to_app.popleft()

    async def send(self, message: Message) -> None:
        self.from_app.append(message)
        self.ping()

    def deliver(self, message: Message) -> None:
        """Queue `message` for the app's `receive` (runs on the loop)."""
        self.to_app.append(message)
        self.ping()

    async def next_message(self, what: str) -> Message | None:
        """The app's next message, or None once it has returned with nothing left to say."""
        await self.wait_for(lambda: bool(self.from_app), what)
        return self.from_app.popleft() if self.from_app else None
