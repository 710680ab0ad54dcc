"""AuthenticationMiddleware with a header backend, against Starlette and bare."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from benchlib import OK

hello = OK


def build(impl: str) -> Any:
    if impl == "bare":
        return hello
    authentication = importlib.import_module(f"{impl}.authentication")
    middleware = importlib.import_module(f"{impl}.middleware.authentication")

    class TokenBackend(authentication.AuthenticationBackend):  # type: ignore[misc, name-defined]
        async def authenticate(self, conn: Any) -> Any:
            token = conn.headers.get("authorization")
            if token is None:
                return None
            return authentication.AuthCredentials(["user"]), authentication.SimpleUser(token)

    request_class = importlib.import_module(f"{impl}.requests").Request

    @authentication.requires("user")  # type: ignore[untyped-decorator]
    async def endpoint(request: Any) -> Any:
        return request

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await endpoint(request_class(scope, receive, send))
        await hello(scope, receive, send)

    return middleware.AuthenticationMiddleware(app, backend=TokenBackend())


@pytest.mark.parametrize("impl", ["bare", "stellina", "starlette"])
def test_auth_requires(benchmark: Any, driver: Any, make_scope: Any, impl: str) -> None:
    benchmark.group = "AuthenticationMiddleware + requires"
    app = build(impl)
    scope = make_scope("/", headers=[(b"authorization", b"ada")])
    assert driver.call(app, scope)[1]["body"] == b"ok"
    benchmark(driver.call, app, scope)
