"""Fixtures shared by every package's tests: each async test runs on asyncio and trio."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stellina_testing import ClientFactory


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def test_client_factory(anyio_backend: str) -> ClientFactory:
    """A TestClient constructor bound to the current anyio backend."""
    from stellina.testclient import TestClient

    return functools.partial(TestClient, backend=anyio_backend)
