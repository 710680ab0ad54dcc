"""stellina.status built from http.HTTPStatus; WebSocketException kept in its args."""

from __future__ import annotations

import copy
import pickle
from http import HTTPStatus

import pytest

from stellina import status
from stellina.asgi import StellinaDeprecationWarning
from stellina.exceptions import ClientDisconnect, WebSocketException
from stellina.requests import ClientDisconnect as RequestsClientDisconnect


def test_every_http_status_has_a_constant_in_code_order() -> None:
    http_names = [name for name in status.__all__ if name.startswith("HTTP_")]
    codes = [getattr(status, name) for name in http_names]
    assert codes == sorted(codes)
    assert set(codes) == {member.value for member in HTTPStatus} | {306}
    for name, code in zip(http_names, codes, strict=True):
        assert name.startswith(f"HTTP_{code}_")


def test_websocket_close_codes() -> None:
    ws_names = [name for name in status.__all__ if name.startswith("WS_")]
    assert status.WS_1000_NORMAL_CLOSURE == 1000
    assert status.WS_1015_TLS_HANDSHAKE == 1015
    assert [getattr(status, name) for name in ws_names] == [
        1000,
        1001,
        1002,
        1003,
        1005,
        1006,
        1007,
        1008,
        1009,
        1010,
        1011,
        1012,
        1013,
        1014,
        1015,
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("HTTP_413_REQUEST_ENTITY_TOO_LARGE", "HTTP_413_CONTENT_TOO_LARGE"),
        ("HTTP_414_REQUEST_URI_TOO_LONG", "HTTP_414_URI_TOO_LONG"),
        ("HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE", "HTTP_416_RANGE_NOT_SATISFIABLE"),
        ("HTTP_422_UNPROCESSABLE_ENTITY", "HTTP_422_UNPROCESSABLE_CONTENT"),
    ],
)
def test_old_names_warn_once_and_give_the_new_value(old: str, new: str) -> None:
    with pytest.warns(StellinaDeprecationWarning) as record:
        assert getattr(status, old) == getattr(status, new)
    assert [str(warning.message) for warning in record] == [
        f"'{old}' is deprecated. Use '{new}' instead."
    ]
    assert old not in status.__all__


def test_websocket_exception_lives_in_its_args() -> None:
    exc = WebSocketException(1008)
    assert (exc.code, exc.reason, exc.args) == (1008, "", (1008, ""))
    assert str(exc) == "1008: "
    for other in (copy.copy(exc), pickle.loads(pickle.dumps(exc))):
        assert (other.code, other.reason) == (1008, "")

    class PolicyClose(WebSocketException):
        pass

    assert repr(PolicyClose(1008, reason="no")) == "PolicyClose(code=1008, reason='no')"


def test_client_disconnect_is_one_class_in_both_modules() -> None:
    assert RequestsClientDisconnect is ClientDisconnect
