"""Middleware of routes, mounts and routers: exceptions are answered inside them."""

from __future__ import annotations

from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.asgi import EXCEPTION_MIDDLEWARE_SCOPE_KEY, TrackedSend
from stellina.exceptions import HTTPException
from stellina.middleware import Middleware
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Mount, Route, Router
from stellina.types import ASGIApp, Message, Receive, Scope, Send


class Tagging:
    """Adds an `x-tag` header to the responses passing through it."""

    def __init__(self, app: ASGIApp, tag: str) -> None:
        self.app, self.tag = app, tag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-tag", self.tag.encode())]
            await send(message)

        await self.app(scope, receive, tagged)


TAGGED = [Middleware(Tagging, "t")]


def refuse(request: Request) -> Response:
    raise HTTPException(418, "no tea")


def teapot_handler(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("handled", status_code=418)


class Answering:
    """The part of an ExceptionMiddleware routing relies on: it answers HTTPException."""

    async def answer(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> bool:
        if not isinstance(exc, HTTPException):
            return False
        if TrackedSend.around(send).started:
            raise RuntimeError("Caught handled exception, but response already started.")
        await teapot_handler(Request(scope), exc)(scope, receive, send)
        return True


def handlers_scope(**overrides: Any) -> Scope:
    """An HTTP scope naming an exception answerer, as ExceptionMiddleware does."""
    return http_scope(**{EXCEPTION_MIDDLEWARE_SCOPE_KEY: Answering()}, **overrides)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "router",
    [
        Router([Mount("/m", routes=[Route("/", refuse)], middleware=[Middleware(Tagging, "t")])]),
        Router([Route("/m/", refuse, middleware=[Middleware(Tagging, "t")])]),
        Router(
            [Mount("/m", app=Router([Route("/", refuse)], middleware=[Middleware(Tagging, "t")]))]
        ),
    ],
)
async def test_the_answer_to_an_exception_passes_through_inner_middleware(router: Router) -> None:
    recorder = Recorder()
    await router(handlers_scope(path="/m/"), recorder.receive, recorder.send)
    start, body = recorder.sent
    assert (start["status"], body["body"]) == (418, b"handled")
    assert (b"x-tag", b"t") in start["headers"]


@pytest.mark.anyio
async def test_without_handlers_in_the_scope_exceptions_propagate() -> None:
    router = Router([Route("/", refuse, middleware=[Middleware(Tagging, "t")])])
    recorder = Recorder()
    with pytest.raises(HTTPException):
        await router(http_scope(), recorder.receive, recorder.send)


@pytest.mark.anyio
async def test_an_exception_the_answerer_declines_propagates() -> None:
    def broken(request: Request) -> Response:
        raise KeyError("not an HTTPException")

    router = Router([Route("/", broken, middleware=[Middleware(Tagging, "t")])])
    recorder = Recorder()
    with pytest.raises(KeyError):
        await router(handlers_scope(), recorder.receive, recorder.send)
    assert recorder.sent == []


@pytest.mark.anyio
async def test_an_exception_after_the_response_started_is_not_hidden() -> None:
    class Half:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise HTTPException(418)

    router = Router([Route("/", Half(), middleware=[Middleware(Tagging, "t")])])
    recorder = Recorder()
    with pytest.raises(RuntimeError, match="response already started"):
        await router(handlers_scope(), recorder.receive, recorder.send)


def test_router_with_middleware_follows_later_changes(test_client_factory: ClientFactory) -> None:
    router = Router(
        [Route("/a", lambda request: PlainTextResponse("a"))], middleware=[Middleware(Tagging, "r")]
    )
    client = test_client_factory(router)
    assert client.get("/a").headers["x-tag"] == "r"
    router.routes.append(Route("/b", lambda request: PlainTextResponse("b")))
    router.redirect_slashes = False
    assert client.get("/b").text == "b"
    assert client.get("/b/").status_code == 404
    assert client.get("/b/").headers["x-tag"] == "r"


def test_routing_without_layers_through_app(test_client_factory: ClientFactory) -> None:
    router = Router([Route("/", lambda request: PlainTextResponse("plain"))])
    assert router.middleware_stack == router.app
    assert test_client_factory(router.app).get("/").text == "plain"


@pytest.mark.anyio
async def test_huge_paths_are_a_plain_miss() -> None:
    router = Router(
        [Route("/{a}/{b:int}", refuse), Mount("/m", routes=[Route("/{x:path}", refuse)])]
    )
    for path in ("/" + "a" * 1_000_000, "/x/" + "9" * 100_000 + "/", "/" + "/" * 200_000):
        recorder = Recorder()
        await router(http_scope(path=path), recorder.receive, recorder.send)
        assert recorder.sent[0]["status"] in (404, 307)
