"""The lifespan side of the Router: what `lifespan=` may be, and the ASGI lifespan protocol."""

from __future__ import annotations

import contextlib
import inspect
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from stellina.asgi import StellinaDeprecationWarning
from stellina.concurrency import is_async_callable
from stellina.types import Lifespan, Receive, Scope, Send

__all__ = ["LifespanContext", "lifespan_context", "run_handlers", "serve_lifespan"]

LifespanContext = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]


class _Handlers:
    """The lifespan of a router without one: its on_startup / on_shutdown handlers."""

    def __init__(self, startup: Callable[[], Any], shutdown: Callable[[], Any]) -> None:
        self._startup, self._shutdown = startup, shutdown

    def __call__(self, app: object) -> _Handlers:
        return self

    async def __aenter__(self) -> None:
        await self._startup()

    async def __aexit__(self, *exc_info: object) -> None:
        await self._shutdown()


class _Threadless:
    """An async context manager driving a sync one, on the event loop."""

    def __init__(self, manager: contextlib.AbstractContextManager[Any]) -> None:
        self._manager = manager

    async def __aenter__(self) -> Any:
        return self._manager.__enter__()

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return self._manager.__exit__(*exc_info)


def _deprecated(kind: str) -> None:
    warnings.warn(
        f"{kind} function lifespans are deprecated, "
        "use an @contextlib.asynccontextmanager function instead",
        StellinaDeprecationWarning,
        stacklevel=1,  # attributed to stellina.routing, where filters expect it (as Starlette)
    )


def lifespan_context(
    lifespan: Lifespan[Any] | None,
    startup: Callable[[], Any],
    shutdown: Callable[[], Any],
) -> LifespanContext:
    """The async context manager factory for `lifespan=` (generator functions still work)."""
    if lifespan is None:
        return _Handlers(startup, shutdown)
    if inspect.isasyncgenfunction(lifespan):
        _deprecated("async generator")
        return contextlib.asynccontextmanager(lifespan)
    if inspect.isgeneratorfunction(lifespan):
        _deprecated("generator")
        sync_manager = contextlib.contextmanager(lifespan)

        def threadless(app: Any) -> _Threadless:
            return _Threadless(sync_manager(app))

        return threadless
    return lifespan


async def run_handlers(handlers: list[Callable[[], Any]]) -> None:
    """Call each handler (sync or async) in order."""
    for handler in handlers:
        if is_async_callable(handler):
            await handler()
        else:
            handler()


async def serve_lifespan(
    context: LifespanContext, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve the ASGI lifespan protocol around `context(app)`; state goes to the scope."""
    started = False
    await receive()
    try:
        async with context(scope.get("app")) as state:
            if state is not None:
                if "state" not in scope:
                    raise RuntimeError('The server does not support "state" in the lifespan scope.')
                scope["state"].update(state)
            await send({"type": "lifespan.startup.complete"})
            started = True
            await receive()
    except BaseException:
        phase = "shutdown" if started else "startup"
        await send({"type": f"lifespan.{phase}.failed", "message": traceback.format_exc()})
        raise
    await send({"type": "lifespan.shutdown.complete"})
