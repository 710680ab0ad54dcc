"""The `max_body_size=` of routers, mounts and routes, on the shared `stellina.asgi.BodyLimit`."""

from __future__ import annotations

from stellina.asgi import (
    MAX_BODY_SIZE_SCOPE_KEY,
    BodyLimit,
    HTTPException,
    PlainText,
    TrackedSend,
    declared_length,
)
from stellina.types import ASGIApp, Receive, Scope, Send

__all__ = ["TOO_LARGE", "declared_too_large", "limiting", "with_limit"]

TOO_LARGE = PlainText(413, "Content Too Large")


def declared_too_large(scope: Scope) -> bool:
    """Whether the request declares a Content-Length above the limit that applies to it."""
    limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    if limit is None:
        return False
    declared = declared_length(scope)
    return declared is not None and declared > limit


async def answering_too_large(
    app: ASGIApp, limit: int | None, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run `app` with `limit` as the request's body limit, answering 413 when it is crossed.

    For an outermost layer (the application's, or a router's outside any application):
    once the body crosses the limit, the 413 raised by ``receive`` is answered here when
    the response has not started; otherwise it propagates.
    """
    tracked = TrackedSend(send)
    try:
        await app(scope, BodyLimit.apply(scope, receive, limit), tracked)
    except HTTPException as exc:
        limiter = BodyLimit.of(scope)
        if exc.status_code != 413 or limiter is None or not limiter.exceeded or tracked.started:
            raise
        await TOO_LARGE.send(send)


async def with_limit(
    app: ASGIApp, limit: int | None, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run `app` with `limit` as the request's body limit.

    Inside an application the 413 of a crossed limit propagates to its exception handling;
    outside one it is answered here.
    """
    if "app" in scope:
        await app(scope, BodyLimit.apply(scope, receive, limit), send)
    else:
        await answering_too_large(app, limit, scope, receive, send)


def limiting(app: ASGIApp, limit: int, *, answer: bool = False) -> ASGIApp:
    """A layer making `limit` the body limit of the HTTP requests it passes to `app`.

    With `answer`, the 413 of a crossed limit is always answered by the layer (for the
    application's own layer, which sits outside the user's middleware); otherwise only
    outside an application.
    """
    run = answering_too_large if answer else with_limit

    async def layer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await run(app, limit, scope, receive, send)
        else:
            await app(scope, receive, send)

    return layer
