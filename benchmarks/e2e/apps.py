"""The application the end-to-end benchmark serves, built from stellina or Starlette, or bare.

Selected by environment variables so one uvicorn command line serves each variant:
``E2E_FRAMEWORK`` (``bare``, ``stellina`` or ``starlette``), ``E2E_MIDDLEWARE`` (``1`` wraps
the app in TrustedHost, CORS, Sessions and GZip) and ``E2E_STATIC_DIR`` (the static files' folder).
The stellina and Starlette variants are the same code with the package name swapped.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import resource_routes

FRAMEWORK = os.environ.get("E2E_FRAMEWORK", "stellina")
WITH_MIDDLEWARE = os.environ.get("E2E_MIDDLEWARE") == "1"
STATIC_DIR = os.environ.get("E2E_STATIC_DIR", ".")
RESOURCES = 30

PLAINTEXT = b"Hello, world!"
JSON_BODY = json.dumps({"message": "Hello, world!"}, separators=(",", ":")).encode()


async def bare(scope: Any, receive: Any, send: Any) -> None:
    """The physical limit: a plain ASGI callable that sends the same bytes."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/json":
        body, content_type = JSON_BODY, b"application/json"
    else:
        body, content_type = PLAINTEXT, b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", content_type),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build(package: str) -> Any:
    """The benchmark app written against ``package`` (``stellina`` or ``starlette``)."""
    applications = importlib.import_module(f"{package}.applications")
    responses = importlib.import_module(f"{package}.responses")
    routing = importlib.import_module(f"{package}.routing")
    staticfiles = importlib.import_module(f"{package}.staticfiles")
    middleware = importlib.import_module(f"{package}.middleware")

    async def plaintext(request: Any) -> Any:
        return responses.PlainTextResponse("Hello, world!")

    async def json_hello(request: Any) -> Any:
        return responses.JSONResponse({"message": "Hello, world!"})

    async def item(request: Any) -> Any:
        params = request.path_params
        return responses.JSONResponse({"id": params["id"], "item": params["item"]})

    async def echo(websocket: Any) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            await websocket.send_text(message.get("text") or "")

    routes = [routing.Route("/plaintext", plaintext), routing.Route("/json", json_hello)]
    routes += resource_routes(routing, RESOURCES, plaintext, item)
    routes += [
        routing.WebSocketRoute("/ws", echo),
        routing.Mount("/static", staticfiles.StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    stack = []
    if WITH_MIDDLEWARE:
        cors = importlib.import_module(f"{package}.middleware.cors")
        gzip = importlib.import_module(f"{package}.middleware.gzip")
        sessions = importlib.import_module(f"{package}.middleware.sessions")
        trustedhost = importlib.import_module(f"{package}.middleware.trustedhost")
        stack = [
            middleware.Middleware(
                trustedhost.TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]
            ),
            middleware.Middleware(
                cors.CORSMiddleware, allow_origins=["https://example.org"], allow_methods=["*"]
            ),
            middleware.Middleware(sessions.SessionMiddleware, secret_key="benchmark-secret"),
            middleware.Middleware(gzip.GZipMiddleware),
        ]
    app_class = applications.Stellina if package == "stellina" else applications.Starlette
    return app_class(routes=routes, middleware=stack)


app = bare if FRAMEWORK == "bare" else build(FRAMEWORK)
