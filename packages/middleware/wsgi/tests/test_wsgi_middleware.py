"""WSGIMiddleware: environ, streamed request and response bodies, PEP 3333 error handling."""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from stellina_testing import Recorder, http_scope

from stellina.asgi import StellinaDeprecationWarning
from stellina.types import Message, Scope

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StellinaDeprecationWarning)
    wsgi_module = importlib.import_module("stellina.middleware.wsgi")
WSGIMiddleware = wsgi_module.WSGIMiddleware
build_environ = wsgi_module.build_environ

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def make_scope(**overrides: Any) -> Scope:
    """The harness's HTTP scope, from a client at 10.0.0.1 to a server on port 8000."""
    defaults: dict[str, Any] = {
        "server": ("testserver", 8000),
        "client": ("10.0.0.1", 50000),
        "headers": [],
    }
    return http_scope(**{**defaults, **overrides})


async def call(
    app: Any,
    scope: Scope | None = None,
    body: Iterable[bytes] = (b"",),
    on_send: Callable[[Message], None] | None = None,
) -> list[Message]:
    """Run ``WSGIMiddleware(app)`` once; the body chunks are followed by a disconnect."""
    recorder = Recorder.with_body(*body) if body else Recorder()

    async def send(message: Message) -> None:
        await recorder.send(message)
        if on_send is not None:
            on_send(message)

    await WSGIMiddleware(app)(scope or make_scope(), recorder.receive, send)
    return recorder.sent


def test_the_module_is_deprecated() -> None:
    with pytest.warns(
        StellinaDeprecationWarning, match=r"stellina\.middleware\.wsgi is deprecated"
    ):
        importlib.reload(wsgi_module)


def echo_environ(keys: list[str], seen: Environ) -> Callable[[Environ, StartResponse], list[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.update({key: environ.get(key) for key in keys})
        seen["environ"] = environ
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


@pytest.mark.anyio
async def test_environ_follows_pep_3333() -> None:
    seen: Environ = {}
    scope = make_scope(
        method="POST",
        root_path="/mount",
        path="/mount/caf\u00e9",
        query_string=b"a=1&b=\xe9",
        headers=[
            (b"host", b"example.org"),
            (b"content-type", b"text/plain"),
            (b"content-length", b"2"),
            (b"x-multi", b"one"),
            (b"x-multi", b"two"),
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),
            (b"x-latin", b"caf\xe9"),
        ],
    )
    await call(echo_environ([], seen), scope, [b"hi"])
    environ = seen["environ"]
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == "/mount"
    assert environ["PATH_INFO"] == "/caf\u00c3\u00a9"  # UTF-8 bytes as latin-1 characters
    assert environ["QUERY_STRING"] == "a=1&b=\u00e9"
    assert environ["SERVER_NAME"] == "testserver"
    assert environ["SERVER_PORT"] == 8000  # the scope's port as it is, as in Starlette
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "10.0.0.1"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "2"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert environ["HTTP_HOST"] == "example.org"
    assert environ["HTTP_X_MULTI"] == "one,two"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_X_LATIN"] == "caf\u00e9"
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.errors"] is sys.stdout
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.run_once"] is False
    assert "wsgi.input_terminated" not in environ
    assert all(
        type(value) is str
        for key, value in environ.items()
        if key.isupper() and key != "SERVER_PORT"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("root_path", "path", "script_name", "path_info"),
    [
        ("/app", "/app/x", "/app", "/x"),
        ("/app", "/app", "/app", ""),
        ("/app", "/application", "/app", "/application"),  # not a segment boundary
        ("/app", "/x", "/app", "/x"),  # a server that leaves root_path out of path
        ("/app/", "/app/users", "/app/", "users"),  # the root's slash stays in SCRIPT_NAME
        ("/app/", "/app", "/app/", "/app"),
        ("", "/x", "", "/x"),
    ],
)
async def test_path_info_strips_root_path_at_segment_boundary(
    root_path: str, path: str, script_name: str, path_info: str
) -> None:
    seen: Environ = {}
    await call(
        echo_environ(["SCRIPT_NAME", "PATH_INFO"], seen), make_scope(root_path=root_path, path=path)
    )
    assert seen["SCRIPT_NAME"] == script_name
    assert seen["PATH_INFO"] == path_info


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "path_info"),
    [
        ("/bad-\udcff", "/bad-\xff"),  # an undecodable byte kept as a surrogate escape
        ("/lone-\ud800", "/lone-\xed\xa0\x80"),
    ],
)
async def test_path_with_surrogates_is_not_a_server_error(path: str, path_info: str) -> None:
    seen: Environ = {}
    await call(echo_environ(["PATH_INFO"], seen), make_scope(path=path))
    assert seen["PATH_INFO"] == path_info


