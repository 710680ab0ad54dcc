"""The server span of each request: its name, kind, attributes, status and parent."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from opentelemetry import baggage, trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, SpanKind, StatusCode
from stellina_testing import ClientFactory, HeldApp, Recorder, http_scope, websocket_scope

from stellina.middleware.opentelemetry import OpenTelemetryMiddleware
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Mount, Route, Router
from stellina.types import ASGIApp, Message, Receive, Scope, Send


class Traced:
    """Middleware whose spans end up in memory; metrics go nowhere."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(shutdown_on_exit=False)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def wrap(self, app: ASGIApp, **options: Any) -> OpenTelemetryMiddleware:
        return OpenTelemetryMiddleware(
            app, tracer_provider=self.provider, meter_provider=NoOpMeterProvider(), **options
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def only(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, spans
        return spans[0]


@pytest.fixture
def traced() -> Iterator[Traced]:
    telemetry = Traced()
    yield telemetry
    telemetry.provider.shutdown()


def answering(status: int = 200, *routes: object) -> ASGIApp:
    """An app that records ``routes`` in the scope, as routers do, then answers ``status``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for route in routes:
            scope["route"] = route
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    return app


def route(path: object) -> SimpleNamespace:
    """A stand-in for a router's route object: only its ``path`` is read."""
    return SimpleNamespace(path=path)


def test_one_server_span_with_the_request_attributes(
    traced: Traced, test_client_factory: ClientFactory
) -> None:
    client = test_client_factory(traced.wrap(answering()))
    response = client.get("/items?a=1&b=%20", headers={"User-Agent": "probe/1.0"})
    assert response.text == "done"
    span = traced.only()
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET"
    assert span.parent is None
    assert span.status.status_code is StatusCode.UNSET
    assert span.end_time is not None
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/items",
        "url.query": "a=1&b=%20",
        "server.address": "testserver",
        "server.port": 80,
        "network.protocol.version": "1.1",
        "client.address": "testclient",
        "client.port": 50000,
        "user_agent.original": "probe/1.0",
        "http.response.status_code": 200,
    }
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "stellina.middleware.opentelemetry"


def test_each_request_gets_its_own_trace(
    traced: Traced, test_client_factory: ClientFactory
) -> None:
    client = test_client_factory(traced.wrap(answering()))
    client.get("/")
    client.post("/")
    first, second = traced.spans()
    assert (first.name, second.name) == ("GET", "POST")
    assert first.context is not None and second.context is not None
    assert first.context.trace_id != second.context.trace_id


@pytest.mark.parametrize(
    ("url", "host", "address", "port"),
    [
        ("https://example.com/", None, "example.com", 443),
        ("http://Example.COM:8080/", None, "example.com", 8080),
        # An IP literal is reported without the URL's brackets.
        ("http://[::1]:8000/", None, "::1", 8000),
        ("http://[2001:DB8::1]/", None, "2001:db8::1", 80),
        # A Host header that is not a host falls back to the server's own address.
        ("http://testserver/", "evil.example/path", "testserver", 80),
        ("http://testserver/", "user@evil.example", "testserver", 80),
        # A port out of range is not reported.
        ("http://testserver/", "example.com:99999", "example.com", None),
    ],
)
def test_server_address_and_port(
    traced: Traced,
    test_client_factory: ClientFactory,
    url: str,
    host: str | None,
    address: str,
    port: int | None,
) -> None:
    headers = {} if host is None else {"Host": host}
    test_client_factory(traced.wrap(answering())).get(url, headers=headers)
    attributes = traced.only().attributes or {}
    assert attributes["server.address"] == address
    assert attributes.get("server.port") == port
    assert attributes["url.scheme"] == url.partition(":")[0]


@pytest.mark.anyio
async def test_a_scope_without_host_client_or_agent(traced: Traced) -> None:
    scope = http_scope(headers=[], server=None, client=None, http_version="2")
    await Recorder().run(traced.wrap(answering()), scope)
    attributes = traced.only().attributes or {}
    assert attributes["network.protocol.version"] == "2"
    for absent in ("server.address", "server.port", "client.address", "user_agent.original"):
        assert absent not in attributes
    # A Unix socket server has no port.
    scope = http_scope(headers=[], server=("app.sock", None))
    await Recorder().run(traced.wrap(answering()), scope)
    attributes = traced.spans()[1].attributes or {}
    assert attributes["server.address"] == "app.sock"
    assert "server.port" not in attributes


def test_the_route_template_names_the_span(
    traced: Traced, test_client_factory: ClientFactory
) -> None:
    app = answering(200, route("/items/{item_id}"))
    test_client_factory(traced.wrap(app)).get("/items/7")
    span = traced.only()
    assert span.name == "GET /items/{item_id}"
    assert (span.attributes or {})["http.route"] == "/items/{item_id}"
    assert (span.attributes or {})["url.path"] == "/items/7"


@pytest.mark.parametrize(
    ("routes", "template"),
    [
        # A mount's prefix, then the route inside it.
        ((route("/api"), route("/users/{id}")), "/api/users/{id}"),
        ((route(""), route("/about")), "/about"),
        ((route(""),), "/"),
        # Routes without a string path (a Host route, say) add nothing.
        ((SimpleNamespace(host="{sub}.example.com"), route("/x")), "/x"),
        ((route(None), route("/y")), "/y"),
    ],
)
def test_routes_recorded_in_turn_are_joined(
    traced: Traced,
    test_client_factory: ClientFactory,
    routes: tuple[object, ...],
    template: str,
) -> None:
    test_client_factory(traced.wrap(answering(200, *routes))).get("/anything")
    span = traced.only()
    assert span.name == f"GET {template}"
    assert (span.attributes or {})["http.route"] == template


def test_no_route_no_http_route(traced: Traced, test_client_factory: ClientFactory) -> None:
    test_client_factory(traced.wrap(answering(200, object()))).get("/x")
    span = traced.only()
    assert span.name == "GET"
    assert "http.route" not in (span.attributes or {})


def test_the_route_of_a_stellina_router(traced: Traced, test_client_factory: ClientFactory) -> None:
    async def item(request: Request) -> Response:
        return PlainTextResponse(f"item {request.path_params['item_id']}")

    router = Router([Mount("/shop", routes=[Route("/items/{item_id:int}", item)])])
    client = test_client_factory(traced.wrap(router))
    assert client.get("/shop/items/3").text == "item 3"
    assert client.post("/shop/items/3").status_code == 405
    assert client.get("/elsewhere").status_code == 404
    found = [(s.name, (s.attributes or {}).get("http.route")) for s in traced.spans()]
    assert found == [
        ("GET /shop/items/{item_id:int}", "/shop/items/{item_id:int}"),
        ("POST /shop/items/{item_id:int}", "/shop/items/{item_id:int}"),
        ("GET", None),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["FROB", "get", "M-SEARCH"])
async def test_unknown_methods_are_other(traced: Traced, method: str) -> None:
    app = answering(200, route("/r"))
    await Recorder().run(traced.wrap(app), http_scope(method=method))
    span = traced.only()
    attributes = span.attributes or {}
    if method == "get":  # the canonical spelling is recorded, the original kept
        assert span.name == "GET /r"
        assert attributes["http.request.method"] == "GET"
    else:
        assert span.name == "HTTP /r"
        assert attributes["http.request.method"] == "_OTHER"
    assert attributes["http.request.method_original"] == method


def test_known_methods_keep_no_original(traced: Traced, test_client_factory: ClientFactory) -> None:
    client = test_client_factory(traced.wrap(answering()))
    for method in ("DELETE", "HEAD", "OPTIONS", "PATCH", "PUT", "QUERY"):
        client.request(method, "/")
    for span in traced.spans():
        attributes = span.attributes or {}
        assert span.name == attributes["http.request.method"]
        assert "http.request.method_original" not in attributes


@pytest.mark.parametrize("status", [500, 503, 599])
def test_server_errors_mark_the_span(
    traced: Traced, test_client_factory: ClientFactory, status: int
) -> None:
    test_client_factory(traced.wrap(answering(status))).get("/")
    span = traced.only()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["http.response.status_code"] == status
    assert (span.attributes or {})["error.type"] == str(status)
    assert span.events == ()


@pytest.mark.parametrize("status", [201, 301, 400, 404, 429, 499])
def test_client_errors_do_not_mark_a_server_span(
    traced: Traced, test_client_factory: ClientFactory, status: int
) -> None:
    test_client_factory(traced.wrap(answering(status))).get("/")
    span = traced.only()
    assert span.status.status_code is StatusCode.UNSET
    assert (span.attributes or {})["http.response.status_code"] == status
    assert "error.type" not in (span.attributes or {})


class Boom(Exception):
    pass


@pytest.mark.parametrize("started", [False, True])
def test_an_exception_is_recorded_and_raised(
    traced: Traced, test_client_factory: ClientFactory, started: bool
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route("/fail")
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise Boom("it broke")

    with pytest.raises(Boom, match="it broke"):
        test_client_factory(traced.wrap(app)).get("/fail")
    span = traced.only()
    assert span.name == "GET /fail"
    assert span.status.status_code is StatusCode.ERROR
    attributes = span.attributes or {}
    assert attributes["error.type"] == "Boom"
    assert attributes.get("http.response.status_code") == (200 if started else None)
    (event,) = span.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.message"] == "it broke"
    assert str((event.attributes or {})["exception.type"]).endswith("Boom")


@pytest.mark.anyio
async def test_a_cancelled_request_still_ends_its_span(traced: Traced) -> None:
    held = HeldApp()
    started = anyio.Event()

    async def send(message: Message) -> None:
        started.set()

    app = traced.wrap(held)
    async with anyio.create_task_group() as group:
        group.start_soon(app, http_scope(), Recorder().receive, send)
        await started.wait()
        group.cancel_scope.cancel()
    assert held.events == ["cancelled"]
    span = traced.only()
    assert span.end_time is not None
    assert (span.attributes or {})["http.response.status_code"] == 200
    assert span.status.status_code is StatusCode.UNSET


TRACE_ID = "5f1c2a9e0b7d4c3e8a6f1b2c3d4e5f60"
PARENT_ID = "1a2b3c4d5e6f7081"


class Seen:
    """An app that notes the span and baggage current while it runs."""

    def __init__(self) -> None:
        self.span: trace.Span | None = None
        self.tenant: object = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.span = trace.get_current_span()
        self.tenant = baggage.get_baggage("tenant")
        await answering()(scope, receive, send)


@pytest.mark.anyio
async def test_the_incoming_context_is_the_parent(traced: Traced) -> None:
    seen = Seen()
    headers = [
        (b"host", b"testserver"),
        (b"traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01".encode()),
        (b"baggage", b"tenant=acme"),
    ]
    await Recorder().run(traced.wrap(seen), http_scope(headers=headers))
    span = traced.only()
    assert span.parent is not None
    assert span.parent.is_remote
    assert span.parent.span_id == int(PARENT_ID, 16)
    assert span.context is not None
    assert span.context.trace_id == int(TRACE_ID, 16)
    # The app runs inside the server span, with the request's baggage...
    assert seen.span is not None
    assert seen.span.get_span_context() == span.context
    assert seen.tenant == "acme"
    # ...and the caller's context is back as it was afterwards.
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert baggage.get_baggage("tenant") is None


@pytest.mark.anyio
async def test_without_tracing_the_app_runs_in_the_callers_context() -> None:
    seen = Seen()
    app = OpenTelemetryMiddleware(
        seen, tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider()
    )
    headers = [(b"traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01".encode())]
    await Recorder().run(app, http_scope(headers=headers))
    assert seen.span is trace.INVALID_SPAN


@pytest.mark.anyio
@pytest.mark.parametrize(
    "traceparent",
    [
        b"garbage",
        b"00-" + b"0" * 32 + b"-" + PARENT_ID.encode() + b"-01",  # the invalid all-zero trace
        b"00-" + TRACE_ID.encode() + b"-" + b"0" * 16 + b"-01",
        b"00-" + b"g" * 32 + b"-" + PARENT_ID.encode() + b"-01",
        b"ff-" + TRACE_ID.encode() + b"-" + PARENT_ID.encode() + b"-01",
        b"\xff\xfe\x00\x80",
        b"00-" + b"a" * 100_000,
    ],
)
async def test_a_bad_traceparent_starts_a_new_trace(traced: Traced, traceparent: bytes) -> None:
    headers = [(b"traceparent", traceparent), (b"tracestate", b"\xff=\xfe,,,")]
    recorder = Recorder()
    await recorder.run(traced.wrap(answering()), http_scope(headers=headers))
    assert recorder.status == 200
    span = traced.only()
    assert span.parent is None
    assert span.context is not None and span.context.is_valid
    assert span.context.trace_id != int(TRACE_ID, 16)


@pytest.mark.anyio
async def test_headers_that_are_not_utf8(traced: Traced) -> None:
    headers = [
        (b"host", b"\xffhost\xfe"),
        (b"user-agent", b"agent \xe9\xff"),
        (b"baggage", b"\xff=\xfe"),
    ]
    scope = http_scope(headers=headers, query_string=b"q=\xe9\xff&r", path="/caf\u00e9")
    recorder = Recorder()
    await recorder.run(traced.wrap(answering()), scope)
    assert recorder.body == b"done"
    attributes = traced.only().attributes or {}
    assert attributes["user_agent.original"] == "agent \u00e9\u00ff"
    assert attributes["url.query"] == "q=\u00e9\u00ff&r"
    assert attributes["url.path"] == "/caf\u00e9"
    assert attributes["server.address"] == "testserver"  # the bad Host is not used


@pytest.mark.anyio
async def test_a_huge_query_string(traced: Traced) -> None:
    query = b"a=" + b"x" * 1_000_000
    recorder = Recorder()
    app = traced.wrap(answering(), excluded_urls=["/health"])
    await recorder.run(app, http_scope(query_string=query))
    assert recorder.status == 200
    assert (traced.only().attributes or {})["url.query"] == query.decode()


@pytest.mark.anyio
async def test_credentials_in_the_query_are_redacted(traced: Traced) -> None:
    query = b"X-Goog-Signature=s3cr3t&mysig=kept&sig=abc&Signature=&AWSAccessKeyId=AKIA&x=sig=1"
    recorder = Recorder()
    await recorder.run(traced.wrap(answering()), http_scope(query_string=query))
    assert (traced.only().attributes or {})["url.query"] == (
        "X-Goog-Signature=REDACTED&mysig=kept&sig=REDACTED&Signature=REDACTED"
        "&AWSAccessKeyId=REDACTED&x=sig=1"
    )


def test_websocket_sessions_are_not_traced(
    traced: Traced, test_client_factory: ClientFactory
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "stellina.opentelemetry" not in scope
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "hi"})
        await send({"type": "websocket.close", "code": 1000})

    with test_client_factory(traced.wrap(app)).websocket_connect("/ws") as session:
        assert session.receive_text() == "hi"
    assert traced.spans() == []


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_other_scopes_pass_through_untouched(traced: Traced, kind: str) -> None:
    received: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(scope)
        await send({"type": "lifespan.startup.complete"})

    scope = websocket_scope() if kind == "websocket" else {"type": "lifespan", "state": {}}
    recorder = Recorder()
    await recorder.run(traced.wrap(app), scope)
    assert received == [scope]
    assert received[0] is scope
    assert recorder.sent == [{"type": "lifespan.startup.complete"}]
    assert traced.spans() == []


def test_nested_instances_record_one_span(
    traced: Traced, test_client_factory: ClientFactory
) -> None:
    inner_telemetry = Traced()
    inner = inner_telemetry.wrap(answering(200, route("/deep")))
    outer = traced.wrap(Router([Mount("/mounted", app=inner)]))
    test_client_factory(outer).get("/mounted/x")
    # The outer instance records the request, with the route found below the inner one.
    span = traced.only()
    assert span.name == "GET /mounted/deep"
    assert inner_telemetry.spans() == []


def test_an_inactive_outer_instance_leaves_the_request_to_an_inner_one(
    traced: Traced, test_client_factory: ClientFactory
) -> None:
    outer = OpenTelemetryMiddleware(
        traced.wrap(answering()),
        tracer_provider=NoOpTracerProvider(),
        meter_provider=NoOpMeterProvider(),
    )
    test_client_factory(outer).get("/")
    assert traced.only().name == "GET"


@pytest.mark.parametrize(
    ("excluded", "url", "host", "traced_too"),
    [
        ("/health", "/health", None, False),
        ("/health", "/healthy/x", None, False),  # a search, not a full match
        ("/health", "/items", None, True),
        ("^http://testserver/health$", "/health", None, False),
        ("^http://testserver/health$", "/health?verbose=1", None, True),  # the query counts
        ("token=", "/items?token=abc", None, False),
        (r"example\.com:8080/", "/", "example.com:8080", False),
        (r"example\.com:8080/", "/", "example.com", True),
        ("^http://example.com/x$", "/x", "example.com:80", False),  # a default port is dropped
        (r"^http://\[::1\]:8000/$", "/", "[::1]:8000", False),
        ("/health, /metrics", "/metrics", None, False),
        ("/health, /metrics", "/health", None, False),
        ("/health, /metrics", "/items", None, True),
        ("", "/items", None, True),
        (" , ", "/items", None, True),
        (["/a", "/b"], "/b", None, False),
        (["/a", "/b"], "/c", None, True),
        ([], "/c", None, True),
    ],
)
def test_excluded_urls(
    traced: Traced,
    test_client_factory: ClientFactory,
    excluded: str | list[str],
    url: str,
    host: str | None,
    traced_too: bool,
) -> None:
    app = traced.wrap(answering(), excluded_urls=excluded)
    headers = {} if host is None else {"Host": host}
    assert test_client_factory(app).get(url, headers=headers).text == "done"
    assert len(traced.spans()) == (1 if traced_too else 0)


@pytest.mark.anyio
async def test_excluded_urls_with_the_servers_own_address(traced: Traced) -> None:
    app = traced.wrap(answering(), excluded_urls=[r"^http://\[::1\]:8000/health$"])
    for path in ("/health", "/items"):
        await Recorder().run(app, http_scope(path=path, headers=[], server=("::1", 8000)))
    attributes = traced.only().attributes or {}
    assert attributes["url.path"] == "/items"
    assert (attributes["server.address"], attributes["server.port"]) == ("::1", 8000)


def test_an_excluded_url_is_not_traced_by_inner_instances(
    traced: Traced, test_client_factory: ClientFactory
) -> None:
    inner_telemetry = Traced()
    inner = inner_telemetry.wrap(answering())
    test_client_factory(traced.wrap(inner, excluded_urls="/health")).get("/health")
    assert traced.spans() == []
    assert inner_telemetry.spans() == []


@pytest.mark.anyio
async def test_the_app_sees_the_request_scope(traced: Traced) -> None:
    received: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(dict(scope))
        await answering()(scope, receive, send)

    scope = http_scope(path="/p", query_string=b"x=1")
    await Recorder().run(traced.wrap(app), scope)
    (seen,) = received
    assert {key: value for key, value in seen.items() if key != "stellina.opentelemetry"} == scope
