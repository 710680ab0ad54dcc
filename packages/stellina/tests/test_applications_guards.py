"""The two guards of every app, ServerErrorMiddleware outside ExceptionMiddleware, give the same
answers whether they run as two layers (user middleware between them) or as one (none)."""

from __future__ import annotations

from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.applications import Stellina
from stellina.exceptions import ClientDisconnect, HTTPException
from stellina.middleware import Middleware
from stellina.middleware.errors import ServerErrorMiddleware
from stellina.middleware.exceptions import ExceptionMiddleware
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Route
from stellina.types import ASGIApp, Receive, Scope, Send


class PassThrough:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class Registered(Exception):
    pass


async def raises(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind == "http":
        raise HTTPException(418, "teapot")
    if kind == "registered":
        raise Registered("by class")
    if kind == "body":
        await request.body()
    raise RuntimeError("unhandled")


def handled(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"{type(exc).__name__}: {exc}", 299)


def server_error(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"500 handler: {exc}", 500)


def make_app(layered: bool, **options: Any) -> Stellina:
    return Stellina(
        routes=[Route("/{kind}", raises, methods=["GET", "POST"])],
        middleware=[Middleware(PassThrough)] if layered else [],
        **options,
    )


def test_with_nothing_between_them_the_guards_are_one_layer() -> None:
    stack = make_app(layered=False).build_middleware_stack()
    assert isinstance(stack, ServerErrorMiddleware)
    assert isinstance(stack.app, ExceptionMiddleware)  # type: ignore[attr-defined]
    layered = make_app(layered=True).build_middleware_stack()
    assert type(layered) is ServerErrorMiddleware
    assert isinstance(layered.app, PassThrough)  # type: ignore[attr-defined]


@pytest.mark.parametrize("layered", [False, True])
def test_handled_exceptions_get_the_same_answers(
    test_client_factory: ClientFactory, layered: bool
) -> None:
    app = make_app(layered, exception_handlers={Registered: handled, 500: server_error})
    client = test_client_factory(app, raise_server_exceptions=False)
    teapot = client.get("/http")
    assert (teapot.status_code, teapot.text) == (418, "teapot")
    registered = client.get("/registered")
    assert (registered.status_code, registered.text) == (299, "Registered: by class")
    unhandled = client.get("/unhandled")
    assert (unhandled.status_code, unhandled.text) == (500, "500 handler: unhandled")


@pytest.mark.parametrize("layered", [False, True])
@pytest.mark.parametrize("debug", [False, True])
def test_an_unhandled_exception_is_a_500_and_reaches_the_server(
    test_client_factory: ClientFactory, layered: bool, debug: bool
) -> None:
    client = test_client_factory(make_app(layered, debug=debug))
    with pytest.raises(RuntimeError, match="unhandled"):
        client.get("/unhandled")
    answer = test_client_factory(make_app(layered, debug=debug), raise_server_exceptions=False)
    response = answer.get("/unhandled")
    assert response.status_code == 500
    assert ("RuntimeError" in response.text) is debug


@pytest.mark.anyio
@pytest.mark.parametrize("layered", [False, True])
async def test_a_client_gone_mid_body_ends_the_request_quietly(layered: bool) -> None:
    recorder = Recorder([{"type": "http.request", "body": b"par", "more_body": True}])
    await recorder.run(make_app(layered), http_scope(method="POST", path="/body"))
    assert recorder.sent == []


@pytest.mark.anyio
@pytest.mark.parametrize("layered", [False, True])
async def test_a_handler_for_the_disconnect_itself_still_runs(layered: bool) -> None:
    app = make_app(layered, exception_handlers={ClientDisconnect: handled})
    recorder = Recorder()
    await recorder.run(app, http_scope(method="POST", path="/body"))
    assert (recorder.status, recorder.body) == (299, b"ClientDisconnect: ")
