"""A debug-mode application whose only route fails, for the debug page in a real browser."""

from __future__ import annotations

from typing import NoReturn

from stellina.applications import Stellina
from stellina.requests import Request
from stellina.responses import Response
from stellina.routing import Route


class FrobnicatorJammed(RuntimeError):
    """The distinctive exception the debug page must show."""


def jam_the_frobnicator(gear: int) -> NoReturn:
    raise FrobnicatorJammed(f"gear {gear} slipped <loudly> & stuck")


async def explode(request: Request) -> Response:
    jam_the_frobnicator(int(request.query_params.get("gear", "42")))


app = Stellina(debug=True, routes=[Route("/explode", explode)])