@pytest.mark.anyio
async def test_server_defaults_and_https() -> None:
    seen: Environ = {}
    scope = make_scope(scheme="https", server=None, client=None, http_version="2")
    await call(
        echo_environ(["SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "wsgi.url_scheme"], seen),
        scope,
    )
    assert seen["SERVER_NAME"] == "localhost"
    assert seen["SERVER_PORT"] == 443
    assert seen["SERVER_PROTOCOL"] == "HTTP/2"
    assert seen["wsgi.url_scheme"] == "https"
    assert "REMOTE_ADDR" not in seen["environ"]


@pytest.mark.anyio
async def test_unix_socket_server_has_empty_port() -> None:
    seen: Environ = {}
    await call(
        echo_environ(["SERVER_NAME", "SERVER_PORT"], seen), make_scope(server=("/tmp/s.sock", None))
    )
    assert seen == {"SERVER_NAME": "/tmp/s.sock", "SERVER_PORT": "", "environ": seen["environ"]}


@pytest.mark.anyio
async def test_response_status_headers_and_sized_body_in_two_messages() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Value", " padded ")])
        return [b"Hello, ", b"world"]

    sent = await call(app)
    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"text/plain"), (b"x-value", b"padded")],
        },
        {"type": "http.response.body", "body": b"Hello, ", "more_body": True},
        {"type": "http.response.body", "body": b"world", "more_body": False},
    ]


@pytest.mark.anyio
async def test_empty_body_still_sends_headers() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("204 No Content", [])
        return []

    sent = await call(app)
    assert sent == [
        {"type": "http.response.start", "status": 204, "headers": []},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


@pytest.mark.anyio
async def test_generator_body_streams_each_chunk_as_produced_and_is_closed() -> None:
    first_chunk_sent = threading.Event()
    closed = threading.Event()

    def body() -> Iterator[bytes]:
        try:
            yield b"one"
            # The first chunk must reach the ASGI server before the next is produced.
            assert first_chunk_sent.wait(timeout=5)
            yield b""
            yield b"two"
        finally:
            closed.set()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body()

    def on_send(message: Message) -> None:
        if message.get("body") == b"one":
            first_chunk_sent.set()

    sent = await call(app, on_send=on_send)
    assert [message["type"] for message in sent] == [
        "http.response.start",
        "http.response.body",
        "http.response.body",
        "http.response.body",
    ]
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [
        (b"one", True),
        (b"two", True),
        (b"", False),
    ]
    assert closed.is_set()


@pytest.mark.anyio
async def test_write_callable_sends_immediately() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [])
        write(b"")
        write(b"early")
        return [b"late"]

    sent = await call(app)
    assert [(m["type"], m.get("body")) for m in sent] == [
        ("http.response.start", None),
        ("http.response.body", b"early"),
        ("http.response.body", b"late"),
    ]


@pytest.mark.anyio
async def test_request_body_is_streamed_into_wsgi_input() -> None:
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        seen["read3"] = stream.read(3)
        seen["line"] = stream.readline()
        seen["limited"] = stream.readline(2)
        seen["rest_line"] = stream.readline()
        seen["lines"] = stream.readlines()
        seen["end"] = stream.read()
        start_response("200 OK", [])
        return [b""]

    await call(app, body=[b"ab", b"cde\nf", b"g", b"hi\nj", b"k\nlast"])
    assert seen == {
        "read3": b"abc",
        "line": b"de\n",
        "limited": b"fg",
        "rest_line": b"hi\n",
        "lines": [b"jk\n", b"last"],
        "end": b"",
    }


@pytest.mark.anyio
async def test_wsgi_input_read_all_iterate_and_hint() -> None:
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        seen["first"] = list(stream.readlines(1))
        seen["iterated"] = list(stream)
        seen["read_none"] = stream.read(None)
        seen["read5"] = stream.read(5)
        start_response("200 OK", [])
        return []

    await call(app, body=[b"a\nb\n", b"c"])
    assert seen == {"first": [b"a\n"], "iterated": [b"b\n", b"c"], "read_none": b"", "read5": b""}


