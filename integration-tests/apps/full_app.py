"""The example application plus what the server matrix checks: lifespan, streaming, uploads,
a WebSocket echo and the application-wide body limit.

Served by test_servers.py with ``examples/`` and this folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from app import app as example

from stellina.applications import Stellina
from stellina.datastructures import UploadFile
from stellina.requests import Request
from stellina.responses import JSONResponse, PlainTextResponse, StreamingResponse
from stellina.routing import Route, WebSocketRoute
from stellina.websockets import WebSocket

APP_BODY_LIMIT = 1_000_000
UPLOAD_BODY_LIMIT = 16 * 1024 * 1024
FIRST_CHUNK = b"first:" + b"a" * 1024
LATER_CHUNKS = (b"second:" + b"b" * 1024, b"third:" + b"c" * 1024, b"end")

# One gate per streaming request, keyed by the token the client chose: the stream sends its
# first chunk, then waits for the client to open the gate (so the client must have read that
# chunk while the response was still going on).
_gates: dict[str, anyio.Event] = {}


def _gate(token: str) -> anyio.Event:
    return _gates.setdefault(token, anyio.Event())


async def started(request: Request) -> JSONResponse:
    return JSONResponse({"started": "started" in request.app.state})


async def stream(request: Request) -> StreamingResponse:
    gate = _gate(request.query_params["token"])

    async def chunks() -> AsyncIterator[bytes]:
        yield FIRST_CHUNK
        with anyio.fail_after(30):
            await gate.wait()
        for chunk in LATER_CHUNKS:
            yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def release(request: Request) -> PlainTextResponse:
    _gate(request.query_params["token"]).set()
    return PlainTextResponse("released")


async def upload(request: Request) -> JSONResponse:
    async with request.form() as form:
        file = form["file"]
        assert isinstance(file, UploadFile)
        digest = hashlib.sha256()
        size = 0
        while chunk := await file.read(256 * 1024):
            digest.update(chunk)
            size += len(chunk)
        return JSONResponse(
            {
                "filename": file.filename,
                "size": size,
                "sha256": digest.hexdigest(),
                "note": form["note"],
            }
        )


async def body_size(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await websocket.send_text(message["text"])
        else:
            await websocket.send_bytes(message["bytes"])


@asynccontextmanager
async def lifespan(app: Stellina) -> AsyncIterator[None]:
    app.state["started"] = True
    yield


app = Stellina(
    routes=[
        *example.routes,
        Route("/lifespan", started),
        Route("/stream", stream),
        Route("/release", release),
        Route("/upload", upload, methods=["POST"], max_body_size=UPLOAD_BODY_LIMIT),
        Route("/body-size", body_size, methods=["POST"]),
        WebSocketRoute("/echo", echo),
    ],
    lifespan=lifespan,
    max_body_size=APP_BODY_LIMIT,
)
