"""TestClient driving apps built from stellina's Request, Response and BackgroundTask."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from stellina_testing import ClientFactory

from stellina.background import BackgroundTask
from stellina.requests import Request
from stellina.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from stellina.types import Receive, Scope, Send


def test_request_sees_what_the_client_sent(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        payload = {
            "method": request.method,
            "url": str(request.url),
            "query": dict(request.query_params),
            "json": await request.json(),
            "cookie": request.cookies.get("flavour"),
            "client": list(request.client or ()),
        }
        await JSONResponse(payload)(scope, receive, send)

    client = test_client_factory(app, cookies={"flavour": "oat"})
    response = client.post("/path?a=1", json={"hello": "world"})
    assert response.json() == {
        "method": "POST",
        "url": "http://testserver/path?a=1",
        "query": {"a": "1"},
        "json": {"hello": "world"},
        "cookie": "oat",
        "client": ["testclient", 50000],
    }


def test_multipart_form_upload(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        async with request.form() as form:
            upload = form["file"]
            assert not isinstance(upload, str)
            content = await upload.read()
            text = f"{form['name']}|{upload.filename}|{upload.content_type}|{content.decode()}"
        await PlainTextResponse(text)(scope, receive, send)

    response = test_client_factory(app).post(
        "/",
        data={"name": "report"},
        files={"file": ("data.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert response.text == "report|data.csv|text/csv|a,b\n1,2\n"


def test_response_cookies_are_kept(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = PlainTextResponse(request.cookies.get("visits", "0"))
        response.set_cookie("visits", str(int(request.cookies.get("visits", "0")) + 1))
        await response(scope, receive, send)

    client = test_client_factory(app)
    assert [client.get("/").text for _ in range(3)] == ["0", "1", "2"]


def test_background_task_runs_before_the_response_returns(
    test_client_factory: ClientFactory,
) -> None:
    done: list[str] = []

    async def work() -> None:
        await anyio.sleep(0.01)
        done.append("async")

    def blocking_work() -> None:
        done.append("sync")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        task = BackgroundTask(work) if scope["path"] == "/async" else BackgroundTask(blocking_work)
        await Response(b"ok", background=task)(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/async").text == "ok"
    assert client.get("/sync").text == "ok"
    assert done == ["async", "sync"]


def test_background_task_error_is_raised(test_client_factory: ClientFactory) -> None:
    def fail() -> None:
        raise RuntimeError("background failed")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(b"ok", background=BackgroundTask(fail))(scope, receive, send)

    with pytest.raises(RuntimeError, match="background failed"):
        test_client_factory(app).get("/")
    assert test_client_factory(app, raise_server_exceptions=False).get("/").text == "ok"


def test_streaming_response(test_client_factory: ClientFactory) -> None:
    async def numbers(limit: int | None) -> AsyncIterator[str]:
        number = 0
        while limit is None or number < limit:
            yield f"{number}\n"
            number += 1
            await anyio.sleep(0)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        limit = None if scope["path"] == "/endless" else 1000
        await StreamingResponse(numbers(limit), media_type="text/plain")(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").text == "".join(f"{n}\n" for n in range(1000))

    with client.stream("GET", "/endless") as response:
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        lines = response.iter_lines()
        assert [next(lines) for _ in range(3)] == ["0", "1", "2"]
