"""Fixtures shared by every package's tests: each async test runs on asyncio and trio."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from stellina.testclient import TestClient


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def test_client_factory(anyio_backend: str) -> Callable[..., TestClient]:
    """A TestClient constructor bound to the current anyio backend."""
    from stellina.testclient import TestClient

    factory: Callable[..., TestClient] = functools.partial(TestClient, backend=anyio_backend)
    return factory


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "slow: a test that takes seconds (wheel builds, servers)")
