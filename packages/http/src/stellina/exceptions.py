"""Exceptions that end an HTTP request or a WebSocket session with a given status."""

from __future__ import annotations

import http
from collections.abc import Mapping

__all__ = ["HTTPException", "WebSocketException"]


class HTTPException(Exception):
    """An error answered with `status_code`; `detail` defaults to the status phrase, or ""."""

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if detail is None:
            try:
                detail = http.HTTPStatus(status_code).phrase
            except ValueError:  # a code with no registered phrase
                detail = ""
        self.status_code = status_code
        self.detail = detail
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(status_code={self.status_code!r}, detail={self.detail!r})"


class WebSocketException(Exception):
    """A WebSocket session closed with `code` and an optional `reason`."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"
