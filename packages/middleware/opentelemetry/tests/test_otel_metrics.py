"""The HTTP server metrics: request duration and active requests, with their attributes."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.trace import NoOpTracerProvider
from stellina_testing import ClientFactory, HeldApp, Recorder, http_scope, websocket_scope

from stellina.middleware.opentelemetry import OpenTelemetryMiddleware
from stellina.types import ASGIApp, Message, Receive, Scope, Send

DURATION = "http.server.request.duration"
ACTIVE = "http.server.active_requests"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class Measured:
    """Middleware whose metrics are read from memory; no spans are made."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)

    def wrap(self, app: ASGIApp, **options: Any) -> OpenTelemetryMiddleware:
        return OpenTelemetryMiddleware(
            app, tracer_provider=NoOpTracerProvider(), meter_provider=self.provider, **options
        )

    def metrics(self) -> dict[str, Metric]:
        data = self.reader.get_metrics_data()
        if data is None:
            return {}
        found: dict[str, Metric] = {}
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                assert scope.scope.name == "stellina.middleware.opentelemetry"
                found.update((metric.name, metric) for metric in scope.metrics)
        return found

    def points(self, name: str) -> list[Any]:
        metric = self.metrics().get(name)
        return [] if metric is None else list(metric.data.data_points)

    def by_attributes(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        return {frozenset((p.attributes or {}).items()): p for p in self.points(name)}


@pytest.fixture
def measured() -> Iterator[Measured]:
    telemetry = Measured()
    yield telemetry
    telemetry.provider.shutdown()


def answering(status: int = 200, route: str | None = None) -> ASGIApp:
    """An app that records a route with ``route`` as its path, then answers ``status``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if route is not None:
            scope["route"] = SimpleNamespace(path=route)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    return app


def test_the_duration_histogram(measured: Measured, test_client_factory: ClientFactory) -> None:
    client = test_client_factory(measured.wrap(answering(200, "/items/{id}")))
    client.get("/items/1?x=1", headers={"User-Agent": "probe"})
    client.get("/items/2")
    metric = measured.metrics()[DURATION]
    assert metric.unit == "s"
    assert metric.description == "Duration of HTTP server requests."
    (point,) = measured.points(DURATION)
    assert dict(point.attributes or {}) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "http.response.status_code": 200,
        "http.route": "/items/{id}",
        "network.protocol.version": "1.1",
    }
    assert point.count == 2
    assert point.sum >= 0
    assert tuple(point.explicit_bounds) == BUCKETS


def test_one_series_per_outcome(measured: Measured, test_client_factory: ClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        status = int(scope["path"].strip("/"))
        await answering(status)(scope, receive, send)

    client = test_client_factory(measured.wrap(app), base_url="https://testserver")
    for status in (200, 404, 200, 503):
        client.get(f"/{status}")
    series = {
        (p.attributes["http.response.status_code"], p.attributes.get("error.type")): p.count
        for p in measured.points(DURATION)
    }
    assert series == {(200, None): 2, (404, None): 1, (503, "503"): 1}
    assert {p.attributes["url.scheme"] for p in measured.points(DURATION)} == {"https"}


def test_an_exception_is_measured_with_its_type(
    measured: Measured, test_client_factory: ClientFactory
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise LookupError("gone")

    with pytest.raises(LookupError):
        test_client_factory(measured.wrap(app)).get("/")
    (point,) = measured.points(DURATION)
    assert point.attributes["error.type"] == "LookupError"
    assert "http.response.status_code" not in point.attributes
    (active,) = measured.points(ACTIVE)
    assert active.value == 0


@pytest.mark.anyio
async def test_unknown_methods_are_measured_as_other(measured: Measured) -> None:
    await Recorder().run(measured.wrap(answering()), http_scope(method="BREW"))
    (point,) = measured.points(DURATION)
    assert point.attributes["http.request.method"] == "_OTHER"
    assert "http.request.method_original" not in point.attributes


@pytest.mark.anyio
async def test_active_requests_while_they_run(measured: Measured) -> None:
    during: list[dict[frozenset[tuple[str, Any]], Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        during.append(measured.by_attributes(ACTIVE))
        await answering()(scope, receive, send)

    await Recorder().run(measured.wrap(app), http_scope(scheme="https", method="POST"))
    key = frozenset({("http.request.method", "POST"), ("url.scheme", "https")})
    (inside,) = during
    assert inside[key].value == 1
    assert measured.by_attributes(ACTIVE)[key].value == 0
    metric = measured.metrics()[ACTIVE]
    assert metric.unit == "{request}"


@pytest.mark.anyio
async def test_concurrent_and_cancelled_requests(measured: Measured) -> None:
    held = HeldApp()
    app = measured.wrap(held)
    started = 0
    both_started = anyio.Event()

    async def send(message: Message) -> None:
        nonlocal started
        started += 1
        if started == 2:
            both_started.set()

    async with anyio.create_task_group() as group:
        for _ in range(2):
            group.start_soon(app, http_scope(), Recorder().receive, send)
        await both_started.wait()
        (active,) = measured.points(ACTIVE)
        assert active.value == 2
        group.cancel_scope.cancel()
    assert held.events == ["cancelled", "cancelled"]
    (active,) = measured.points(ACTIVE)
    assert active.value == 0
    (duration,) = measured.points(DURATION)
    assert duration.count == 2
    assert duration.attributes["http.response.status_code"] == 200


def test_excluded_urls_are_not_measured(
    measured: Measured, test_client_factory: ClientFactory
) -> None:
    client = test_client_factory(measured.wrap(answering(), excluded_urls="/health"))
    client.get("/health")
    assert measured.points(DURATION) == []
    assert measured.points(ACTIVE) == []
    client.get("/ready")
    assert len(measured.points(DURATION)) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_other_scopes_are_not_measured(measured: Measured, kind: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    scope = websocket_scope() if kind == "websocket" else {"type": "lifespan"}
    await Recorder().run(measured.wrap(app), scope)
    assert measured.points(DURATION) == []
    assert measured.points(ACTIVE) == []


def test_nested_instances_measure_once(
    measured: Measured, test_client_factory: ClientFactory
) -> None:
    inner_telemetry = Measured()
    inner = inner_telemetry.wrap(answering(200, "/x"))
    test_client_factory(measured.wrap(inner)).get("/x")
    (point,) = measured.points(DURATION)
    assert point.attributes["http.route"] == "/x"
    assert inner_telemetry.points(DURATION) == []
    inner_telemetry.provider.shutdown()


@pytest.mark.anyio
async def test_with_nothing_to_record_the_request_passes_straight_through() -> None:
    received: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(scope)
        await answering()(scope, receive, send)

    quiet = OpenTelemetryMiddleware(
        app, tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider()
    )
    scope = http_scope()
    recorder = Recorder()
    await recorder.run(quiet, scope)
    assert recorder.body == b"done"
    assert received[0] is scope
    assert "stellina.opentelemetry" not in scope
