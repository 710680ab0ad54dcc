"""`max_body_size=` on Router, Mount and Route: one shared limit per request, raised or lowered."""

from __future__ import annotations

from typing import Any

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.asgi import MAX_BODY_SIZE_SCOPE_KEY, HTTPException
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Mount, Route, Router, WebSocketRoute
from stellina.types import ASGIApp, Receive, Scope, Send
from stellina.websockets import WebSocket


async def echo(request: Request) -> Response:
    return PlainTextResponse(await request.body())


async def ignore_body(request: Request) -> Response:
    return PlainTextResponse("not read")


def post(app: ASGIApp, path: str, *chunks: bytes, declared: int | None = None) -> Any:
    """Call `app` bare with a POST of `chunks`; the recorder and a coroutine to await."""
    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    recorder = Recorder.with_body(*chunks)
    scope = http_scope(method="POST", path=path, headers=headers)
    return recorder, app(scope, recorder.receive, recorder.send)


def test_router_limit_answered_outside_an_application(
    test_client_factory: ClientFactory,
) -> None:
    client = test_client_factory(Router([Route("/", echo, methods=["POST"])], max_body_size=4))
    assert client.post("/", content=b"1234").text == "1234"
    response = client.post("/", content=b"12345")
    assert (response.status_code, response.text) == (413, "Content Too Large")


@pytest.mark.anyio
async def test_chunked_body_is_counted_as_it_arrives() -> None:
    router = Router([Route("/", echo, methods=["POST"])], max_body_size=4)
    recorder, call = post(router, "/", b"12", b"34", b"5")
    await call
    assert recorder.sent[0]["status"] == 413
    assert recorder.incoming == []  # every chunk up to the one crossing the limit was read


@pytest.mark.anyio
async def test_declared_length_is_refused_before_the_endpoint_runs() -> None:
    ran = False

    async def endpoint(request: Request) -> Response:
        nonlocal ran
        ran = True
        return PlainTextResponse("ran")  # pragma: no cover

    router = Router([Route("/", endpoint, methods=["POST"])], max_body_size=4)
    recorder, call = post(router, "/", b"", declared=10**30)
    await call
    assert recorder.sent[0]["status"] == 413
    assert not ran


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/big", b"12345678", 200),
        ("/small", b"123", 413),
        ("/default", b"123456", 413),
        ("/default", b"12345", 200),
    ],
)
def test_route_raises_and_lowers_the_router_limit(
    test_client_factory: ClientFactory, path: str, body: bytes, status: int
) -> None:
    router = Router(
        [
            Route("/big", echo, methods=["POST"], max_body_size=10),
            Route("/small", echo, methods=["POST"], max_body_size=2),
            Route("/default", echo, methods=["POST"]),
        ],
        max_body_size=5,
    )
    assert test_client_factory(router).post(path, content=body).status_code == status


def test_route_limit_alone(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(Router([Route("/", echo, methods=["POST"], max_body_size=3)]))
    assert client.post("/", content=b"123").text == "123"
    assert client.post("/", content=b"1234").status_code == 413
    assert client.post("/", content=b"1234", headers={"content-length": "x"}).status_code == 413


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [("/up/", b"12345678", 200), ("/up/", b"123456789", 413), ("/", b"123", 413)],
)
def test_mount_limit_applies_below_it(
    test_client_factory: ClientFactory, path: str, body: bytes, status: int
) -> None:
    router = Router(
        [
            Mount("/up", routes=[Route("/", echo, methods=["POST"])], max_body_size=8),
            Route("/", echo, methods=["POST"]),
        ],
        max_body_size=2,
    )
    assert test_client_factory(router).post(path, content=body).status_code == status


@pytest.mark.anyio
async def test_a_shallow_scope_copy_keeps_the_inner_limit() -> None:
    def copying(app: ASGIApp) -> ASGIApp:
        async def layer(scope: Scope, receive: Receive, send: Send) -> None:
            await app(dict(scope), receive, send)

        return layer

    router = Router(
        [Mount("/m", app=copying(Router([Route("/", echo, methods=["POST"], max_body_size=9)])))],
        max_body_size=2,
    )
    recorder, call = post(router, "/m/", b"123", b"456")
    await call
    assert recorder.sent[0]["status"] == 200
    assert recorder.sent[1]["body"] == b"123456"


@pytest.mark.anyio
async def test_inside_an_application_the_413_is_raised_for_its_handlers() -> None:
    router = Router([Route("/", echo, methods=["POST"], max_body_size=1)])
    recorder = Recorder.with_body(b"12")
    scope = http_scope(method="POST", app=object())
    with pytest.raises(HTTPException) as info:
        await router(scope, recorder.receive, recorder.send)
    assert info.value.status_code == 413
    assert recorder.sent == []


@pytest.mark.anyio
async def test_the_limit_is_published_in_the_scope() -> None:
    seen: list[Any] = []

    async def endpoint(request: Request) -> Response:
        seen.append(request.scope[MAX_BODY_SIZE_SCOPE_KEY])
        return PlainTextResponse("")

    router = Router([Route("/", endpoint, max_body_size=7)], max_body_size=3)
    recorder = Recorder()
    await router(http_scope(), recorder.receive, recorder.send)
    assert seen == [7]


@pytest.mark.anyio
async def test_an_unlimited_route_ignores_content_length() -> None:
    router = Router([Route("/", ignore_body, methods=["POST"])])
    recorder, call = post(router, "/", b"", declared=10**30)
    await call
    assert recorder.sent[0]["status"] == 200


def test_websockets_are_not_limited(test_client_factory: ClientFactory) -> None:
    async def talk(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    client = test_client_factory(Router([WebSocketRoute("/ws", talk)], max_body_size=1))
    with client.websocket_connect("/ws") as session:
        session.send_text("longer than one byte")
        assert session.receive_text() == "longer than one byte"
