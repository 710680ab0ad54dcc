"""The two guards of every app, ServerErrorMiddleware outside ExceptionMiddleware, give the same
answers whether they run as two layers (user middleware between them) or as one (none)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.applications import Stellina
from stellina.background import BackgroundTask
from stellina.exceptions import ClientDisconnect, HTTPException
from stellina.middleware import Middleware
from stellina.middleware.errors import ServerErrorMiddleware
from stellina.middleware.exceptions import ExceptionMiddleware
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response, StreamingResponse
from stellina.routing import Mount, Route
from stellina.types import ASGIApp, Message, Receive, Scope, Send


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


def test_the_stack_is_the_two_guards_around_the_router_and_the_user_middleware() -> None:
    app = make_app(layered=False)
    stack = app.build_middleware_stack()
    assert type(stack) is ServerErrorMiddleware
    assert isinstance(stack.app, ExceptionMiddleware)  # type: ignore[attr-defined]
    assert stack.app.app is app.router  # type: ignore[attr-defined]
    layered = make_app(layered=True).build_middleware_stack()
    assert type(layered) is ServerErrorMiddleware
    assert isinstance(layered.app, PassThrough)  # type: ignore[attr-defined]


class Shouting(PlainTextResponse):
    """A response with a ``__call__`` of its own, which the app must not bypass."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.body = self.body.upper()
        await super().__call__(scope, receive, send)


async def stream_then_fail(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("late failure")

    return StreamingResponse(chunks())


async def remember(request: Request) -> Response:
    request.app.state.ran = []
    task = BackgroundTask(request.app.state.ran.append, "after")
    return PlainTextResponse("sent", background=task)


async def plain(request: Request) -> Response:
    return PlainTextResponse("plain")


async def shout(request: Request) -> Response:
    return Shouting("quiet")


async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
    text = f"root {scope['root_path']}, path {scope['path']}"
    await PlainTextResponse(text)(scope, receive, send)


def every_target_app(layered: bool) -> Stellina:
    return Stellina(
        routes=[
            Route("/remember", remember),
            Route("/shout", shout),
            Route("/only-post", shout, methods=["POST"]),
            Route("/slashed/", shout),
            Mount("/mount", mounted),
        ],
        middleware=[Middleware(PassThrough)] if layered else [],
    )


@pytest.mark.parametrize("layered", [False, True])
def test_every_kind_of_target_gets_the_same_answer(
    test_client_factory: ClientFactory, layered: bool
) -> None:
    app = every_target_app(layered)
    client = test_client_factory(app, follow_redirects=False)
    remembered = client.get("/remember")
    assert (remembered.status_code, remembered.text, app.state.ran) == (200, "sent", ["after"])
    assert client.get("/shout").text == "QUIET"
    refused = client.get("/only-post")
    assert (refused.status_code, refused.headers["allow"]) == (405, "POST")
    redirected = client.get("/slashed")
    assert (redirected.status_code, redirected.headers["location"]) == (
        307,
        "http://testserver/slashed/",
    )
    assert client.get("/mount/x").text == "root /mount, path /mount/x"
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.text) == (404, "Not Found")


@pytest.mark.anyio
@pytest.mark.parametrize("layered", [False, True])
async def test_a_failure_after_the_start_is_raised_with_no_second_start(layered: bool) -> None:
    app = Stellina(
        routes=[Route("/", stream_then_fail)],
        middleware=[Middleware(PassThrough)] if layered else [],
    )
    recorder = Recorder()
    with pytest.raises(RuntimeError, match="late failure"):
        await recorder.run(app, http_scope())
    starts = [m for m in recorder.sent if m["type"] == "http.response.start"]
    assert [start["status"] for start in starts] == [200]


@pytest.mark.anyio
@pytest.mark.parametrize("layered", [False, True])
async def test_a_server_refusing_the_start_gets_no_500_start_after_it(layered: bool) -> None:
    attempts: list[Message] = []

    async def refusing_send(message: Message) -> None:
        attempts.append(message)
        raise OSError("connection reset")

    app = make_app(layered)
    app.router.routes.insert(0, Route("/ok", plain))
    with pytest.raises(OSError, match="connection reset"):
        await app(http_scope(path="/ok"), Recorder().receive, refusing_send)
    assert [message["type"] for message in attempts] == ["http.response.start"]


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


@pytest.mark.anyio
@pytest.mark.parametrize("direct", [False, True])
async def test_the_server_error_handler_runs_once_through_the_app_or_its_stack(
    direct: bool,
) -> None:
    calls: list[Exception] = []

    def counting(request: Request, exc: Exception) -> Response:
        calls.append(exc)
        return PlainTextResponse("counted", 500)

    app = make_app(layered=False, exception_handlers={500: counting})
    target: ASGIApp = app.build_middleware_stack() if direct else app
    recorder = Recorder()
    with pytest.raises(RuntimeError, match="unhandled"):
        await recorder.run(target, http_scope(path="/unhandled"))
    assert (recorder.status, recorder.body, len(calls)) == (500, b"counted", 1)
