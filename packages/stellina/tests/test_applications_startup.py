"""A middleware stack that cannot be built: the failure names the middleware, and a server
running lifespan hears it at startup, before serving anything."""

from __future__ import annotations

import pytest
from stellina_testing import ClientFactory, Recorder

from stellina.applications import Stellina
from stellina.middleware import Middleware
from stellina.types import ASGIApp, Receive, Scope, Send


class Strict:
    """A middleware whose arguments are checked when it is built."""

    def __init__(self, app: ASGIApp, level: int = 1) -> None:
        if level < 0:
            raise ValueError("level must not be negative")
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def broken_app() -> Stellina:
    return Stellina(middleware=[Middleware(Strict), Middleware(Strict, level=-1)])


@pytest.mark.anyio
async def test_lifespan_startup_fails_with_the_reason_and_the_middleware() -> None:
    recorder = Recorder([{"type": "lifespan.startup"}])
    with pytest.raises(ValueError, match="must not be negative") as info:
        await recorder.run(broken_app(), {"type": "lifespan"})
    assert info.value.__notes__ == ["while building the middleware Middleware(Strict, level=-1)"]
    [failed] = recorder.sent
    assert failed["type"] == "lifespan.startup.failed"
    assert failed["message"] == (
        "ValueError: level must not be negative\n"
        "while building the middleware Middleware(Strict, level=-1)"
    )


def test_the_test_client_raises_the_startup_failure(test_client_factory: ClientFactory) -> None:
    with pytest.raises(ValueError, match="must not be negative"), test_client_factory(broken_app()):
        pass  # pragma: no cover - never entered


def test_without_lifespan_the_first_request_raises_it(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(broken_app())
    with pytest.raises(ValueError, match="must not be negative") as info:
        client.get("/")
    assert "Middleware(Strict, level=-1)" in info.value.__notes__[0]


def test_a_mistyped_argument_names_the_middleware(test_client_factory: ClientFactory) -> None:
    app = Stellina(middleware=[Middleware(Strict, levle=2)])  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="levle") as info, test_client_factory(app):
        pass  # pragma: no cover - never entered
    assert info.value.__notes__ == ["while building the middleware Middleware(Strict, levle=2)"]


def test_a_good_stack_is_built_once_at_startup(test_client_factory: ClientFactory) -> None:
    app = Stellina(middleware=[Middleware(Strict, level=3)])
    assert app.middleware_stack is None
    with test_client_factory(app) as client:
        stack = app.middleware_stack
        assert stack is not None
        assert client.get("/missing").status_code == 404
        assert app.middleware_stack is stack
