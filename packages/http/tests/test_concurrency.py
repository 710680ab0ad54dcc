"""run_in_threadpool, iterate_in_threadpool and run_until_first_complete."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextvars import ContextVar

import anyio
import pytest

from stellina.asgi import StellinaDeprecationWarning
from stellina.concurrency import (
    iterate_in_threadpool,
    run_in_threadpool,
    run_until_first_complete,
)

request_id: ContextVar[str] = ContextVar("request_id", default="unset")


def describe(a: int, b: int = 0, *, c: int = 0) -> tuple[int, bool]:
    return a + b + c, threading.current_thread() is threading.main_thread()


@pytest.mark.anyio
async def test_run_in_threadpool_runs_in_worker_thread() -> None:
    assert await run_in_threadpool(describe, 1) == (1, False)
    assert await run_in_threadpool(describe, 1, 2) == (3, False)
    assert await run_in_threadpool(describe, 1, b=2, c=3) == (6, False)


@pytest.mark.anyio
async def test_run_in_threadpool_propagates_exceptions() -> None:
    def fail() -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await run_in_threadpool(fail)


@pytest.mark.anyio
async def test_run_in_threadpool_copies_context() -> None:
    request_id.set("abc")
    assert await run_in_threadpool(request_id.get) == "abc"


@pytest.mark.anyio
async def test_iterate_in_threadpool() -> None:
    threads: list[bool] = []

    def numbers() -> Iterator[int]:
        for number in range(3):
            threads.append(threading.current_thread() is threading.main_thread())
            yield number

    assert [item async for item in iterate_in_threadpool(numbers())] == [0, 1, 2]
    assert threads == [False, False, False]


@pytest.mark.anyio
async def test_iterate_in_threadpool_accepts_iterables() -> None:
    assert [item async for item in iterate_in_threadpool(["a", "b"])] == ["a", "b"]
    assert [item async for item in iterate_in_threadpool(list[int]())] == []


@pytest.mark.anyio
async def test_iterate_in_threadpool_propagates_errors() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("bad item")

    items = iterate_in_threadpool(broken())
    assert await items.__anext__() == 1
    with pytest.raises(ValueError, match="bad item"):
        await items.__anext__()


@pytest.mark.anyio
async def test_iterate_in_threadpool_stop_iteration_in_generator_body() -> None:
    def early() -> Iterator[int]:
        yield 1
        return

    assert [item async for item in iterate_in_threadpool(early())] == [1]


@pytest.mark.anyio
async def test_run_until_first_complete_cancels_the_rest() -> None:
    finished: list[str] = []

    async def fast(label: str) -> None:
        await anyio.sleep(0)
        finished.append(label)

    async def slow() -> None:
        await anyio.sleep(10)
        finished.append("slow")  # pragma: no cover

    with pytest.warns(StellinaDeprecationWarning, match="run_until_first_complete is deprecated"):
        with anyio.fail_after(5):
            await run_until_first_complete((slow, {}), (fast, {"label": "fast"}))
    assert finished == ["fast"]


@pytest.mark.anyio
async def test_run_until_first_complete_propagates_errors() -> None:
    async def fail() -> None:
        raise RuntimeError("task failed")

    async def slow() -> None:
        await anyio.sleep(10)

    with pytest.warns(StellinaDeprecationWarning), pytest.raises(ExceptionGroup) as info:
        await run_until_first_complete((fail, {}), (slow, {}))
    assert info.group_contains(RuntimeError, match="task failed")


def test_is_async_callable_sees_through_partials_and_call() -> None:
    from stellina.concurrency import is_async_callable

    async def coro(a: int) -> int:
        return a

    def plain(a: int) -> int:
        return a

    class AsyncCall:
        async def __call__(self) -> None:
            return None

    class SyncCall:
        def __call__(self) -> None:
            return None

    assert is_async_callable(coro)
    assert is_async_callable(functools.partial(functools.partial(coro), 1))
    assert is_async_callable(AsyncCall())
    assert not is_async_callable(plain)
    assert not is_async_callable(functools.partial(plain, 1))
    assert not is_async_callable(SyncCall())
    assert not is_async_callable(42)
