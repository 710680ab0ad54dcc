"""ServerErrorMiddleware: 500 responses, debug tracebacks, handlers, and re-raising."""

from __future__ import annotations

import html
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from typing import Any

import pytest
from stellina_testing import Recorder, http_scope

from stellina.exceptions import ClientDisconnect
from stellina.middleware.errors import ServerErrorMiddleware
from stellina.requests import Request
from stellina.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from stellina.testclient import TestClient
from stellina.types import Message, Receive, Scope, Send

ClientFactory = Callable[..., TestClient]


class Boom(Exception):
    pass


async def failing_app(scope: Message, receive: Any, send: Any) -> None:
    marker = "<b>&amp;</b>"  # source that must come out escaped in the debug page
    raise Boom(f"bad <input> {marker}")


async def started_then_failing_app(scope: Message, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise Boom("too late")


async def drive(app: Any, scope: Message | None = None) -> tuple[list[Message], BaseException]:
    """Call ``app`` once with a bare HTTP scope; the messages sent and the exception raised."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = scope or {"type": "http", "method": "GET", "path": "/", "headers": []}
    with pytest.raises(Exception) as info:
        await app(scope, receive, send)
    return sent, info.value


def test_default_response_is_plain_internal_server_error(
    test_client_factory: ClientFactory,
) -> None:
    client = test_client_factory(ServerErrorMiddleware(failing_app), raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "21"


def test_exception_is_reraised_to_the_server(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(ServerErrorMiddleware(failing_app))
    with pytest.raises(Boom, match="bad <input>"):
        client.get("/")


@pytest.mark.anyio
async def test_exception_after_response_started_sends_nothing_more() -> None:
    for middleware in (
        ServerErrorMiddleware(started_then_failing_app),
        ServerErrorMiddleware(started_then_failing_app, debug=True),
    ):
        sent, exc = await drive(middleware)
        assert isinstance(exc, Boom)
        assert sent == [{"type": "http.response.start", "status": 200, "headers": []}]


@pytest.mark.anyio
@pytest.mark.parametrize("started", [False, True])
@pytest.mark.parametrize("debug", [False, True])
async def test_a_client_gone_mid_request_ends_it_quietly(started: bool, debug: bool) -> None:
    handled: list[Exception] = []

    def handler(request: Request, exc: Exception) -> Response:
        handled.append(exc)
        return PlainTextResponse("handled", 500)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await Request(scope, receive).body()

    recorder = Recorder([{"type": "http.request", "body": b"par", "more_body": True}])
    sent = await recorder.run(ServerErrorMiddleware(app, handler, debug=debug), http_scope())
    # Not re-raised to the server (which would log a crash), no 500, no handler call.
    assert [m["type"] for m in sent] == ["http.response.start"] * started
    assert handled == []


@pytest.mark.anyio
async def test_an_app_can_still_catch_the_disconnect_itself() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await Request(scope, receive).body()
        except ClientDisconnect:
            seen.append("gone")
            raise

    await Recorder().run(ServerErrorMiddleware(app), http_scope(method="POST"))
    assert seen == ["gone"]


def test_debug_html_page_shows_escaped_traceback(test_client_factory: ClientFactory) -> None:
    app = ServerErrorMiddleware(failing_app, debug=True)
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<h1>500 Server Error</h1>" in page
    assert html.escape("Boom: bad <input> <b>&amp;</b>") in page
    assert "<input>" not in page
    assert html.escape(__file__) in page
    assert "failing_app" in page
    # The failing line and the one before it, escaped.
    assert html.escape('raise Boom(f"bad <input> {marker}")') in page
    assert html.escape('marker = "<b>&amp;</b>"') in page
    assert '<b>&amp;</b>"' not in page
    line = failing_app.__code__.co_firstlineno + 2
    assert f'<span class="line error"><span class="no">{line}</span>' in page


def test_debug_plain_text_when_html_is_not_accepted(test_client_factory: ClientFactory) -> None:
    app = ServerErrorMiddleware(failing_app, debug=True)
    client = test_client_factory(app, raise_server_exceptions=False)
    for accept in ("application/json", "*/*", None):
        headers = {"accept": accept} if accept else {}
        response = client.get("/", headers=headers)
        assert response.status_code == 500
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.text.startswith("Traceback (most recent call last):\n")
        assert 'raise Boom(f"bad <input> {marker}")' in response.text
        assert response.text.endswith("Boom: bad <input> <b>&amp;</b>\n")


def test_debug_page_shows_chained_exceptions(test_client_factory: ClientFactory) -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        try:
            dict[str, int]()["missing"]
        except KeyError as exc:
            raise RuntimeError("wrapped") from exc

    client = test_client_factory(
        ServerErrorMiddleware(app, debug=True), raise_server_exceptions=False
    )
    page = client.get("/", headers={"accept": "text/html"}).text
    assert page.index("KeyError: &#x27;missing&#x27;") < page.index("RuntimeError: wrapped")
    assert "The above exception was the direct cause of the following exception:" in page


def test_generate_html_handles_missing_source_and_bad_str() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise ValueError("no")

    namespace: dict[str, Any] = {}
    exec(
        compile("def fail():\n    raise Unprintable()\n", "<generated>", "exec"),
        {"Unprintable": Unprintable},
        namespace,
    )
    try:
        namespace["fail"]()
    except Unprintable as exc:
        caught = exc
    page = ServerErrorMiddleware(failing_app).generate_html(caught, limit=1)
    assert "Unprintable: &lt;exception str() failed&gt;" in page
    assert (
        "File <b>&lt;generated&gt;</b>, line <b>2</b>, in <b>fail</b></summary></details>" in page
    )
    # limit=1: only the failing line of this file's frame.
    assert page.count('<span class="line') == 1


def test_generate_plain_text_is_the_standard_traceback() -> None:
    try:
        raise Boom("plain")
    except Boom as exc:
        text = ServerErrorMiddleware(failing_app).generate_plain_text(exc)
    assert text.startswith("Traceback (most recent call last):\n")
    assert text.endswith("Boom: plain\n")


def test_async_handler_builds_the_response(test_client_factory: ClientFactory) -> None:
    seen: list[Any] = []

    async def handler(request: Request, exc: Exception) -> Response:
        seen.append((request.url.path, exc))
        return JSONResponse({"error": str(exc)}, status_code=503)

    app = ServerErrorMiddleware(failing_app, handler=handler)
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/path")
    assert response.status_code == 503
    assert response.json() == {"error": "bad <input> <b>&amp;</b>"}
    assert seen[0][0] == "/path"
    assert isinstance(seen[0][1], Boom)
    with pytest.raises(Boom):
        test_client_factory(app).get("/")


def test_sync_handler_runs_in_a_worker_thread(test_client_factory: ClientFactory) -> None:
    threads: list[int] = []

    def handler(request: Request, exc: Exception) -> Response:
        threads.append(threading.get_ident())
        return Response("sync handler", status_code=500)

    async def app(scope: Message, receive: Any, send: Any) -> None:
        threads.append(threading.get_ident())
        raise Boom()

    client = test_client_factory(
        ServerErrorMiddleware(app, handler=handler), raise_server_exceptions=False
    )
    response = client.get("/")
    assert response.text == "sync handler"
    assert threads[0] != threads[1]


def test_debug_takes_precedence_over_handler(test_client_factory: ClientFactory) -> None:
    def handler(request: Request, exc: Exception) -> Response:
        raise AssertionError("not called")  # pragma: no cover

    app = ServerErrorMiddleware(failing_app, handler=handler, debug=True)
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.text.startswith("Traceback")


@pytest.mark.anyio
async def test_handler_is_called_but_not_sent_once_response_started() -> None:
    calls: list[Exception] = []

    async def handler(request: Request, exc: Exception) -> Response:
        calls.append(exc)
        return Response("unsent", status_code=500)

    sent, exc = await drive(ServerErrorMiddleware(started_then_failing_app, handler=handler))
    assert calls == [exc]
    assert len(sent) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_other_scopes_pass_through_untouched(scope_type: str) -> None:
    sent, exc = await drive(ServerErrorMiddleware(failing_app, debug=True), {"type": scope_type})
    assert isinstance(exc, Boom)
    assert sent == []


def test_works_without_any_other_stellina_piece() -> None:
    """Without a handler, the module needs no request/response classes at all."""
    code = textwrap.dedent(
        """
        import asyncio, sys
        for name in ("stellina.requests", "stellina.responses", "stellina.concurrency",
                     "stellina.background", "stellina.datastructures"):
            sys.modules[name] = None  # any import of these now fails
        from stellina.middleware.errors import ServerErrorMiddleware

        async def app(scope, receive, send):
            raise KeyError("x")

        async def main():
            for debug, accept in ((False, b"*/*"), (True, b"text/html"), (True, b"*/*")):
                sent = []
                async def send(message):
                    sent.append(message)
                scope = {"type": "http", "headers": [(b"accept", accept)]}
                try:
                    await ServerErrorMiddleware(app, debug=debug)(scope, None, send)
                except KeyError:
                    pass
                start, body = sent
                print(start["status"], start["headers"][1][1].decode(), len(body["body"]) > 0)

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        "500 text/plain; charset=utf-8 True",
        "500 text/html; charset=utf-8 True",
        "500 text/plain; charset=utf-8 True",
    ]


