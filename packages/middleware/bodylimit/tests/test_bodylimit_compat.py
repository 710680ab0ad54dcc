"""The 413 answer is byte-for-byte the one Starlette 1.x sends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stellina_testing import ClientFactory

from stellina.middleware.body_limit import RequestBodyLimitMiddleware
from stellina.types import Receive, Scope, Send


async def drain(scope: Scope, receive: Receive, send: Send) -> None:
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def chunked(size: int) -> Iterator[bytes]:
    yield b"x" * size


@pytest.mark.parametrize("streamed", [False, True])
def test_too_large_response(test_client_factory: ClientFactory, streamed: bool) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(drain, max_body_size=10))
    response = client.post("/", content=chunked(11) if streamed else b"x" * 11)
    assert response.status_code == 413
    assert response.content == b"Content Too Large"
    assert sorted(response.headers.items()) == [
        ("content-length", "17"),
        ("content-type", "text/plain; charset=utf-8"),
    ]
    assert client.post("/", content=b"x" * 10).status_code == 204
