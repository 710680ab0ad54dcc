"""Path convertors: matching, conversion, reverse formatting, registration."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from stellina_testing import ClientFactory

from stellina.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
    register_url_convertor,
)
from stellina.requests import Request
from stellina.responses import JSONResponse, Response
from stellina.routing import Route, Router


def test_builtin_table() -> None:
    assert set(CONVERTOR_TYPES) >= {"str", "path", "int", "float", "uuid"}
    assert isinstance(CONVERTOR_TYPES["int"], IntegerConvertor)


def test_string() -> None:
    convertor = StringConvertor()
    assert convertor.convert("abc") == "abc"
    assert convertor.to_string("abc") == "abc"
    with pytest.raises(AssertionError, match="May not contain path separators"):
        convertor.to_string("a/b")
    with pytest.raises(AssertionError, match="Must not be empty"):
        convertor.to_string("")


def test_path() -> None:
    convertor = PathConvertor()
    assert convertor.convert("a/../b") == "a/../b"
    assert convertor.to_string("a/b") == "a/b"


def test_integer() -> None:
    convertor = IntegerConvertor()
    assert convertor.convert("007") == 7
    assert convertor.to_string(12) == "12"
    with pytest.raises(AssertionError, match="Negative integers are not supported"):
        convertor.to_string(-1)


def test_float() -> None:
    convertor = FloatConvertor()
    assert convertor.convert("1.25") == 1.25
    assert convertor.to_string(1.5) == "1.5"
    assert convertor.to_string(2.0) == "2"
    assert convertor.to_string(0.1) == "0.10000000000000000555"
    with pytest.raises(AssertionError, match="Negative floats are not supported"):
        convertor.to_string(-0.5)
    with pytest.raises(AssertionError):  # NaN fails the sign check first, as in the reference
        convertor.to_string(math.nan)
    with pytest.raises(AssertionError, match="Infinite values are not supported"):
        convertor.to_string(math.inf)


def test_uuid() -> None:
    convertor = UUIDConvertor()
    value = uuid.UUID(int=255)
    assert convertor.convert(str(value).upper()) == value
    assert convertor.to_string(value) == str(value)


def test_base_class_is_abstract() -> None:
    convertor: Convertor[int] = Convertor()
    with pytest.raises(NotImplementedError):
        convertor.convert("1")
    with pytest.raises(NotImplementedError):
        convertor.to_string(1)


@pytest.fixture
def date_key() -> Iterator[str]:
    yield "date"
    CONVERTOR_TYPES.pop("date", None)


def test_custom_convertor(test_client_factory: ClientFactory, date_key: str) -> None:
    class DateConvertor(Convertor[date]):
        regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}"

        def convert(self, value: str) -> date:
            return date.fromisoformat(value)

        def to_string(self, value: date) -> str:
            return value.isoformat()

    register_url_convertor(date_key, DateConvertor())
    assert isinstance(CONVERTOR_TYPES["date"], DateConvertor)

    async def day(request: Request) -> Response:
        when = request.path_params["when"]
        assert isinstance(when, date)
        return JSONResponse(
            {"weekday": when.weekday(), "url": str(request.url_for("day", when=when))}
        )

    client = test_client_factory(Router([Route("/day/{when:date}", day)]))
    assert client.get("/day/2024-01-01").json() == {
        "weekday": 0,
        "url": "http://testserver/day/2024-01-01",
    }
    # Matches the regex but is not a date: a miss, not an error.
    assert client.get("/day/2024-13-45").status_code == 404


@pytest.mark.parametrize(
    "text",
    [
        "00000000-aaaa-ffff-9999-000000000000",
        "00000000AAAAFFFF9999000000000000",
        "00000000-AAAAffff-9999000000000000",
    ],
)
def test_uuid_in_every_spelling(test_client_factory: ClientFactory, text: str) -> None:
    def show(request: Request) -> Response:
        return JSONResponse(str(request.path_params["id"]))

    client = test_client_factory(Router([Route("/{id:uuid}", show)]))
    assert client.get(f"/{text}").json() == "00000000-aaaa-ffff-9999-000000000000"
    assert client.get(f"/{text}0").status_code == 404


def test_builtins_convert_without_a_method_frame() -> None:
    from stellina.routing._paths import conversions

    steps = dict(conversions(dict(CONVERTOR_TYPES)))
    assert "str" not in steps
    assert (steps["int"], steps["float"], steps["uuid"]) == (int, float, uuid.UUID)


def test_a_subclass_overriding_convert_keeps_its_method() -> None:
    class Doubled(IntegerConvertor):
        def convert(self, value: str) -> int:
            return 2 * int(value)

    from stellina.routing._paths import conversions

    ((name, step),) = conversions({"n": Doubled()})
    assert (name, step("21")) == ("n", 42)
