"""BaseHTTPMiddleware: call_next, streaming, background tasks, errors, disconnects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import pytest
from stellina_testing import ClientFactory, request_app

from stellina.background import BackgroundTask
from stellina.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response, StreamingResponse
from stellina.types import Message


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello", headers={"X-App": "1"})


async def drive(
    app: Any,
    incoming: Sequence[Message] | None = None,
    then: str | int = "wait",
    spec_version: str = "2.4",
) -> list[Message]:
    """Call ``app`` with a bare scope; ``receive`` yields ``incoming``, then waits forever
    (``then="wait"``) or reports a disconnect: at once (``then="disconnect"``) or once
    ``then`` messages were sent."""
    if incoming is None:
        incoming = [{"type": "http.request", "body": b"", "more_body": False}]
    pending = list(incoming)
    sent: list[Message] = []

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then == "wait":
            await anyio.sleep_forever()
        while isinstance(then, int) and len(sent) < then:
            await anyio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [],
    }
    with anyio.fail_after(5):  # a hang fails the test instead of stalling the suite
        await app(scope, receive, send)
    return sent


class AddHeader(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["X-Middleware"] = "yes"
        return response


def test_dispatch_sees_and_changes_the_response(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(AddHeader(request_app(hello)))
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "hello"
    assert response.headers["x-app"] == "1"
    assert response.headers["x-middleware"] == "yes"
    assert response.headers["content-length"] == "5"


def test_dispatch_function_argument(test_client_factory: ClientFactory) -> None:
    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path == "/blocked":
            return PlainTextResponse("blocked", status_code=403)
        response = await call_next(request)
        return PlainTextResponse(f"{response.status_code} via dispatch")

    client = test_client_factory(BaseHTTPMiddleware(request_app(hello), dispatch=dispatch))
    assert client.get("/").text == "200 via dispatch"
    response = client.get("/blocked")
    assert (response.status_code, response.text) == (403, "blocked")


def test_default_dispatch_is_abstract(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(BaseHTTPMiddleware(request_app(hello)))
    with pytest.raises(NotImplementedError):
        client.get("/")


@pytest.mark.anyio
async def test_body_is_streamed_chunk_by_chunk() -> None:
    async def numbers() -> AsyncIterator[bytes]:
        for number in range(3):
            yield str(number).encode()

    async def stream(request: Request) -> Response:
        return StreamingResponse(numbers(), media_type="text/plain")

    sent = await drive(AddHeader(request_app(stream)))
    assert sent[0]["type"] == "http.response.start"
    assert (b"x-middleware", b"yes") in sent[0]["headers"]
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [
        (b"0", True),
        (b"1", True),
        (b"2", True),
        (b"", False),
    ]


def test_background_tasks_run_after_the_body(test_client_factory: ClientFactory) -> None:
    events: list[str] = []

    async def app_task() -> None:
        events.append("app background")

    def dispatch_task() -> None:
        events.append("dispatch background")

    async def with_task(request: Request) -> Response:
        return PlainTextResponse("body", background=BackgroundTask(app_task))

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.background = BackgroundTask(dispatch_task)
        return response

    client = test_client_factory(BaseHTTPMiddleware(request_app(with_task), dispatch=dispatch))
    assert client.get("/").text == "body"
    assert sorted(events) == ["app background", "dispatch background"]


@pytest.mark.anyio
async def test_background_task_finishes_before_the_middleware_returns() -> None:
    events: list[str] = []

    async def slow_task() -> None:
        await anyio.sleep(0.01)
        events.append("task done")

    async def with_task(request: Request) -> Response:
        return PlainTextResponse("body", background=BackgroundTask(slow_task))

    sent = await drive(AddHeader(request_app(with_task)))
    assert events == ["task done"]
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


class Boom(Exception):
    pass


def test_app_exception_is_raised_from_call_next(test_client_factory: ClientFactory) -> None:
    async def failing(request: Request) -> Response:
        raise Boom("from app")

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            return await call_next(request)
        except Boom as exc:
            return PlainTextResponse(f"caught {exc}", status_code=500)

    client = test_client_factory(BaseHTTPMiddleware(request_app(failing), dispatch=dispatch))
    response = client.get("/")
    assert (response.status_code, response.text) == (500, "caught from app")


def test_uncaught_app_exception_propagates_unwrapped(test_client_factory: ClientFactory) -> None:
    async def failing(request: Request) -> Response:
        raise Boom("through")

    client = test_client_factory(AddHeader(request_app(failing)))
    with pytest.raises(Boom, match="through"):
        client.get("/")


@pytest.mark.parametrize("chained", ["none", "context", "cause"])
def test_app_exception_keeps_its_own_chain(
    test_client_factory: ClientFactory, chained: str
) -> None:
    async def failing(request: Request) -> Response:
        if chained == "none":
            raise Boom("outer")
        try:
            raise KeyError("inner")
        except KeyError as inner:
            if chained == "cause":
                raise Boom("outer") from inner
            raise Boom("outer")  # noqa: B904 - the implicit context is what is tested

    client = test_client_factory(AddHeader(request_app(failing)))
    with pytest.raises(Boom, match="outer") as caught:
        client.get("/")
    error = caught.value
    if chained == "none":
        assert (error.__cause__, error.__context__) == (None, None)
    else:
        assert isinstance(error.__context__, KeyError)
        assert (error.__cause__ is error.__context__) is (chained == "cause")


def test_dispatch_exception_propagates_unwrapped(test_client_factory: ClientFactory) -> None:
    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        raise KeyError("from dispatch")

    client = test_client_factory(BaseHTTPMiddleware(request_app(hello), dispatch=dispatch))
    with pytest.raises(KeyError, match="from dispatch") as info:
        client.get("/")
    assert not isinstance(info.value.__context__, BaseExceptionGroup)


@pytest.mark.anyio
async def test_app_exception_after_response_start_propagates() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise Boom("halfway")

    with pytest.raises(Boom, match="halfway"):
        await drive(AddHeader(app))


@pytest.mark.anyio
async def test_app_exception_with_another_response_is_still_raised() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise Boom("ignored response")

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        return PlainTextResponse("replacement")

    sent: list[Message] = []
    with pytest.raises(Boom, match="ignored response"):
        sent = await drive(BaseHTTPMiddleware(app, dispatch=dispatch))
    assert sent == []


def test_no_response_returned(test_client_factory: ClientFactory) -> None:
    async def silent(scope: Message, receive: Any, send: Any) -> None:
        pass

    client = test_client_factory(AddHeader(silent))
    with pytest.raises(RuntimeError, match="No response returned."):
        client.get("/")


@pytest.mark.anyio
async def test_replaced_response_does_not_hang_on_an_unread_app_response() -> None:
    finished: list[bool] = []

    async def chatty(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            await send({"type": "http.response.body", "body": b"ignored", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        finished.append(True)

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        return PlainTextResponse("mine")

    sent = await drive(BaseHTTPMiddleware(chatty, dispatch=dispatch))
    assert sent[1]["body"] == b"mine"
    assert finished == [True]


@pytest.mark.anyio
async def test_client_disconnect_stops_a_streaming_app() -> None:
    async def forever() -> AsyncIterator[bytes]:
        while True:
            yield b"tick"
            await anyio.sleep(0)

    async def stream(request: Request) -> Response:
        return StreamingResponse(forever())

    # ASGI < 2.4: the app's StreamingResponse listens for the disconnect itself.
    sent = await drive(AddHeader(request_app(stream)), [], then=4, spec_version="2.0")
    assert sent[0]["type"] == "http.response.start"
    assert sent[1] == {"type": "http.response.body", "body": b"tick", "more_body": True}
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


@pytest.mark.anyio
async def test_debug_info_and_pathsend_are_forwarded() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.debug", "info": {"template": "t.html"}})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.pathsend", "path": "/srv/file"})

    sent = await drive(AddHeader(app))
    assert sent == [
        {"type": "http.response.debug", "info": {"template": "t.html"}},
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"x-a", b"1"), (b"x-middleware", b"yes")],
        },
        {"type": "http.response.pathsend", "path": "/srv/file"},
    ]


@pytest.mark.anyio
async def test_unexpected_app_message_is_an_error() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.body", "body": b"no start"})

    with pytest.raises(RuntimeError, match="Unexpected message"):
        await drive(AddHeader(app))


@pytest.mark.anyio
async def test_dispatch_can_replace_the_body_iterator_with_text() -> None:
    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        original = response.body_iterator  # type: ignore[attr-defined]

        async def upper() -> AsyncIterator[str]:
            async for chunk in original:
                yield chunk.decode().upper()

        response.body_iterator = upper()  # type: ignore[attr-defined]
        return response

    sent = await drive(BaseHTTPMiddleware(request_app(hello), dispatch=dispatch))
    assert [m.get("body") for m in sent[1:]] == [b"HELLO", b""]


@pytest.mark.anyio
@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_other_scopes_pass_through(scope_type: str) -> None:
    seen: list[str] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        raise AssertionError("not called")  # pragma: no cover

    async def receive() -> Message:
        raise AssertionError("not called")  # pragma: no cover

    async def send(message: Message) -> None:
        raise AssertionError("not called")  # pragma: no cover

    await BaseHTTPMiddleware(app, dispatch=dispatch)({"type": scope_type}, receive, send)
    assert seen == [scope_type]


@pytest.mark.anyio
async def test_early_hints_from_dispatch_and_app_reach_the_client_first() -> None:
    sent: list[Message] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        await Request(scope, receive, send).send_early_hints("</app.js>; rel=preload")
        await PlainTextResponse("ok")(scope, receive, send)

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await request.send_early_hints("</mw.css>; rel=preload")
        return await call_next(request)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "extensions": {"http.response.early_hint": {}}}
    await BaseHTTPMiddleware(app, dispatch=dispatch)(scope, receive, send)
    assert [m["type"] for m in sent][:3] == [
        "http.response.early_hint",
        "http.response.early_hint",
        "http.response.start",
    ]
    assert sent[0]["links"] == [b"</mw.css>; rel=preload"]
    assert sent[1]["links"] == [b"</app.js>; rel=preload"]
    assert b"".join(m.get("body", b"") for m in sent[2:]) == b"ok"


@pytest.mark.anyio
async def test_exception_group_from_app_reaches_caller_unchanged() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        raise ExceptionGroup("from the app", [ValueError("inner")])

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    with pytest.raises(ExceptionGroup, match="from the app") as info:
        await BaseHTTPMiddleware(app, dispatch=dispatch)({"type": "http"}, receive, send)
    assert len(info.value.exceptions) == 1
    assert isinstance(info.value.exceptions[0], ValueError)


@pytest.mark.anyio
async def test_app_background_task_runs_after_the_last_body_is_sent() -> None:
    events: list[str] = []

    async def note() -> None:
        events.append("background")

    async def app(scope: Message, receive: Any, send: Any) -> None:
        await PlainTextResponse("hi", background=BackgroundTask(note))(scope, receive, send)

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            events.append("sent")

    await BaseHTTPMiddleware(app, dispatch=dispatch)({"type": "http"}, receive, send)
    assert events == ["sent", "background"]


@pytest.mark.anyio
async def test_app_hears_disconnect_once_dispatch_closes_its_body() -> None:
    heard: list[str] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        async with anyio.create_task_group() as group:

            async def listen() -> None:
                message = await receive()
                heard.append(message["type"])
                group.cancel_scope.cancel()

            group.start_soon(listen)
            with anyio.fail_after(2):
                while True:  # keeps sending into a body nobody reads any more
                    await send({"type": "http.response.body", "body": b"x", "more_body": True})

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        body = response.body_iterator  # type: ignore[attr-defined]
        await body.__anext__()
        await body.aclose()
        return PlainTextResponse("replaced")

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await BaseHTTPMiddleware(app, dispatch=dispatch)({"type": "http"}, receive, send)
    assert heard == ["http.disconnect"]
    assert b"".join(m.get("body", b"") for m in sent) == b"replaced"
