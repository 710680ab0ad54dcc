"""The application the soak benchmark serves, built from stellina or Starlette.

``SOAK_FRAMEWORK`` (``stellina`` or ``starlette``) picks the toolkit; the two variants are the
same code with the package name swapped. Routes, behind GZip, CORS and Sessions:

- ``GET /json``: a JSON document, counting the requests of the session in the session cookie;
- ``POST /form``: the form parsed (urlencoded or multipart), answered with its field count;
- ``GET /stream``: a streamed body of 8 chunks of 1 KiB;
- ``POST /upload/stream``: the body read through ``request.stream()``, answered with its size;
- ``POST /upload/form``: a multipart form parsed, answered with the size of its file.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from typing import Any

FRAMEWORK = os.environ.get("SOAK_FRAMEWORK", "stellina")
STREAM_CHUNK = b"x" * 1024
READ_SIZE = 1024 * 1024


def build(package: str) -> Any:
    """The soak app written against ``package`` (``stellina`` or ``starlette``)."""
    applications = importlib.import_module(f"{package}.applications")
    responses = importlib.import_module(f"{package}.responses")
    routing = importlib.import_module(f"{package}.routing")
    middleware = importlib.import_module(f"{package}.middleware")
    cors = importlib.import_module(f"{package}.middleware.cors")
    gzip = importlib.import_module(f"{package}.middleware.gzip")
    sessions = importlib.import_module(f"{package}.middleware.sessions")

    async def json_route(request: Any) -> Any:
        count = request.session.get("count", 0) + 1
        request.session["count"] = count
        return responses.JSONResponse({"message": "Hello, world!", "count": count})

    async def form_route(request: Any) -> Any:
        async with request.form() as form:
            return responses.JSONResponse({"fields": len(form)})

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield STREAM_CHUNK

    async def stream_route(request: Any) -> Any:
        return responses.StreamingResponse(chunks(), media_type="text/plain")

    async def upload_stream(request: Any) -> Any:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return responses.JSONResponse({"size": size})

    async def upload_form(request: Any) -> Any:
        size = 0
        async with request.form(max_part_size=READ_SIZE) as form:
            upload = form["file"]
            while chunk := await upload.read(READ_SIZE):
                size += len(chunk)
        return responses.JSONResponse({"size": size})

    routes = [
        routing.Route("/json", json_route),
        routing.Route("/form", form_route, methods=["POST"]),
        routing.Route("/stream", stream_route),
        routing.Route("/upload/stream", upload_stream, methods=["POST"]),
        routing.Route("/upload/form", upload_form, methods=["POST"]),
    ]
    stack = [
        middleware.Middleware(gzip.GZipMiddleware),
        middleware.Middleware(
            cors.CORSMiddleware, allow_origins=["https://example.org"], allow_methods=["*"]
        ),
        middleware.Middleware(sessions.SessionMiddleware, secret_key="soak-secret"),
    ]
    app_class = applications.Stellina if package == "stellina" else applications.Starlette
    return app_class(routes=routes, middleware=stack)


app = build(FRAMEWORK)
