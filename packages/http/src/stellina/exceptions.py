"""Exceptions that end an HTTP request or a WebSocket session with a given status."""

from __future__ import annotations

from stellina.asgi import HTTPException, StellinaDeprecationWarning

__all__ = [
    "ClientDisconnect",
    "HTTPException",
    "StellinaDeprecationWarning",
    "WebSocketException",
]


class ClientDisconnect(Exception):
    """The client went away before the request body was fully read."""


class WebSocketException(Exception):
    """Closes a WebSocket session with close ``code`` and an optional ``reason``.

    Both live in ``args``, so the exception pickles and copies as it was raised.
    """

    def __init__(self, code: int, reason: str | None = None) -> None:
        super().__init__(code, reason or "")

    @property
    def code(self) -> int:
        """The WebSocket close code."""
        code: int = self.args[0]
        return code

    @property
    def reason(self) -> str:
        """The close reason, ``""`` when none was given."""
        reason: str = self.args[1]
        return reason

    def __str__(self) -> str:
        code, reason = self.args
        return f"{code}: {reason}"

    def __repr__(self) -> str:
        code, reason = self.args
        return f"{type(self).__name__}(code={code!r}, reason={reason!r})"