@pytest.mark.anyio
async def test_read_everything() -> None:
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen["all"] = environ["wsgi.input"].read()
        seen["sized"] = environ["wsgi.input"].read(10)
        start_response("200 OK", [])
        return [seen["all"]]

    sent = await call(app, body=[b"x" * 10, b"y" * 5, b""])
    assert seen == {"all": b"x" * 10 + b"y" * 5, "sized": b""}
    assert sent[-1]["body"] == b"x" * 10 + b"y" * 5


@pytest.mark.anyio
async def test_client_disconnect_while_reading_body_raises() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        environ["wsgi.input"].read()
        raise AssertionError("unreachable")  # pragma: no cover

    with pytest.raises(OSError, match="Client disconnected"):
        await call(app, body=[])


@pytest.mark.anyio
async def test_exc_info_before_headers_are_sent_replaces_the_response_then_raises() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("500 Internal Server Error", [("X-Error", "1")], sys.exc_info())
        return [b"failed"]

    sent: list[Message] = []
    with pytest.raises(ValueError, match="boom"):
        await call(app, on_send=sent.append)
    # The error response went out first: a server that catches the error has nothing to add.
    assert sent[0] == {
        "type": "http.response.start",
        "status": 500,
        "headers": [(b"x-error", b"1")],
    }
    assert sent[1]["body"] == b"failed"
    assert sent[1]["more_body"] is False


def test_build_environ_takes_the_body_as_bytes() -> None:
    environ = build_environ(make_scope(method="POST"), b"payload")
    assert environ["wsgi.input"].read() == b"payload"


@pytest.mark.anyio
async def test_exc_info_after_headers_are_sent_reraises() -> None:
    def body(start_response: StartResponse) -> Iterator[bytes]:
        yield b"partial"
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"  # pragma: no cover

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        return body(start_response)

    sent: list[Message] = []
    with pytest.raises(ValueError, match="boom"):
        await call(app, on_send=sent.append)
    assert [m.get("body") for m in sent] == [None, b"partial"]


@pytest.mark.anyio
async def test_second_start_response_without_exc_info_is_an_error() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        start_response("200 OK", [])
        return []  # pragma: no cover

    with pytest.raises(RuntimeError, match="second time"):
        await call(app)


@pytest.mark.anyio
async def test_missing_start_response_is_an_error() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return [b"body"]

    with pytest.raises(RuntimeError, match="did not call start_response"):
        await call(app)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        ("200 OK", [("X-Bad", "a\r\nSet-Cookie: x=1")], "Invalid character"),
        ("200 OK", [("X-Bad\n", "a")], "Invalid character"),
        ("200 OK", [("X-Bad", "a\0")], "Invalid character"),
        ("OK", [], "Invalid WSGI status"),
        ("2000 OK", [], "Invalid WSGI status"),
    ],
)
async def test_invalid_status_or_headers_raise(
    status: str, headers: list[tuple[str, str]], message: str
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(status, headers)
        return []  # pragma: no cover

    sent: list[Message] = []
    with pytest.raises(ValueError, match=message):
        await call(app, on_send=sent.append)
    assert sent == []


@pytest.mark.anyio
async def test_status_without_reason_is_accepted() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("404", [])
        return [b"missing"]

    sent = await call(app)
    assert sent[0]["status"] == 404


@pytest.mark.anyio
async def test_application_exceptions_reach_the_server_and_iterable_is_closed() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"start"
            raise KeyError("inside the body")

        def close(self) -> None:
            closed.append(True)

    def app(environ: Environ, start_response: StartResponse) -> Body:
        start_response("200 OK", [])
        return Body()

    sent: list[Message] = []
    with pytest.raises(KeyError, match="inside the body"):
        await call(app, on_send=sent.append)
    assert closed == [True]
    assert [m.get("body") for m in sent] == [None, b"start"]


@pytest.mark.anyio
async def test_application_raising_before_returning() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise LookupError("no iterable")

    with pytest.raises(LookupError, match="no iterable"):
        await call(app)


@pytest.mark.anyio
@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_non_http_scopes_are_refused(scope_type: str) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise AssertionError("not called")  # pragma: no cover

    with pytest.raises(RuntimeError, match="only serves HTTP"):
        await call(app, {"type": scope_type})
