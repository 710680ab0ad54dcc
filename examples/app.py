"""The reference's example application, served by the README's first command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from stellina.applications import Stellina
from stellina.requests import Request
from stellina.responses import FileResponse, JSONResponse, PlainTextResponse
from stellina.routing import Mount, Route, WebSocketRoute
from stellina.staticfiles import StaticFiles
from stellina.websockets import WebSocket

STATIC = Path(__file__).parent / "static"


async def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello, world!")


async def user(request: Request) -> JSONResponse:
    return JSONResponse({"username": request.path_params["username"]})


async def favicon(request: Request) -> FileResponse:
    return FileResponse(STATIC / "favicon.ico")


async def greeting(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("Hello, websocket!")
    await websocket.close()


@asynccontextmanager
async def lifespan(app: Stellina) -> AsyncIterator[None]:
    print("Ready to go")
    yield


app = Stellina(
    debug=True,
    routes=[
        Route("/", homepage),
        Route("/user/{username}", user),
        Route("/favicon.ico", favicon),
        WebSocketRoute("/ws", greeting),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ],
    lifespan=lifespan,
    max_body_size=1_000_000,  # request bodies up to 1 MB; a Route or Mount may say otherwise
)
