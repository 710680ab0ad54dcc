"""Without explicit providers the global ones are used, even when configured after startup.

OpenTelemetry lets a process set its global providers once, so this runs in a fresh
interpreter rather than in the test process, where other tests would see them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import json
import sys

import anyio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stellina.middleware.opentelemetry import OpenTelemetryMiddleware


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


middleware = OpenTelemetryMiddleware(app)


class Sent(list):
    async def append_async(self, message):
        self.append(message)


async def request(path):
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    sent = Sent()
    scope = {"type": "http", "method": "GET", "scheme": "http", "path": path, "headers": []}
    await middleware(scope, receive, sent.append_async)
    return [message["type"] for message in sent]


answers = [anyio.run(request, "/before", backend=sys.argv[1])]
exporter = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(tracer_provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
answers.append(anyio.run(request, "/after", backend=sys.argv[1]))

durations = [
    point
    for resource in reader.get_metrics_data().resource_metrics
    for scope in resource.scope_metrics
    for metric in scope.metrics
    if metric.name == "http.server.request.duration"
    for point in metric.data.data_points
]
spans = [span.attributes["url.path"] for span in exporter.get_finished_spans()]
counts = [[point.count, point.attributes["http.response.status_code"]] for point in durations]
print(json.dumps({"answers": answers, "spans": spans, "durations": counts}))
"""


def test_global_providers_set_after_the_middleware_is_built(anyio_backend: str) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT, anyio_backend],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # Both requests are answered; only the one after the providers were set is recorded.
    assert report["answers"] == [["http.response.start", "http.response.body"]] * 2
    assert report["spans"] == ["/after"]
    assert report["durations"] == [[1, 204]]
