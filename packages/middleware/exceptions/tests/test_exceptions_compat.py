"""ExceptionMiddleware answers like Starlette 1.x for HTTP codes without a standard phrase."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stellina.exceptions import HTTPException
from stellina.middleware.exceptions import ExceptionMiddleware
from stellina.testclient import TestClient
from stellina.types import Message


@pytest.mark.parametrize("code", [442, 599])
def test_http_exception_with_unregistered_code_keeps_its_status(
    test_client_factory: Callable[..., TestClient], code: int
) -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        raise HTTPException(code, headers={"x-reason": "custom"})

    response = test_client_factory(ExceptionMiddleware(app)).get("/")
    assert response.status_code == code
    assert response.content == b""
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "0"
    assert response.headers["x-reason"] == "custom"
