"""TestClient over plain HTTP: scope fidelity, request bodies, cookies, redirects, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from stellina_testing import ClientFactory

from stellina.asgi import StellinaDeprecationWarning
from stellina.testclient import TestClient
from stellina.types import Message, Receive, Scope, Send


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body", False):
            return body


async def send_response(
    send: Send,
    body: bytes,
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


def scope_echo(seen: list[Scope]) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        body = await read_body(receive)
        await send_response(send, body, headers=[(b"content-type", b"application/octet-stream")])

    return app


def test_get_scope_fidelity(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    client = test_client_factory(scope_echo(seen))
    response = client.get("/caf%C3%A9/a%20b?x=1&y=%20")
    assert response.status_code == 200
    assert response.content == b""
    scope = seen[0]
    assert scope["type"] == "http"
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/café/a b"
    assert scope["raw_path"] == b"/caf%C3%A9/a%20b"
    assert scope["query_string"] == b"x=1&y=%20"
    assert scope["root_path"] == ""
    assert scope["server"] == ["testserver", 80]
    assert scope["client"] == ("testclient", 50000)
    assert scope["extensions"] == {"http.response.debug": {}, "http.response.trailers": {}}
    assert scope["state"] == {}
    assert scope["headers"] == [
        (b"host", b"testserver"),
        (b"accept", b"*/*"),
        # httpx's default: "gzip, deflate", plus br or zstd when their decoders are installed.
        (b"accept-encoding", httpx.Client().headers["accept-encoding"].encode()),
        (b"connection", b"keep-alive"),
        (b"user-agent", b"testclient"),
    ]


def test_percent_encoded_percent_is_decoded_once(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    test_client_factory(scope_echo(seen)).get("/a%2525b")
    assert seen[0]["path"] == "/a%25b"
    assert seen[0]["raw_path"] == b"/a%2525b"


def test_custom_base_url_client_root_path_and_headers(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    client = test_client_factory(
        scope_echo(seen),
        base_url="https://example.org:8443",
        root_path="/api",
        client=("10.0.0.1", 1234),
        headers={"User-Agent": "mine", "X-Token": "t"},
    )
    client.get("/items", headers={"X-Extra": "Yes"})
    scope = seen[0]
    assert scope["scheme"] == "https"
    assert scope["server"] == ["example.org", 8443]
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/items"
    assert scope["client"] == ("10.0.0.1", 1234)
    headers = scope["headers"]
    assert headers[0] == (b"host", b"example.org:8443")
    assert (b"user-agent", b"mine") in headers
    assert (b"x-token", b"t") in headers
    assert (b"x-extra", b"Yes") in headers
    assert all(name == name.lower() for name, _ in headers)


def test_every_verb_reaches_the_app(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    client = test_client_factory(scope_echo(seen))
    calls = {
        "GET": client.get,
        "HEAD": client.head,
        "OPTIONS": client.options,
        "DELETE": client.delete,
        "POST": client.post,
        "PUT": client.put,
        "PATCH": client.patch,
    }
    for method, call in calls.items():
        assert call("/").status_code == 200, method
    assert [scope["method"] for scope in seen] == list(calls)
    client.request("PROPFIND", "/")
    assert seen[-1]["method"] == "PROPFIND"


def test_request_bodies(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    client = test_client_factory(scope_echo(seen))
    assert client.post("/", content=b"raw bytes").content == b"raw bytes"
    assert client.post("/", json={"a": [1, 2]}).json() == {"a": [1, 2]}
    assert client.post("/", data={"name": "é x"}).content == b"name=%C3%A9+x"
    assert client.put("/", content=(part for part in [b"gen", b"erated"])).content == b"generated"
    header_names = [dict(scope["headers"]) for scope in seen]
    assert header_names[1][b"content-type"] == b"application/json"
    assert header_names[2][b"content-type"] == b"application/x-www-form-urlencoded"


def test_params_are_encoded(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    client = test_client_factory(scope_echo(seen))
    client.get("/search", params={"q": "a&b c", "n": ["1", "2"]})
    assert seen[0]["query_string"] == b"q=a%26b+c&n=1&n=2"


def test_files_upload(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    client = test_client_factory(scope_echo(seen))
    response = client.post(
        "/upload",
        files={"file": ("hello.txt", b"hello world", "text/plain")},
        data={"field": "value"},
    )
    content_type = dict(seen[0]["headers"])[b"content-type"]
    assert content_type.startswith(b"multipart/form-data; boundary=")
    body = response.content
    assert b'name="field"\r\n\r\nvalue\r\n' in body
    assert (
        b'name="file"; filename="hello.txt"\r\nContent-Type: text/plain\r\n\r\nhello world' in body
    )


def test_response_status_headers_and_body(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 418,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"x-a", b"1")],
            }
        )
        await send({"type": "http.response.body", "body": b"tea", "more_body": True})
        await send({"type": "http.response.body", "body": b"pot", "more_body": True})
        await send({"type": "http.response.body"})

    response = test_client_factory(app).get("/")
    assert response.status_code == 418
    assert response.headers["x-a"] == "1"
    assert response.text == "teapot"
    assert response.request.url == "http://testserver/"


def test_head_response_has_no_body(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, b"content", headers=[(b"content-length", b"7")])

    response = test_client_factory(app).head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == "7"
    assert response.content == b""


def test_cookies_persist_across_requests(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        cookie = dict(scope["headers"]).get(b"cookie", b"")
        headers = [(b"set-cookie", b"session=abc; Path=/")] if scope["path"] == "/login" else []
        await send_response(send, cookie, headers=headers)

    client = test_client_factory(app, cookies={"initial": "1"})
    assert client.get("/").content == b"initial=1"
    client.get("/login")
    assert client.cookies["session"] == "abc"
    assert sorted(client.get("/").content.split(b"; ")) == [b"initial=1", b"session=abc"]


def test_redirects_are_followed_by_default(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/old":
            await send_response(send, b"", status=307, headers=[(b"location", b"/new?x=1")])
        else:
            await send_response(send, scope["path"].encode() + b"?" + scope["query_string"])

    client = test_client_factory(app)
    response = client.get("/old")
    assert response.status_code == 200
    assert response.text == "/new?x=1"
    assert [r.status_code for r in response.history] == [307]

    response = test_client_factory(app, follow_redirects=False).get("/old")
    assert response.status_code == 307
    assert response.headers["location"] == "/new?x=1"
    assert client.get("/old", follow_redirects=False).status_code == 307


def test_redirect_to_other_host_reaches_the_app(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/away":
            headers = [(b"location", b"https://elsewhere.example/landing")]
            await send_response(send, b"", status=302, headers=headers)
        else:
            host = dict(scope["headers"])[b"host"]
            await send_response(send, scope["scheme"].encode() + b"://" + host)

    assert test_client_factory(app).get("/away").text == "https://elsewhere.example"


def test_server_exception_is_raised(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        test_client_factory(app).get("/")


def test_server_exception_becomes_500_when_not_raised(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.content == b""


def test_exception_after_response_is_raised(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, b"ok")
        raise RuntimeError("after the response")

    with pytest.raises(RuntimeError, match="after the response"):
        test_client_factory(app).get("/")
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 200
    assert response.text == "ok"


def test_exception_mid_stream(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        await anyio.sleep(0)
        raise KeyError("mid-stream")

    with pytest.raises(KeyError, match="mid-stream"):
        test_client_factory(app).get("/")
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 200
    assert response.content == b"part"


def test_app_finishes_before_the_request_returns(test_client_factory: ClientFactory) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        await send_response(send, b"done")
        await anyio.sleep(0.01)
        message = await receive()
        events.append(message["type"])

    assert test_client_factory(app).get("/").text == "done"
    assert events == ["http.disconnect"]


def test_no_response_is_an_error(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with pytest.raises(AssertionError, match="TestClient did not receive any response."):
        test_client_factory(app).get("/")
    assert test_client_factory(app, raise_server_exceptions=False).get("/").status_code == 500


def test_two_response_starts_is_an_error(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})

    with pytest.raises(AssertionError, match='multiple "http.response.start"'):
        test_client_factory(app).get("/")


def test_body_before_start_is_an_error(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"x"})

    with pytest.raises(AssertionError, match='without "http.response.start"'):
        test_client_factory(app).get("/")
    assert test_client_factory(app, raise_server_exceptions=False).get("/").status_code == 500


def test_body_after_completion_is_an_error(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, b"one")
        await send({"type": "http.response.body", "body": b"two"})

    with pytest.raises(AssertionError, match="after response completed"):
        test_client_factory(app).get("/")
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.content == b"one"


def test_bad_messages_are_errors(test_client_factory: ClientFactory) -> None:
    async def text_body(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": "not bytes"})

    async def unknown(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.mystery"})

    with pytest.raises(TypeError, match="must be bytes, not str"):
        test_client_factory(text_body).get("/")
    with pytest.raises(RuntimeError, match="'http.response.mystery'"):
        test_client_factory(unknown).get("/")


def test_receive_after_body_waits_for_the_response(test_client_factory: ClientFactory) -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        messages.append(await receive())

        async def listen() -> None:
            messages.append(await receive())

        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            await anyio.sleep(0)
            assert len(messages) == 1
            await send_response(send, b"ok")

    assert test_client_factory(app).post("/", content=b"data").text == "ok"
    assert messages == [
        {"type": "http.request", "body": b"data", "more_body": False},
        {"type": "http.disconnect"},
    ]


def test_debug_extension_exposes_template_and_context(test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "http.response.debug" in scope["extensions"]
        info = {"template": "index.html", "context": {"name": "x"}}
        await send({"type": "http.response.debug", "info": info})
        await send_response(send, b"<html>")

    response = test_client_factory(app).get("/")
    assert response.template == "index.html"  # type: ignore[attr-defined]
    assert response.context == {"name": "x"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("call", ["get", "request"])
def test_timeout_argument_warns_at_the_callers_line(
    test_client_factory: ClientFactory, call: str
) -> None:
    seen: list[Scope] = []
    client = test_client_factory(scope_echo(seen))
    with pytest.warns(StellinaDeprecationWarning, match="'timeout' argument") as caught:
        if call == "get":
            client.get("/", timeout=1.0)
        else:
            client.request("GET", "/", timeout=1.0)
    assert len(seen) == 1
    assert caught[0].filename == __file__


def test_asgi2_application(test_client_factory: ClientFactory) -> None:
    class App:
        def __init__(self, scope: Scope) -> None:
            self.scope = scope

        async def __call__(self, receive: Receive, send: Send) -> None:
            await send_response(send, self.scope["path"].encode())

    assert test_client_factory(App).get("/two-step").text == "/two-step"


def test_class_instance_and_partial_apps(test_client_factory: ClientFactory) -> None:
    import functools

    class App:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await send_response(send, b"instance")

    async def app(scope: Scope, receive: Receive, send: Send, *, text: bytes) -> None:
        await send_response(send, text)

    assert test_client_factory(App()).get("/").text == "instance"
    assert test_client_factory(functools.partial(app, text=b"partial")).get("/").text == "partial"


def test_not_collected_by_pytest() -> None:
    assert TestClient.__test__ is False


def test_is_an_httpx_client(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    client = test_client_factory(scope_echo(seen))
    assert isinstance(client, httpx.Client)
    assert client.base_url == "http://testserver"
    assert client.headers["user-agent"] == "testclient"
    response = client.send(client.build_request("POST", "/built", json={"k": 1}))
    assert json.loads(response.content) == {"k": 1}
    assert seen[0]["path"] == "/built"


def test_app_runs_on_the_chosen_backend(
    test_client_factory: ClientFactory, anyio_backend: str
) -> None:
    import sniffio

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send_response(send, sniffio.current_async_library().encode())

    assert test_client_factory(app).get("/").text == anyio_backend
    with test_client_factory(app) as client:
        assert client.get("/").text == anyio_backend


def test_backend_options_reach_the_event_loop() -> None:
    import asyncio

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, str(asyncio.get_running_loop().get_debug()).encode())

    client = TestClient(app, backend="asyncio", backend_options={"debug": True})
    assert client.get("/").text == "True"
    assert TestClient(app).get("/").text == "False"


def test_imports_only_httpx_anyio_and_stellina_http() -> None:
    import subprocess
    import sys

    code = "import sys, stellina.testclient; print(' '.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    modules = set(output.split())
    forbidden = {
        "starlette",
        "jinja2",
        "yaml",
        "itsdangerous",
        "stellina.routing",
        "stellina.applications",
        "stellina.staticfiles",
        "stellina.templating",
    }
    assert "stellina.testclient" in modules
    assert not modules & forbidden


def test_requests_from_several_threads_share_the_portal(
    test_client_factory: ClientFactory,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await anyio.sleep(0)
            await send_response(send, scope["query_string"])

    with test_client_factory(app) as client, ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(lambda n: client.get("/", params={"n": n}).text, range(40)))
    assert texts == [f"n={n}" for n in range(40)]


def test_caller_host_header_comes_first(test_client_factory: ClientFactory) -> None:
    seen: list[Scope] = []
    client = test_client_factory(scope_echo(seen))
    client.get("/", headers={"X-Before": "1", "Host": "shop.example.org"})
    headers = seen[0]["headers"]
    assert headers[0] == (b"host", b"shop.example.org")
    assert [name for name, _ in headers].count(b"host") == 1
    assert (b"x-before", b"1") in headers
    assert seen[0]["server"] == ["testserver", 80]
