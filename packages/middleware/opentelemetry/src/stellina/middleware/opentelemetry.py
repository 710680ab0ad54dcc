"""OpenTelemetryMiddleware: a server span and the HTTP server metrics for every request.

Spans and metrics follow the OpenTelemetry HTTP semantic conventions. The route template
(``http.route``) is learned from the routes a stellina router records in the scope as it
dispatches the request, so no route is matched twice.
"""

from __future__ import annotations

__version__ = "0.1.0"

import re
import time
from collections.abc import Awaitable, Iterable, Sequence
from contextvars import Token
from typing import Any

from opentelemetry import context, metrics, trace
from opentelemetry.propagate import extract
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from stellina.asgi import port_number, split_host
from stellina.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["OpenTelemetryMiddleware"]

_INSTRUMENTATION = "stellina.middleware.opentelemetry"

#: Set in the scope by the outermost instance: inner ones (nested apps) then stay out of the way.
_CLAIMED = "stellina.opentelemetry"

# Query parameters whose values are credentials, redacted in ``url.query`` as the HTTP
# semantic conventions ask (pre-signed URLs of S3, Azure, Google Cloud Storage).
_SIGNATURES = re.compile(r"(?<![^&])(AWSAccessKeyId|Signature|sig|X-Goog-Signature)=[^&]*")

_KNOWN_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE")
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The semantic conventions' advised buckets for ``http.server.request.duration``, in seconds.
_DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

RawHeaders = Sequence[tuple[bytes, bytes]]


class _HeaderGetter(Getter[RawHeaders]):
    """Reads propagation fields (``traceparent``, ``baggage``...) from ASGI raw headers."""

    def get(self, carrier: RawHeaders, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        found = [value.decode("latin-1") for field, value in carrier if field.lower() == name]
        return found or None

    def keys(self, carrier: RawHeaders) -> list[str]:
        return [field.decode("latin-1") for field, _ in carrier]


_GETTER = _HeaderGetter()


class _RouteTrail(dict[str, Any]):
    """A copy of the scope that remembers every route a router records in it, outermost first."""

    __slots__ = ("routes",)

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope)
        self.routes: list[object] = []

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "route":
            self.routes.append(value)
        super().__setitem__(key, value)

    def template(self) -> str | None:
        """The matched path template: the paths of the mounts and the route, joined."""
        paths = [
            path for route in self.routes if isinstance(path := getattr(route, "path", None), str)
        ]
        if not paths:
            return None
        return "".join(paths) or "/"


class _StatusSend:
    """A ``send`` that notes the response status; hands back the wrapped send's awaitable."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status: int | None = None

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        return self.send(message)


def _exclusion(excluded_urls: str | Iterable[str]) -> re.Pattern[str] | None:
    patterns = excluded_urls.split(",") if isinstance(excluded_urls, str) else excluded_urls
    kept = [pattern.strip() for pattern in patterns if pattern.strip()]
    if not kept:
        return None
    return re.compile("|".join(f"(?:{pattern})" for pattern in kept))


def _server(scope: Scope, host_header: bytes | None) -> tuple[str, int | None] | None:
    """The server's address and port: from the Host header, else from the scope."""
    if host_header is not None:
        parts = split_host(host_header.decode("latin-1"))
        if parts is not None:
            host, port = parts
            if host.startswith("["):  # an IP literal: the address, as servers give it
                host = host[1:-1]
            return host, port_number(port) if port else _DEFAULT_PORTS.get(
                scope.get("scheme", "http")
            )
    server = scope.get("server")
    if server is None:
        return None
    return server[0], server[1]


class _Request:
    """What the span and the metrics say about one request, gathered once from its scope."""

    __slots__ = ("method", "scheme", "span_attributes", "started")

    def __init__(self, scope: Scope) -> None:
        self.started = time.perf_counter()
        original: str = scope["method"]
        method = original.upper()
        if method not in _KNOWN_METHODS:
            method = "_OTHER"
        self.method = method
        self.scheme: str = scope.get("scheme", "http")
        host = agent = None
        for name, value in scope.get("headers") or ():
            if name == b"host":
                host = value
            elif name == b"user-agent":
                agent = value
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.scheme": self.scheme,
            "url.path": scope["path"],
        }
        if method != original:
            attributes["http.request.method_original"] = original
        query: bytes = scope.get("query_string", b"")
        if query:
            text = query.decode("latin-1")
            attributes["url.query"] = _SIGNATURES.sub(r"\1=REDACTED", text)
        server = _server(scope, host)
        if server is not None:
            attributes["server.address"] = server[0]
            if server[1] is not None:
                attributes["server.port"] = server[1]
        version = scope.get("http_version")
        if version:
            attributes["network.protocol.version"] = version
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
            attributes["client.port"] = client[1]
        if agent is not None:
            attributes["user_agent.original"] = agent.decode("latin-1")
        self.span_attributes = attributes

    def span_name(self, route: str | None) -> str:
        method = "HTTP" if self.method == "_OTHER" else self.method
        return method if route is None else f"{method} {route}"


