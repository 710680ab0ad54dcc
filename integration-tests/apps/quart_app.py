"""A Quart application behind each stellina middleware (see ``middleware_matrix``)."""

from __future__ import annotations

from typing import Any, cast

from middleware_matrix import behind_each_middleware, hello_text
from quart import Quart, request

from stellina.types import ASGIApp

framework = Quart(__name__)


@framework.get("/<prefix>/hello")
async def hello(prefix: str) -> tuple[str, dict[str, str]]:
    return hello_text("quart"), {"content-type": "text/plain; charset=utf-8"}


@framework.get("/<prefix>/visits")
async def visits(prefix: str) -> dict[str, int]:
    # The stellina session lives in the ASGI scope, which Quart exposes on the request.
    session: dict[str, Any] = cast("dict[str, Any]", request.scope)["session"]
    session["visits"] = session.get("visits", 0) + 1
    return {"visits": session["visits"]}


@framework.post("/<prefix>/size")
async def size(prefix: str) -> dict[str, int]:
    return {"size": len(await request.get_data())}


# Quart types the ASGI messages precisely; to the middleware they are plain mappings.
app = behind_each_middleware(cast(ASGIApp, framework))
