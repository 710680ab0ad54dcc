"""Fixtures shared by every package's tests: each async test runs on asyncio and trio."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from stellina_testing import ClientFactory

# Property tests (`-m fuzz`): "ci", the default, keeps every fuzz test together within about a
# minute on two cores; `--hypothesis-profile=fuzz` (`hatch run fuzz`) runs thousands of examples
# per test. Hypothesis keeps failing examples in `.hypothesis/`, which git-ignores itself.
settings.register_profile("ci", max_examples=150, deadline=None)
settings.register_profile("fuzz", max_examples=6000, deadline=None, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def test_client_factory(anyio_backend: str) -> ClientFactory:
    """A TestClient constructor bound to the current anyio backend."""
    from stellina.testclient import TestClient

    return functools.partial(TestClient, backend=anyio_backend)
