"""Routing details that must match Starlette 1.x: host names are matched case-insensitively."""

from __future__ import annotations

import re

import pytest
from stellina_testing import ClientFactory

from stellina.requests import Request
from stellina.responses import JSONResponse, PlainTextResponse, Response
from stellina.routing import Host, Route, Router, compile_path


def params(request: Request) -> Response:
    return JSONResponse(request.path_params)


@pytest.mark.parametrize(
    "host", ["api.example.com", "API.EXAMPLE.COM", "Api.Example.Com:8000", "api.EXAMPLE.com"]
)
def test_literal_host_matches_any_case(test_client_factory: ClientFactory, host: str) -> None:
    router = Router([Host("API.example.com", app=PlainTextResponse("api"))])
    response = test_client_factory(router).get("/", headers={"host": host})
    assert response.status_code == 200
    assert response.text == "api"


def test_host_parameters_are_captured_lowercase(test_client_factory: ClientFactory) -> None:
    router = Router([Host("{tenant}.example.org", app=Router([Route("/", params)]))])
    response = test_client_factory(router).get("/", headers={"host": "ACME.Example.ORG"})
    assert response.status_code == 200
    assert response.json() == {"tenant": "acme"}


def test_other_hosts_still_do_not_match(test_client_factory: ClientFactory) -> None:
    router = Router([Host("api.example.com", app=PlainTextResponse("api"))])
    response = test_client_factory(router).get("/", headers={"host": "API.example.net"})
    assert response.status_code == 404


def test_paths_stay_case_sensitive(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(Router([Route("/Path", params)]))
    assert client.get("/Path").status_code == 200
    assert client.get("/path").status_code == 404


def test_compile_path_flags() -> None:
    assert compile_path("{sub}.example.org")[0].flags & re.IGNORECASE
    assert not compile_path("/users/{id}")[0].flags & re.IGNORECASE
