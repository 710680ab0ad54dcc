"""Exception handlers answering inside a route's or mount's own middleware, in a whole app."""

from __future__ import annotations

import pytest
from stellina_testing import ClientFactory

from stellina.applications import Stellina
from stellina.middleware import Middleware
from stellina.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Mount, Route


class Refused(Exception):
    pass


class Tagging(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-tag"] = "inner"
        return response


async def read_then_refuse(request: Request) -> Response:
    await request.body()
    raise Refused("no")


async def answer_with_the_body(request: Request, exc: Exception) -> Response:
    # The endpoint read the body already: the handler's Request gets it again, no waiting.
    return PlainTextResponse(b"refused: " + await request.body(), status_code=409)


@pytest.mark.parametrize(
    "routes",
    [
        [Route("/", read_then_refuse, methods=["POST"], middleware=[Middleware(Tagging)])],
        [
            Mount(
                "",
                routes=[Route("/", read_then_refuse, methods=["POST"])],
                middleware=[Middleware(Tagging)],
            )
        ],
    ],
    ids=["route", "mount"],
)
def test_handler_reads_the_body_the_endpoint_read_and_answers_through_inner_middleware(
    test_client_factory: ClientFactory, routes: list[Route | Mount]
) -> None:
    app = Stellina(routes=routes, exception_handlers={Refused: answer_with_the_body})
    response = test_client_factory(app).post("/", content=b"payload")
    assert (response.status_code, response.text) == (409, "refused: payload")
    assert response.headers["x-tag"] == "inner"


def test_a_handled_exception_leaves_without_its_traceback(
    test_client_factory: ClientFactory,
) -> None:
    error = Refused("again and again")

    async def raise_the_same(request: Request) -> Response:
        raise error

    async def answer(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("answered", status_code=409)

    route = Route("/", raise_the_same, middleware=[Middleware(Tagging)])
    client = test_client_factory(Stellina(routes=[route], exception_handlers={Refused: answer}))
    for _ in range(3):
        assert client.get("/").status_code == 409
    assert error.__traceback__ is None
