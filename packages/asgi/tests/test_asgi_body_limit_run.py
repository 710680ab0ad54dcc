"""Running an app under a body limit: `BodyLimit.run`, `limit_body`, `BodyLimit.declared_over`."""

from __future__ import annotations

import contextlib

import pytest
from stellina_testing import Recorder, http_scope, websocket_scope

from stellina.asgi import (
    CONTENT_TOO_LARGE,
    MAX_BODY_SIZE_SCOPE_KEY,
    BodyLimit,
    HTTPException,
    limit_body,
)
from stellina.types import ASGIApp, Receive, Scope, Send

TOO_LARGE_REPLY = list(CONTENT_TOO_LARGE.messages())


async def reads_everything(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"read"})


async def swallows_the_413(scope: Scope, receive: Receive, send: Send) -> None:
    with contextlib.suppress(HTTPException):
        await reads_everything(scope, receive, send)


async def starts_then_reads(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while (await receive()).get("more_body", False):
        pass


@pytest.mark.anyio
async def test_a_body_within_the_limit_reaches_the_app() -> None:
    recorder = Recorder.with_body(b"abc", b"de")
    await BodyLimit.run(reads_everything, 5, http_scope(), recorder.receive, recorder.send)
    assert (recorder.status, recorder.body) == (200, b"read")


@pytest.mark.anyio
@pytest.mark.parametrize("app", [reads_everything, swallows_the_413])
async def test_a_crossed_limit_is_answered_outside_an_application(app: ASGIApp) -> None:
    recorder = Recorder.with_body(b"abc", b"def")
    await BodyLimit.run(app, 5, http_scope(), recorder.receive, recorder.send)
    assert recorder.sent == TOO_LARGE_REPLY


@pytest.mark.anyio
async def test_inside_an_application_the_413_goes_to_its_exception_handling() -> None:
    recorder = Recorder.with_body(b"abc", b"def")
    scope = http_scope(app=object())
    with pytest.raises(HTTPException) as caught:
        await BodyLimit.run(reads_everything, 5, scope, recorder.receive, recorder.send)
    assert caught.value.status_code == 413
    assert recorder.sent == []


@pytest.mark.anyio
async def test_always_answer_answers_inside_an_application_too() -> None:
    recorder = Recorder.with_body(b"abc", b"def")
    scope = http_scope(app=object())
    await BodyLimit.run(
        reads_everything, 5, scope, recorder.receive, recorder.send, always_answer=True
    )
    assert recorder.sent == TOO_LARGE_REPLY


@pytest.mark.anyio
async def test_once_the_response_started_the_413_propagates() -> None:
    recorder = Recorder.with_body(b"abc", b"def")
    with pytest.raises(HTTPException):
        await BodyLimit.run(starts_then_reads, 5, http_scope(), recorder.receive, recorder.send)
    assert [message["type"] for message in recorder.sent] == ["http.response.start"]


@pytest.mark.anyio
async def test_another_http_exception_is_not_answered() -> None:
    async def forbidden(scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(403)

    recorder = Recorder.with_body(b"abc")
    with pytest.raises(HTTPException) as caught:
        await BodyLimit.run(forbidden, 5, http_scope(), recorder.receive, recorder.send)
    assert caught.value.status_code == 403
    assert recorder.sent == []


@pytest.mark.anyio
async def test_limit_body_layer_limits_http_and_passes_other_scopes() -> None:
    layer = limit_body(reads_everything, 2)
    recorder = Recorder.with_body(b"abc")
    await recorder.run(layer, http_scope())
    assert recorder.sent == TOO_LARGE_REPLY

    seen: list[Scope] = []

    async def websocket_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    scope = websocket_scope()
    await Recorder().run(limit_body(websocket_app, 2), scope)
    assert seen == [scope]
    assert MAX_BODY_SIZE_SCOPE_KEY not in scope


@pytest.mark.parametrize(
    ("limit", "content_length", "over"),
    [(None, b"100", False), (10, b"10", False), (10, b"11", True), (10, None, False)],
)
def test_declared_over(limit: int | None, content_length: bytes | None, over: bool) -> None:
    headers = [] if content_length is None else [(b"content-length", content_length)]
    scope = http_scope(headers=headers)
    if limit is not None:
        scope[MAX_BODY_SIZE_SCOPE_KEY] = limit
    assert BodyLimit.declared_over(scope) is over
