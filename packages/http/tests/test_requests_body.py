"""Request body: stream(), body(), json(), disconnects, is_disconnected, push and early hints."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from functools import partial

import anyio
import pytest
from stellina_testing import Recorder, http_scope

from stellina.requests import ClientDisconnect, Request
from stellina.types import Message

make_scope = partial(http_scope, method="POST")
"""The harness's scope, for a POST."""


class Receiver:
    """A receive channel replaying messages; counts calls; blocks forever when drained."""

    def __init__(self, messages: Iterable[Message]) -> None:
        self.messages = list(messages)
        self.calls = 0

    async def __call__(self) -> Message:
        self.calls += 1
        if self.messages:
            return self.messages.pop(0)
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover


def chunks(*parts: bytes) -> list[Message]:
    return [
        {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
        for index, part in enumerate(parts)
    ]


@pytest.mark.anyio
async def test_body_single_message_is_returned_without_copy() -> None:
    payload = b"x" * 100_000
    receive = Receiver(chunks(payload))
    request = Request(make_scope(), receive)
    body = await request.body()
    assert body is payload
    assert await request.body() is payload
    assert receive.calls == 1


@pytest.mark.anyio
async def test_body_many_messages() -> None:
    request = Request(make_scope(), Receiver(chunks(b"ab", b"", b"cd", b"e")))
    assert await request.body() == b"abcde"


@pytest.mark.anyio
async def test_body_last_message_empty() -> None:
    request = Request(make_scope(), Receiver(chunks(b"ab", b"cd", b"")))
    assert await request.body() == b"abcd"


@pytest.mark.anyio
async def test_body_missing_keys_and_bytearray() -> None:
    request = Request(make_scope(), Receiver([{"type": "http.request"}]))
    assert await request.body() == b""
    request = Request(make_scope(), Receiver(chunks(bytearray(b"raw"))))
    body = await request.body()
    assert body == b"raw"
    assert type(body) is bytes


@pytest.mark.anyio
async def test_body_ignores_unknown_messages() -> None:
    messages = [{"type": "http.something"}, *chunks(b"a", b"b")]
    request = Request(make_scope(), Receiver(messages))
    assert await request.body() == b"ab"


@pytest.mark.anyio
async def test_stream_yields_chunks_then_empty() -> None:
    request = Request(make_scope(), Receiver(chunks(b"ab", b"", b"cd")))
    assert [chunk async for chunk in request.stream()] == [b"ab", b"cd", b""]


@pytest.mark.anyio
async def test_stream_twice_raises() -> None:
    request = Request(make_scope(), Receiver(chunks(b"ab", b"cd")))
    assert b"".join([chunk async for chunk in request.stream()]) == b"abcd"
    with pytest.raises(RuntimeError, match="^Stream consumed$"):
        async for _ in request.stream():
            pass  # pragma: no cover
    with pytest.raises(RuntimeError, match="^Stream consumed$"):
        await request.body()


@pytest.mark.anyio
async def test_stream_after_body_replays_cached_body() -> None:
    request = Request(make_scope(), Receiver(chunks(b"ab", b"cd")))
    assert await request.body() == b"abcd"
    assert [chunk async for chunk in request.stream()] == [b"abcd", b""]
    assert [chunk async for chunk in request.stream()] == [b"abcd", b""]


@pytest.mark.anyio
async def test_partial_stream_can_be_resumed() -> None:
    request = Request(make_scope(), Receiver(chunks(b"ab", b"cd", b"ef")))
    stream = request.stream()
    assert await stream.__anext__() == b"ab"
    await stream.aclose()
    assert await request.body() == b"cdef"


@pytest.mark.anyio
async def test_disconnect_mid_body() -> None:
    messages = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.disconnect"},
    ]
    request = Request(make_scope(), Receiver(messages))
    with pytest.raises(ClientDisconnect):
        await request.body()
    assert await request.is_disconnected() is True


@pytest.mark.anyio
async def test_disconnect_mid_stream() -> None:
    messages = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.disconnect"},
    ]
    request = Request(make_scope(), Receiver(messages))
    stream = request.stream()
    assert await stream.__anext__() == b"ab"
    with pytest.raises(ClientDisconnect):
        await stream.__anext__()


@pytest.mark.anyio
async def test_json_is_parsed_once() -> None:
    receive = Receiver(chunks(b'{"a": [1, ', b'2], "b": "\xc3\xa9"}'))
    request = Request(make_scope(), receive)
    data = await request.json()
    assert data == {"a": [1, 2], "b": "\u00e9"}
    assert await request.json() is data
    assert receive.calls == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    "payload", [b"", b"{", b"{'a': 1}", b"[1, 2,]", b"nan-ish", b'"unterminated']
)
async def test_invalid_json_raises_decode_error(payload: bytes) -> None:
    request = Request(make_scope(), Receiver(chunks(payload)))
    with pytest.raises(json.JSONDecodeError):
        await request.json()


