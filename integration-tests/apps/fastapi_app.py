"""A FastAPI application behind each stellina middleware (see ``middleware_matrix``).

FastAPI brings Starlette, so this runs only in a virtual environment of its own.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from middleware_matrix import asset_folder, behind_each_middleware, hello_text

from stellina.staticfiles import StaticFiles

framework = FastAPI()


@framework.get("/{prefix}/hello", response_class=PlainTextResponse)
async def hello(prefix: str) -> str:
    return hello_text("fastapi")


@framework.get("/{prefix}/visits")
async def visits(prefix: str, request: Request) -> dict[str, int]:
    session = request.scope["session"]
    session["visits"] = session.get("visits", 0) + 1
    return {"visits": session["visits"]}


@framework.post("/{prefix}/size")
async def size(prefix: str, request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


# stellina's StaticFiles on FastAPI's router: precompressed siblings and Cache-Control.
framework.mount(
    "/assets",
    StaticFiles(
        directory=asset_folder(),
        precompressed=True,
        cache_control="public, max-age=60",
        immutable_pattern=r"\.[0-9a-f]{16}\.js$",
    ),
)

app = behind_each_middleware(framework)
