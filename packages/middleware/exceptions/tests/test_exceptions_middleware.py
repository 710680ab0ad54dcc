"""ExceptionMiddleware: default and registered handlers, lookup order, started responses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from stellina.exceptions import HTTPException, WebSocketException
from stellina.middleware.exceptions import ExceptionMiddleware
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.testclient import TestClient, WebSocketDenialResponse
from stellina.types import Message
from stellina.websockets import WebSocket, WebSocketDisconnect

ClientFactory = Callable[..., TestClient]


def raising(exc: Exception) -> Any:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        raise exc

    return app


class ParentError(Exception):
    pass


class ChildError(ParentError):
    pass


class GrandchildError(ChildError):
    pass


@pytest.mark.parametrize(
    ("exc", "text", "headers"),
    [
        (
            HTTPException(
                status_code=418, detail="short and stout", headers={"X-Tea": "earl grey"}
            ),
            "short and stout",
            {"x-tea": "earl grey"},
        ),
        (HTTPException(404), "Not Found", {}),
    ],
    ids=["with-detail-and-headers", "default-detail"],
)
def test_http_exception_becomes_plain_text(
    test_client_factory: ClientFactory, exc: HTTPException, text: str, headers: dict[str, str]
) -> None:
    response = test_client_factory(ExceptionMiddleware(raising(exc))).get("/")
    assert (response.status_code, response.text) == (exc.status_code, text)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert {name: response.headers[name] for name in headers} == headers


@pytest.mark.parametrize("status_code", [204, 304])
def test_bodiless_statuses_get_a_bare_response(
    test_client_factory: ClientFactory, status_code: int
) -> None:
    exc = HTTPException(status_code=status_code, headers={"ETag": '"v1"'})
    client = test_client_factory(ExceptionMiddleware(raising(exc)))
    response = client.get("/")
    assert response.status_code == status_code
    assert response.content == b""
    assert "content-type" not in response.headers
    assert response.headers["etag"] == '"v1"'


def test_handler_by_status_code_wins_over_class(test_client_factory: ClientFactory) -> None:
    async def by_code(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("by code", status_code=200)

    async def by_class(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("by class", status_code=200)

    app = ExceptionMiddleware(raising(HTTPException(429)), handlers={429: by_code})
    app.add_exception_handler(HTTPException, by_class)
    client = test_client_factory(app)
    assert client.get("/").text == "by code"
    app2 = ExceptionMiddleware(
        raising(HTTPException(431)), handlers={429: by_code, HTTPException: by_class}
    )
    assert test_client_factory(app2).get("/").text == "by class"


def test_status_handler_ignores_other_exceptions(test_client_factory: ClientFactory) -> None:
    async def by_code(request: Request, exc: Exception) -> Response:
        raise AssertionError("not called")  # pragma: no cover

    app = ExceptionMiddleware(raising(ValueError("plain")), handlers={500: by_code})
    with pytest.raises(ValueError, match="plain"):
        test_client_factory(app).get("/")


def test_handler_lookup_follows_the_mro(test_client_factory: ClientFactory) -> None:
    def handler_for(name: str) -> Any:
        async def handler(request: Request, exc: Exception) -> Response:
            return PlainTextResponse(f"{name}:{type(exc).__name__}")

        return handler

    handlers = {ParentError: handler_for("parent"), ChildError: handler_for("child")}
    for exc, expected in [
        (ParentError(), "parent:ParentError"),
        (ChildError(), "child:ChildError"),
        (GrandchildError(), "child:GrandchildError"),
    ]:
        client = test_client_factory(ExceptionMiddleware(raising(exc), handlers=handlers))
        assert client.get("/").text == expected


def test_handler_for_exception_catches_everything_but_http_exception_keeps_default(
    test_client_factory: ClientFactory,
) -> None:
    async def catch_all(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("caught", status_code=500)

    client = test_client_factory(
        ExceptionMiddleware(raising(KeyError("k")), handlers={Exception: catch_all})
    )
    assert client.get("/").text == "caught"
    client = test_client_factory(
        ExceptionMiddleware(raising(HTTPException(401)), handlers={Exception: catch_all})
    )
    assert client.get("/").text == "Unauthorized"


def test_sync_handler_runs_in_threadpool_with_request(test_client_factory: ClientFactory) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen["app_thread"] = threading.get_ident()
        raise ParentError("sync")

    def handler(request: Request, exc: Exception) -> Response:
        seen["handler_thread"] = threading.get_ident()
        seen["path"] = request.url.path
        return PlainTextResponse(str(exc), status_code=409)

    client = test_client_factory(ExceptionMiddleware(app, handlers={ParentError: handler}))
    response = client.get("/some/path")
    assert (response.status_code, response.text) == (409, "sync")
    assert seen["path"] == "/some/path"
    assert seen["handler_thread"] != seen["app_thread"]


def test_handler_can_read_the_request_body(test_client_factory: ClientFactory) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(b"got " + await request.body())

    client = test_client_factory(
        ExceptionMiddleware(raising(ParentError()), handlers={ParentError: handler})
    )
    assert client.post("/", content=b"payload").text == "got payload"


def test_unhandled_exceptions_propagate(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(ExceptionMiddleware(raising(ZeroDivisionError("zero"))))
    with pytest.raises(ZeroDivisionError, match="zero"):
        client.get("/")


@pytest.mark.anyio
async def test_handled_exception_after_response_started_is_a_runtime_error() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise HTTPException(400)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = ExceptionMiddleware(app)
    with pytest.raises(
        RuntimeError, match="Caught handled exception, but response already started."
    ) as info:
        await middleware({"type": "http", "headers": []}, receive_nothing, send)
    assert isinstance(info.value.__cause__, HTTPException)
    assert len(sent) == 1


async def receive_nothing() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send_nowhere(message: Message) -> None:
    raise AssertionError("nothing is sent")  # pragma: no cover


@pytest.mark.anyio
async def test_unhandled_exception_after_response_started_propagates_as_is() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ChildError("as is")

    async def send(message: Message) -> None:
        pass

    with pytest.raises(ChildError, match="as is"):
        await ExceptionMiddleware(app)({"type": "http", "headers": []}, receive_nothing, send)


@pytest.mark.anyio
async def test_handlers_are_published_in_the_scope() -> None:
    seen: list[Any] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen.append(scope["stellina.exception_handlers"])

    async def handler(request: Request, exc: Exception) -> Response:
        return Response()  # pragma: no cover

    middleware = ExceptionMiddleware(app, handlers={404: handler, KeyError: handler})
    await middleware({"type": "http"}, receive_nothing, send_nowhere)
    exception_handlers, status_handlers = seen[0]
    assert status_handlers == {404: handler}
    assert exception_handlers[KeyError] is handler
    assert exception_handlers[HTTPException] == middleware.http_exception


@pytest.mark.anyio
async def test_lifespan_passes_through() -> None:
    seen: list[Message] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen.append(scope)
        raise HTTPException(500)

    with pytest.raises(HTTPException):
        await ExceptionMiddleware(app)({"type": "lifespan"}, receive_nothing, send_nowhere)
    assert seen == [{"type": "lifespan"}]


def test_add_exception_handler_refuses_non_exceptions() -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return Response()  # pragma: no cover

    with pytest.raises(AssertionError):
        ExceptionMiddleware(raising(ValueError())).add_exception_handler(int, handler)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ExceptionMiddleware(raising(ValueError())).add_exception_handler("418", handler)  # type: ignore[arg-type]


def test_add_exception_handler_picks_the_table_by_kind() -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return Response()  # pragma: no cover

    middleware = ExceptionMiddleware(raising(ValueError()), handlers={418: handler})
    middleware.add_exception_handler(KeyError, handler)
    exception_handlers, status_handlers = middleware._handlers
    assert status_handlers == {418: handler}
    assert exception_handlers[KeyError] is handler
    assert 418 not in exception_handlers


def test_websocket_exception_closes_with_code_and_reason(
    test_client_factory: ClientFactory,
) -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        raise WebSocketException(code=4001, reason="go away")

    client = test_client_factory(ExceptionMiddleware(app))
    with client.websocket_connect("/") as session, pytest.raises(WebSocketDisconnect) as info:
        session.receive_text()
    assert (info.value.code, info.value.reason) == (4001, "go away")


def test_websocket_custom_handler_gets_a_websocket(test_client_factory: ClientFactory) -> None:
    async def handler(websocket: WebSocket, exc: Exception) -> None:
        assert isinstance(websocket, WebSocket)
        await websocket.close(code=4400, reason=str(exc))

    client = test_client_factory(
        ExceptionMiddleware(raising(ChildError("ws")), handlers={ParentError: handler})
    )
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert (info.value.code, info.value.reason) == (4400, "ws")


def test_http_exception_in_websocket_is_a_denial_response(
    test_client_factory: ClientFactory,
) -> None:
    client = test_client_factory(ExceptionMiddleware(raising(HTTPException(403, "nope"))))
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 403
    assert info.value.text == "nope"


def test_subclass_can_override_the_http_exception_handler(
    test_client_factory: ClientFactory,
) -> None:
    class Custom(ExceptionMiddleware):
        async def http_exception(self, request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            return PlainTextResponse(
                f"custom {exc.status_code} {request.url.path}", status_code=exc.status_code
            )

    client = test_client_factory(Custom(raising(HTTPException(404))))
    response = client.get("/missing")
    assert (response.status_code, response.text) == (404, "custom 404 /missing")