def test_subclass_can_override_error_and_debug_responses(
    test_client_factory: ClientFactory,
) -> None:
    class Custom(ServerErrorMiddleware):
        def error_response(self, request: Request, exc: Exception) -> Response:
            return PlainTextResponse(f"custom error {request.url.path}", status_code=500)

        def debug_response(self, request: Request, exc: Exception) -> Response:
            return PlainTextResponse(f"custom debug {type(exc).__name__}", status_code=500)

    client = test_client_factory(Custom(failing_app), raise_server_exceptions=False)
    assert client.get("/x").text == "custom error /x"
    client = test_client_factory(Custom(failing_app, debug=True), raise_server_exceptions=False)
    assert client.get("/x").text == "custom debug Boom"


def test_default_response_methods_build_responses() -> None:
    middleware = ServerErrorMiddleware(failing_app)
    exc = Boom("<x>")
    html_request = Request({"type": "http", "headers": [(b"accept", b"text/html")]})
    text_request = Request({"type": "http", "headers": []})
    error = middleware.error_response(text_request, exc)
    assert (error.status_code, error.body) == (500, b"Internal Server Error")
    page = middleware.debug_response(html_request, exc)
    assert isinstance(page, HTMLResponse)
    assert b"Boom: &lt;x&gt;" in bytes(page.body)
    text = middleware.debug_response(text_request, exc)
    assert isinstance(text, PlainTextResponse)
    assert bytes(text.body).endswith(b"Boom: <x>\n")
