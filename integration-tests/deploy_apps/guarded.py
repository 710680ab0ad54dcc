"""A form behind CSRF protection, for the multi-process CSRF test of test_deploy.py.

``CSRF_SECRET`` (from the environment, through `Config`) must be the same in every process
that has to accept the tokens the others mint.
"""

from __future__ import annotations

import os

from stellina.applications import Stellina
from stellina.config import Config
from stellina.datastructures import Secret
from stellina.middleware import Middleware
from stellina.middleware.csrf import CSRFMiddleware
from stellina.requests import Request
from stellina.responses import PlainTextResponse
from stellina.routing import Route

config = Config()
CSRF_SECRET = config("CSRF_SECRET", cast=Secret)


async def form(request: Request) -> PlainTextResponse:
    return PlainTextResponse("form")


async def submit(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"accepted by {os.getpid()}")


app = Stellina(
    routes=[Route("/form", form), Route("/submit", submit, methods=["POST"])],
    middleware=[Middleware(CSRFMiddleware, str(CSRF_SECRET))],
)
