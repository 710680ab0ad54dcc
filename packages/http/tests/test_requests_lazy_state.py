"""Request state kept lazily: per-instance once set, never shared between requests."""

from __future__ import annotations

import weakref
from typing import Any

import pytest
from stellina_testing import http_scope

from stellina.requests import Request
from stellina.types import Message


def make_scope(cookie: bytes = b"a=1") -> dict[str, Any]:
    return http_scope(
        method="POST",
        path="/p",
        query_string=b"q=1",
        headers=[(b"host", b"testserver"), (b"cookie", cookie)],
    )


def body_receive(body: bytes) -> Any:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


@pytest.mark.anyio
async def test_body_and_json_of_one_request_do_not_leak_into_another() -> None:
    first = Request(make_scope(), body_receive(b'{"n": 1}'))
    second = Request(make_scope(), body_receive(b'{"n": 2}'))
    assert await first.json() == {"n": 1}
    assert await second.body() == b'{"n": 2}'
    assert await second.json() == {"n": 2}
    assert await first.body() == b'{"n": 1}'


@pytest.mark.anyio
async def test_consumed_stream_is_per_request() -> None:
    first = Request(make_scope(), body_receive(b"one"))
    async for _ in first.stream():
        pass
    with pytest.raises(RuntimeError, match="Stream consumed"):
        await first.body()
    second = Request(make_scope(), body_receive(b"two"))
    assert await second.body() == b"two"


def test_cached_views_are_per_request() -> None:
    first = Request(make_scope(b"a=1"))
    second = Request(make_scope(b"a=2"))
    assert first.cookies == {"a": "1"}
    assert second.cookies == {"a": "2"}
    assert first.headers is first.headers
    assert first.headers is not second.headers
    assert first.url is first.url
    assert first.query_params is not second.query_params
    first.state.user = "ann"
    assert first.state.user == "ann"
    assert not hasattr(second.state, "user")


def test_requests_keep_user_attributes_and_weak_references() -> None:
    request = Request(make_scope())
    request.custom = 1  # type: ignore[attr-defined]
    assert request.custom == 1  # type: ignore[attr-defined]
    assert weakref.ref(request)() is request
