"""Helpers that move blocking work off the event loop."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from anyio import create_task_group

from stellina.asgi import StellinaDeprecationWarning

P = ParamSpec("P")
T = TypeVar("T")


def is_async_callable(obj: Any) -> bool:
    """Whether calling ``obj`` returns an awaitable: coroutine functions, through partials and
    objects whose ``__call__`` is one."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or (
        callable(obj) and inspect.iscoroutinefunction(obj.__call__)
    )


async def run_until_first_complete(
    *args: tuple[Callable[..., Coroutine[Any, Any, Any]], dict[str, Any]],
) -> None:
    """Run each ``(func, kwargs)`` concurrently; cancel the rest once one returns (deprecated)."""
    warnings.warn(
        "run_until_first_complete is deprecated and will be removed in a future version.",
        StellinaDeprecationWarning,
        stacklevel=2,
    )
    async with create_task_group() as group:

        async def run(
            func: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]
        ) -> None:
            await func(**kwargs)
            group.cancel_scope.cancel()

        for func, kwargs in args:
            group.start_soon(run, func, kwargs)


async def run_in_threadpool(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``func(*args, **kwargs)`` in a worker thread and return its result."""
    if kwargs:
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))
    return await anyio.to_thread.run_sync(func, *args)


class _Exhausted(Exception):
    """Raised in the worker thread instead of StopIteration, which cannot cross a Future."""


def _next_item(iterator: Iterator[T]) -> T:
    try:
        return next(iterator)
    except StopIteration:
        raise _Exhausted from None


async def iterate_in_threadpool(iterator: Iterable[T]) -> AsyncIterator[T]:
    """Iterate a blocking iterable, fetching every item in a worker thread."""
    source = iter(iterator)
    while True:
        try:
            yield await anyio.to_thread.run_sync(_next_item, source)
        except _Exhausted:
            return
