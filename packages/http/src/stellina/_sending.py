"""How responses are sent: message types by scope, WebSocket denials, watching for disconnects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel

from stellina.types import Message, Receive, Scope, Send

__all__ = [
    "MESSAGE_TYPES",
    "denial_send",
    "send_raises_on_disconnect",
    "unless_disconnected",
    "wait_for_disconnect",
]

# The start and body message types of a response, by scope type (a WebSocket scope gets the
# denial response of the websocket.http.response extension).
MESSAGE_TYPES = {
    "http": ("http.response.start", "http.response.body"),
    "websocket": ("websocket.http.response.start", "websocket.http.response.body"),
}

_spec_raises_on_disconnect: dict[str, bool] = {}


def send_raises_on_disconnect(scope: Scope) -> bool:
    """Whether the server's ``send`` raises OSError once the client is gone (ASGI spec 2.4+)."""
    version: str = scope.get("asgi", {}).get("spec_version", "2.0")
    raises = _spec_raises_on_disconnect.get(version)
    if raises is None:
        raises = tuple(map(int, version.split("."))) >= (2, 4)
        if len(_spec_raises_on_disconnect) < 16:
            _spec_raises_on_disconnect[version] = raises
    return raises


def denial_send(send: Send) -> Send:
    """A ``send`` turning HTTP response messages into WebSocket denial response messages."""

    def send_denial(message: Message) -> Awaitable[None]:
        return send({**message, "type": "websocket." + message["type"]})

    return send_denial


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once the client disconnects.

    Each other message is followed by a checkpoint, so a ``receive`` that answers at once
    forever (a server bug, or a test double) cannot starve the response running beside it.
    """
    while (await receive())["type"] != "http.disconnect":
        await anyio.lowlevel.checkpoint()


async def unless_disconnected(
    receive: Receive,
    respond: Callable[[], Awaitable[None]],
    listen: Callable[[Receive], Awaitable[None]] = wait_for_disconnect,
) -> None:
    """Run ``respond``, cancelled if the client disconnects first (servers before ASGI 2.4)."""
    try:
        async with anyio.create_task_group() as group:

            async def respond_then_stop() -> None:
                await respond()
                group.cancel_scope.cancel()

            group.start_soon(respond_then_stop)
            await listen(receive)
            group.cancel_scope.cancel()
    except BaseExceptionGroup as group_error:
        errors = group_error.exceptions
        if len(errors) == 1:
            raise errors[0] from None
        raise