def _error_type(status: int | None, error: Exception | None) -> str | None:
    if error is not None:
        return type(error).__qualname__
    if status is not None and status >= 500:
        return str(status)
    return None


class OpenTelemetryMiddleware:
    """Traces each HTTP request as a server span and records the HTTP server metrics.

    ``excluded_urls`` are regular expressions (a list, or one comma-separated string) searched
    in the full request URL; matching requests are neither traced nor measured. Without
    ``tracer_provider`` / ``meter_provider`` the global providers are used, looked up per
    request so that a provider configured after startup is honoured. Nested instances (a
    mounted app with its own) leave a request to the outermost one.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        excluded_urls: str | Iterable[str] = (),
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.app = app
        self._excluded = _exclusion(excluded_urls)
        self._tracer: trace.Tracer | None = None
        self._global_provider: trace.TracerProvider | None = None
        if tracer_provider is not None:
            self._tracer = tracer_provider.get_tracer(_INSTRUMENTATION)
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(_INSTRUMENTATION)
        self._metered = not isinstance(meter, metrics.NoOpMeter)
        self._duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )
        self._active = meter.create_up_down_counter(
            "http.server.active_requests",
            unit="{request}",
            description="Number of active HTTP server requests.",
        )
        self._explicit_tracer = tracer_provider is not None

    def _current_tracer(self) -> trace.Tracer | None:
        """The tracer to use now; None when tracing is a no-op."""
        if not self._explicit_tracer:
            provider = trace.get_tracer_provider()
            if provider is not self._global_provider:
                self._global_provider = provider
                self._tracer = provider.get_tracer(_INSTRUMENTATION)
        tracer = self._tracer
        return None if isinstance(tracer, trace.NoOpTracer) else tracer

    def _is_excluded(self, scope: Scope, request: _Request) -> bool:
        excluded = self._excluded
        if excluded is None:
            return False
        server = request.span_attributes.get("server.address", "")
        if ":" in server:  # an IPv6 address, bracketed in a URL
            server = f"[{server}]"
        port = request.span_attributes.get("server.port")
        netloc = (
            server
            if port is None or port == _DEFAULT_PORTS.get(request.scheme)
            else f"{server}:{port}"
        )
        url = f"{request.scheme}://{netloc}{scope['path']}"
        query = request.span_attributes.get("url.query")
        if query:
            url = f"{url}?{query}"
        return excluded.search(url) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _CLAIMED in scope:
            await self.app(scope, receive, send)
            return
        tracer = self._current_tracer()
        if tracer is None and not self._metered:
            await self.app(scope, receive, send)
            return
        request = _Request(scope)
        if self._is_excluded(scope, request):
            scope[_CLAIMED] = True
            await self.app(scope, receive, send)
            return
        trail = _RouteTrail(scope)
        trail[_CLAIMED] = True
        status_send = _StatusSend(send)
        span: trace.Span | None = None
        token: Token[context.Context] | None = None
        if tracer is not None:
            # The app runs in the context carried by the request (its trace and baggage).
            incoming = extract(scope.get("headers") or (), getter=_GETTER)
            span = tracer.start_span(
                request.span_name(None),
                context=incoming,
                kind=SpanKind.SERVER,
                attributes=request.span_attributes,
            )
            token = context.attach(trace.set_span_in_context(span, incoming))
        active = {"http.request.method": request.method, "url.scheme": request.scheme}
        self._active.add(1, active)
        error: Exception | None = None
        try:
            await self.app(trail, receive, status_send)
        except Exception as exc:
            error = exc
            raise
        finally:
            self._active.add(-1, active)
            route = trail.template()
            status = status_send.status
            error_type = _error_type(status, error)
            outcome: dict[str, Any] = {}
            if status is not None:
                outcome["http.response.status_code"] = status
            if route is not None:
                outcome["http.route"] = route
            if error_type is not None:
                outcome["error.type"] = error_type
            if span is not None:
                if error is not None:
                    span.record_exception(error)
                if error_type is not None:
                    span.set_status(Status(StatusCode.ERROR))
                span.set_attributes(outcome)
                span.update_name(request.span_name(route))
                span.end()
            if token is not None:
                context.detach(token)
            measured = {**active, **outcome}
            version = scope.get("http_version")
            if version:
                measured["network.protocol.version"] = version
            self._duration.record(time.perf_counter() - request.started, measured)
