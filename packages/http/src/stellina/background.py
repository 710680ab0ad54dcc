"""Work that runs after a response has been sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, cast

from stellina.concurrency import is_async_callable, run_in_threadpool

__all__ = ["BackgroundTask", "BackgroundTasks"]

P = ParamSpec("P")


class BackgroundTask:
    """A call to ``func(*args, **kwargs)``, made when the task is awaited.

    A coroutine function is awaited on the event loop; anything else runs in a worker thread.
    """

    __slots__ = ("args", "func", "is_async", "kwargs")

    def __init__(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        self.func: Callable[..., Any] = func
        self.args, self.kwargs = args, kwargs
        self.is_async = is_async_callable(func)

    def __call__(self) -> Awaitable[Any]:
        """The awaitable that runs the call (no extra coroutine frame for async work)."""
        if self.is_async:
            return cast("Awaitable[Any]", self.func(*self.args, **self.kwargs))
        return run_in_threadpool(self.func, *self.args, **self.kwargs)


class BackgroundTasks(BackgroundTask):
    """Several background tasks, run one after another in the order they were added."""

    __slots__ = ("tasks",)

    def __init__(self, tasks: Sequence[BackgroundTask] | None = None) -> None:
        self.tasks = list(tasks or ())

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue ``func(*args, **kwargs)`` after the tasks already added."""
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def __call__(self) -> None:
        for task in self.tasks:
            await task()
