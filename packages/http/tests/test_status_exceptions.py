"""stellina.status constants and stellina.exceptions."""

from __future__ import annotations

import http

import pytest

from stellina import status
from stellina.exceptions import HTTPException, WebSocketException


def test_every_http_constant_matches_its_code_and_name() -> None:
    names = [name for name in status.__all__ if name.startswith("HTTP_")]
    assert len(names) == 63
    for name in names:
        code = int(name.split("_")[1])
        assert getattr(status, name) == code
        assert code in {member.value for member in http.HTTPStatus} | {306}


def test_rfc9110_names() -> None:
    assert status.HTTP_413_CONTENT_TOO_LARGE == 413
    assert status.HTTP_414_URI_TOO_LONG == 414
    assert status.HTTP_416_RANGE_NOT_SATISFIABLE == 416
    assert status.HTTP_422_UNPROCESSABLE_CONTENT == 422
    assert status.HTTP_418_IM_A_TEAPOT == 418
    assert status.HTTP_306_RESERVED == 306


def test_every_websocket_constant() -> None:
    names = [name for name in status.__all__ if name.startswith("WS_")]
    assert len(names) == 15
    for name in names:
        assert getattr(status, name) == int(name.split("_")[1])
    assert not hasattr(status, "WS_1004_NO_STATUS_RCVD")


def test_all_names_exist() -> None:
    for name in status.__all__:
        assert isinstance(getattr(status, name), int)


def test_unknown_name_is_attribute_error() -> None:
    with pytest.raises(AttributeError, match="HTTP_999_NOPE"):
        _ = status.HTTP_999_NOPE  # type: ignore[attr-defined]


def test_http_exception_defaults_to_status_phrase() -> None:
    exc = HTTPException(404)
    assert exc.status_code == 404
    assert exc.detail == "Not Found"
    assert exc.headers is None
    assert str(exc) == "404: Not Found"
    assert repr(exc) == "HTTPException(status_code=404, detail='Not Found')"


def test_http_exception_detail_and_headers() -> None:
    exc = HTTPException(status_code=401, detail="who?", headers={"WWW-Authenticate": "Basic"})
    assert exc.detail == "who?"
    assert exc.headers == {"WWW-Authenticate": "Basic"}
    assert str(exc) == "401: who?"


def test_http_exception_repr_uses_subclass_name() -> None:
    class Teapot(HTTPException):
        pass

    assert repr(Teapot(418)) == 'Teapot(status_code=418, detail="I\'m a Teapot")'


def test_http_exception_unknown_code_without_detail() -> None:
    assert HTTPException(599).detail == ""
    assert HTTPException(599, detail="custom").detail == "custom"


def test_websocket_exception() -> None:
    exc = WebSocketException(1008)
    assert exc.code == 1008
    assert exc.reason == ""
    assert str(exc) == "1008: "
    assert repr(exc) == "WebSocketException(code=1008, reason='')"
    exc = WebSocketException(code=1011, reason="boom")
    assert str(exc) == "1011: boom"
    assert repr(exc) == "WebSocketException(code=1011, reason='boom')"


def test_exceptions_can_be_raised_and_caught() -> None:
    with pytest.raises(HTTPException) as info:
        raise HTTPException(status.HTTP_400_BAD_REQUEST)
    assert info.value.status_code == 400
