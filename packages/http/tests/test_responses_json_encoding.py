"""JSONResponse encoding: the once-built fast encoder must match json.dumps exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stellina.responses import JSONResponse


def reference(content: Any) -> bytes:
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8")


class Mapping(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    "content",
    [
        {"message": "Hello, world!"},
        'é \u2028 \x00 "quoted" \\ \n',
        [1, -2, 2.5, 1e300, True, False, None],
        {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
        (1, (2, 3)),
        Mapping(nested=[{"a": []}]),
        [[[[[[[[[[]]]]]]]]]],
    ],
)
def test_json_matches_json_dumps(content: Any) -> None:
    assert JSONResponse(content).body == reference(content)


def test_json_reports_circular_references_as_json_does() -> None:
    looped: list[Any] = []
    looped.append({"again": looped})
    with pytest.raises(ValueError, match="Circular reference detected"):
        JSONResponse(looped)


def test_json_deep_but_acyclic_content_fails_as_json_does() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(RecursionError):
        JSONResponse(deep)


def test_json_encoder_keeps_no_state_between_responses() -> None:
    shared = {"a": 1}
    looped: list[Any] = [shared]
    looped.append(looped)
    with pytest.raises(ValueError):
        JSONResponse(looped)
    # The same objects, acyclic this time, encode normally afterwards.
    assert JSONResponse([shared, shared]).body == b'[{"a":1},{"a":1}]'
