"""BackgroundTask and BackgroundTasks: async and sync callables, order, arguments."""

from __future__ import annotations

import functools
import threading

import pytest

from stellina.background import BackgroundTask, BackgroundTasks


@pytest.mark.anyio
async def test_async_task_runs_on_the_event_loop_with_arguments() -> None:
    calls: list[tuple[object, ...]] = []
    main = threading.get_ident()

    async def record(first: int, *, second: str) -> None:
        calls.append((first, second, threading.get_ident() == main))

    task = BackgroundTask(record, 1, second="two")
    assert task.is_async
    await task()
    assert calls == [(1, "two", True)]


@pytest.mark.anyio
async def test_sync_task_runs_in_a_worker_thread() -> None:
    threads: list[int] = []

    def record(value: int, *, other: int) -> None:
        threads.append(threading.get_ident() + 0 * (value + other))

    task = BackgroundTask(record, 1, other=2)
    assert not task.is_async
    await task()
    assert threads and threads[0] != threading.get_ident()


@pytest.mark.anyio
async def test_partial_and_callable_objects_are_detected_as_async() -> None:
    seen: list[str] = []

    async def record(label: str) -> None:
        seen.append(label)

    class Callable:
        async def __call__(self, label: str) -> None:
            seen.append(label)

    partial_task = BackgroundTask(functools.partial(functools.partial(record, "partial")))
    object_task = BackgroundTask(Callable(), "object")
    assert partial_task.is_async and object_task.is_async
    await partial_task()
    await object_task()
    assert seen == ["partial", "object"]


@pytest.mark.anyio
async def test_tasks_run_in_the_order_added() -> None:
    order: list[str] = []

    async def first() -> None:
        order.append("first")

    def second(label: str) -> None:
        order.append(label)

    tasks = BackgroundTasks(tasks=[BackgroundTask(first)])
    tasks.add_task(second, "second")
    tasks.add_task(first)
    await tasks()
    assert order == ["first", "second", "first"]


@pytest.mark.anyio
async def test_empty_tasks_and_failures() -> None:
    await BackgroundTasks()()
    assert BackgroundTasks().tasks == []

    async def boom() -> None:
        raise RuntimeError("boom")

    def never() -> None:
        raise AssertionError("a failed task stops the ones after it")

    tasks = BackgroundTasks()
    tasks.add_task(boom)
    tasks.add_task(never)
    with pytest.raises(RuntimeError, match="boom"):
        await tasks()