@pytest.mark.anyio
async def test_json_error_is_not_cached_as_success() -> None:
    request = Request(make_scope(), Receiver(chunks(b"{bad")))
    for _ in range(2):
        with pytest.raises(json.JSONDecodeError):
            await request.json()


@pytest.mark.anyio
async def test_default_receive_and_send_raise() -> None:
    request = Request(make_scope())
    with pytest.raises(RuntimeError, match="^Receive channel has not been made available$"):
        await request.body()
    request = Request(make_scope(extensions={"http.response.push": {}}))
    with pytest.raises(RuntimeError, match="^Send channel has not been made available$"):
        await request.send_push_promise("/style.css")


@pytest.mark.anyio
async def test_receive_property() -> None:
    receive = Receiver([])
    assert Request(make_scope(), receive).receive is receive


@pytest.mark.anyio
async def test_is_disconnected_does_not_block() -> None:
    receive = Receiver([])
    request = Request(make_scope(), receive)
    with anyio.fail_after(5):
        assert await request.is_disconnected() is False
    assert receive.calls == 1


@pytest.mark.anyio
async def test_is_disconnected_sees_disconnect_and_remembers() -> None:
    receive = Receiver([{"type": "http.disconnect"}])
    request = Request(make_scope(), receive)
    assert await request.is_disconnected() is True
    assert await request.is_disconnected() is True
    assert receive.calls == 1


@pytest.mark.anyio
async def test_send_push_promise_copies_selected_headers() -> None:
    peer = Recorder()
    headers = [
        (b"host", b"testserver"),
        (b"accept", b"text/html"),
        (b"cookie", b"secret=1"),
        (b"user-agent", b"ua"),
        (b"accept", b"*/*"),
    ]
    scope = make_scope(headers=headers, extensions={"http.response.push": {}})
    await Request(scope, Receiver([]), peer.send).send_push_promise("/style.css")
    assert peer.sent == [
        {
            "type": "http.response.push",
            "path": "/style.css",
            "headers": [(b"accept", b"text/html"), (b"user-agent", b"ua"), (b"accept", b"*/*")],
        }
    ]


@pytest.mark.anyio
async def test_send_push_promise_without_extension_does_nothing() -> None:
    peer = Recorder()
    await Request(make_scope(), Receiver([]), peer.send).send_push_promise("/style.css")
    await Request(make_scope(extensions={}), Receiver([]), peer.send).send_push_promise("/x")
    assert peer.sent == []


@pytest.mark.anyio
async def test_send_early_hints() -> None:
    peer = Recorder()
    scope = make_scope(extensions={"http.response.early_hint": {}})
    request = Request(scope, Receiver([]), peer.send)
    await request.send_early_hints("</a.css>; rel=preload; as=style", "</b.js>; rel=modulepreload")
    assert peer.sent == [
        {
            "type": "http.response.early_hint",
            "links": [b"</a.css>; rel=preload; as=style", b"</b.js>; rel=modulepreload"],
        }
    ]


@pytest.mark.anyio
async def test_send_early_hints_without_extension_does_nothing() -> None:
    peer = Recorder()
    await Request(make_scope(), Receiver([]), peer.send).send_early_hints("</a.css>; rel=preload")
    assert peer.sent == []


@pytest.mark.anyio
@pytest.mark.parametrize("bad", ["</a>\r\nSet-Cookie: x=1", "</a>\n", "</a>\x00"])
async def test_send_early_hints_rejects_header_injection(bad: str) -> None:
    peer = Recorder()
    request = Request(
        make_scope(extensions={"http.response.early_hint": {}}), Receiver([]), peer.send
    )
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        await request.send_early_hints("</ok>", bad)
    assert peer.sent == []


@pytest.mark.anyio
async def test_close_without_form_is_a_no_op() -> None:
    await Request(make_scope(), Receiver([])).close()


def test_send_early_hints_takes_links_by_position_only() -> None:
    parameters = inspect.signature(Request.send_early_hints).parameters.values()
    assert [(p.name, p.kind) for p in parameters] == [
        ("self", inspect.Parameter.POSITIONAL_ONLY),
        ("link", inspect.Parameter.POSITIONAL_ONLY),
        ("additional_links", inspect.Parameter.VAR_POSITIONAL),
    ]
