"""The app test_deploy.py runs in several processes: signed-cookie sessions and per-process state.

Settings come from the environment through `Config`: ``SECRET_KEY`` (required, the same in every
process that must share sessions) and ``ALLOWED_HOSTS`` (comma-separated Host names).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from stellina.applications import Stellina
from stellina.config import Config
from stellina.datastructures import CommaSeparatedStrings, Secret
from stellina.middleware import Middleware
from stellina.middleware.sessions import SessionMiddleware
from stellina.middleware.trustedhost import TrustedHostMiddleware
from stellina.requests import Request
from stellina.responses import JSONResponse
from stellina.routing import Route

config = Config()
SECRET_KEY = config("SECRET_KEY", cast=Secret)
ALLOWED_HOSTS = config("ALLOWED_HOSTS", cast=CommaSeparatedStrings, default="127.0.0.1,localhost")

# Counts the lifespan startups of this process: a server that ran the lifespan twice in one
# process would report 2.
_startups = itertools.count(1)


@asynccontextmanager
async def lifespan(app: Stellina) -> AsyncIterator[None]:
    app.state["startups"] = next(_startups)
    yield


async def whoami(request: Request) -> JSONResponse:
    """The process answering, its lifespan startups, and the client and scheme it was told."""
    client = request.client
    return JSONResponse(
        {
            "pid": os.getpid(),
            "startups": request.app.state["startups"],
            "client": None if client is None else client.host,
            "scheme": request.url.scheme,
        }
    )


async def visit(request: Request) -> JSONResponse:
    """Count the visits of this session and record which process served each one."""
    session = request.session
    session["visits"] = session.get("visits", 0) + 1
    session["pids"] = [*session.get("pids", []), os.getpid()]
    return JSONResponse(session)


app = Stellina(
    routes=[Route("/whoami", whoami), Route("/visit", visit)],
    middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=list(ALLOWED_HOSTS)),
        Middleware(SessionMiddleware, secret_key=SECRET_KEY),
    ],
    lifespan=lifespan,
)
