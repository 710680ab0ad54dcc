"""How the Router sends endpoint responses: the inline fast path keeps Response semantics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from stellina_testing import ClientFactory

from stellina.background import BackgroundTask
from stellina.requests import Request
from stellina.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from stellina.routing import Route, Router
from stellina.testclient import TestClient
from stellina.types import Message, Receive, Scope, Send


def test_headers_changed_after_construction_are_sent(test_client_factory: ClientFactory) -> None:
    async def endpoint(request: Request) -> Response:
        response = PlainTextResponse("hi", status_code=201)
        response.headers["x-extra"] = "1"
        response.set_cookie("k", "v")
        return response

    response = test_client_factory(Router([Route("/", endpoint)])).get("/")
    assert response.status_code == 201
    assert response.text == "hi"
    assert response.headers["x-extra"] == "1"
    assert response.headers["set-cookie"].startswith("k=v;")


def test_response_subclass_with_its_own_call_is_used(test_client_factory: ClientFactory) -> None:
    class Tagged(JSONResponse):
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def tagging_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-tag", b"yes")]
                await send(message)

            await super().__call__(scope, receive, tagging_send)

    async def endpoint(request: Request) -> Response:
        return Tagged({"ok": True})

    response = test_client_factory(Router([Route("/", endpoint)])).get("/")
    assert response.json() == {"ok": True}
    assert response.headers["x-tag"] == "yes"


def test_background_task_runs_after_the_response(test_client_factory: ClientFactory) -> None:
    ran: list[str] = []

    def endpoint(request: Request) -> Response:
        return PlainTextResponse("done", background=BackgroundTask(ran.append, "task"))

    response = test_client_factory(Router([Route("/", endpoint)])).get("/")
    assert response.text == "done"
    assert ran == ["task"]


def test_streaming_response_from_an_endpoint(test_client_factory: ClientFactory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type="text/plain")

    response = test_client_factory(Router([Route("/", endpoint)])).get("/")
    assert response.text == "ab"


def test_messages_sent_for_a_plain_response(test_client_factory: ClientFactory) -> None:
    sent: list[Message] = []

    async def endpoint(request: Request) -> Response:
        return Response(b"raw", media_type="application/octet-stream")

    router = Router([Route("/", endpoint)])

    async def recording_app(scope: Scope, receive: Receive, send: Send) -> None:
        async def recording_send(message: Message) -> None:
            sent.append(dict(message))
            await send(message)

        await router(scope, receive, recording_send)

    assert test_client_factory(recording_app).get("/").content == b"raw"
    expected_headers: list[Any] = [
        (b"content-length", b"3"),
        (b"content-type", b"application/octet-stream"),
    ]
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": expected_headers},
        {"type": "http.response.body", "body": b"raw"},
    ]


def test_endpoint_returning_no_response_fails_with_type_error() -> None:
    async def endpoint(request: Request) -> Any:
        return None

    client = TestClient(Router([Route("/", endpoint)]))
    with pytest.raises(TypeError, match="not callable"):
        client.get("/")
