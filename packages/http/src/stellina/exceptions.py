"""Exceptions that end an HTTP request or a WebSocket session with a given status."""

from __future__ import annotations

from stellina.asgi import HTTPException, StellinaDeprecationWarning

__all__ = ["HTTPException", "StellinaDeprecationWarning", "WebSocketException"]


class WebSocketException(Exception):
    """A WebSocket session closed with `code` and an optional `reason`."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"
