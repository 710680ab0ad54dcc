"""The request body limit shared through the scope: `BodyLimit` and `declared_length`."""

from __future__ import annotations

import pytest
from stellina_testing import Recorder, http_scope, read_body

from stellina.asgi import MAX_BODY_SIZE_SCOPE_KEY, BodyLimit, HTTPException, declared_length


@pytest.mark.anyio
async def test_body_within_the_limit() -> None:
    scope = http_scope()
    receive = BodyLimit.apply(scope, Recorder.with_body(b"abc", b"de").receive, 5)
    assert await read_body(receive) == b"abcde"
    limiter = BodyLimit.of(scope)
    assert limiter is receive
    assert limiter is not None
    assert (limiter.received, limiter.exceeded) == (5, False)
    assert scope[MAX_BODY_SIZE_SCOPE_KEY] == 5


@pytest.mark.anyio
async def test_crossing_the_limit_raises_413_and_keeps_raising() -> None:
    scope = http_scope()
    source = Recorder.with_body(b"abc", b"def", b"ghi")
    receive = BodyLimit.apply(scope, source.receive, 5)
    await receive()
    with pytest.raises(HTTPException) as caught:
        await receive()
    assert (caught.value.status_code, caught.value.detail) == (413, "Content Too Large")
    with pytest.raises(HTTPException):
        await receive()
    assert len(source.incoming) == 1  # nothing more was read from the server
    limiter = BodyLimit.of(scope)
    assert limiter is not None
    assert limiter.exceeded


@pytest.mark.anyio
async def test_no_limit_counts_without_refusing() -> None:
    scope = http_scope()
    receive = BodyLimit.apply(scope, Recorder.with_body(b"x" * 10_000).receive, None)
    assert len(await read_body(receive)) == 10_000
    assert scope[MAX_BODY_SIZE_SCOPE_KEY] is None


@pytest.mark.anyio
async def test_inner_layers_change_the_limit_of_the_same_counter() -> None:
    scope = http_scope()
    outer = BodyLimit.apply(scope, Recorder.with_body(b"12345678").receive, 5)
    copied = dict(scope)  # middleware may pass a shallow copy on
    inner = BodyLimit.apply(copied, outer, 10)
    assert inner is outer  # the counter is reused, not stacked
    assert await read_body(inner) == b"12345678"
    assert copied[MAX_BODY_SIZE_SCOPE_KEY] == 10


@pytest.mark.anyio
async def test_lowering_below_what_was_read_raises_at_once() -> None:
    scope = http_scope()
    receive = BodyLimit.apply(scope, Recorder.with_body(b"123456").receive, 10)
    await read_body(receive)
    with pytest.raises(HTTPException) as caught:
        BodyLimit.apply(scope, receive, 5)
    assert caught.value.status_code == 413


@pytest.mark.anyio
async def test_other_messages_pass_through_uncounted() -> None:
    scope = http_scope()
    disconnect = {"type": "http.disconnect", "body": b"ignored"}
    receive = BodyLimit.apply(scope, Recorder(last=disconnect).receive, 0)
    assert await receive() is disconnect
    assert BodyLimit.of(http_scope()) is None


@pytest.mark.parametrize(
    ("value", "length"),
    [
        (None, None),
        (b"0", 0),
        (b"42", 42),
        (b" 42 ", 42),
        (b"-1", None),
        (b"4 2", None),
        (b"0x10", None),
        (b"", None),
        (b"\xd9\xa1", None),  # an Arabic-Indic digit is not a length
        (b"9" * 5000, 10**18),
    ],
)
def test_declared_length(value: bytes | None, length: int | None) -> None:
    headers = [] if value is None else [(b"content-length", value)]
    assert declared_length(http_scope(headers=headers)) == length
