"""HTTP status codes and WebSocket close codes as named integer constants.

``HTTP_<code>_<NAME>`` for every code of `http.HTTPStatus` (under its RFC 9110 name on every
Python version) plus 306, and ``WS_<code>_<NAME>`` for the WebSocket close codes.
"""

from __future__ import annotations

import warnings
from http import HTTPStatus

from stellina.asgi import StellinaDeprecationWarning

# Python before 3.13 names these codes as RFC 7231 did; RFC 9110 renamed them.
_RFC_9110_NAMES = {
    413: "CONTENT_TOO_LARGE",
    414: "URI_TOO_LONG",
    416: "RANGE_NOT_SATISFIABLE",
    422: "UNPROCESSABLE_CONTENT",
}
_RFC_7231_NAMES = {
    413: "REQUEST_ENTITY_TOO_LARGE",
    414: "REQUEST_URI_TOO_LONG",
    416: "REQUESTED_RANGE_NOT_SATISFIABLE",
    422: "UNPROCESSABLE_ENTITY",
}
# RFC 6455 section 7.4.1 and the IANA registry, in code order.
_WEBSOCKET_CLOSE = (
    "1000 NORMAL_CLOSURE, 1001 GOING_AWAY, 1002 PROTOCOL_ERROR, 1003 UNSUPPORTED_DATA, "
    "1005 NO_STATUS_RCVD, 1006 ABNORMAL_CLOSURE, 1007 INVALID_FRAME_PAYLOAD_DATA, "
    "1008 POLICY_VIOLATION, 1009 MESSAGE_TOO_BIG, 1010 MANDATORY_EXT, 1011 INTERNAL_ERROR, "
    "1012 SERVICE_RESTART, 1013 TRY_AGAIN_LATER, 1014 BAD_GATEWAY, 1015 TLS_HANDSHAKE"
)


def _constants() -> dict[str, int]:
    http_names = {status.value: status.name for status in HTTPStatus}
    http_names[306] = "RESERVED"  # unused since RFC 7231, still listed by IANA
    http_names.update(_RFC_9110_NAMES)
    constants = {f"HTTP_{code}_{http_names[code]}": code for code in sorted(http_names)}
    for entry in _WEBSOCKET_CLOSE.split(", "):
        code, name = entry.split(" ")
        constants[f"WS_{code}_{name}"] = int(code)
    return constants


globals().update(_constants())
__all__ = list(_constants())

_DEPRECATED = {
    f"HTTP_{code}_{old}": f"HTTP_{code}_{_RFC_9110_NAMES[code]}"
    for code, old in _RFC_7231_NAMES.items()
}


def __getattr__(name: str) -> int:
    """The pre-RFC 9110 names, with a deprecation warning naming the new one."""
    new_name = _DEPRECATED.get(name)
    if new_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"'{name}' is deprecated. Use '{new_name}' instead.",
        StellinaDeprecationWarning,
        stacklevel=2,
    )
    value: int = globals()[new_name]
    return value
