"""Which Session operations count as a change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stellina.middleware.sessions import Session

OPERATIONS: dict[str, tuple[Callable[[Session], Any], bool]] = {
    "read": (lambda s: (s["a"], s.get("b"), "a" in s, len(s), list(s), s.items()), False),
    "setitem": (lambda s: s.__setitem__("a", 1), True),
    "delitem": (lambda s: s.__delitem__("a"), True),
    "clear": (lambda s: s.clear(), True),
    "pop": (lambda s: s.pop("a"), True),
    "pop missing": (lambda s: s.pop("missing", None), False),
    "popitem": (lambda s: s.popitem(), True),
    "setdefault new": (lambda s: s.setdefault("b", 2), True),
    "setdefault existing": (lambda s: s.setdefault("a", 2), False),
    "update": (lambda s: s.update(), True),
    "ior": (lambda s: s.__ior__({"b": 2}), True),
}


@pytest.mark.parametrize("name", OPERATIONS)
def test_operations(name: str) -> None:
    operation, modifies = OPERATIONS[name]
    session = Session({"a": 1})
    assert not session.accessed
    assert not session.modified
    operation(session)
    assert session.modified is modifies
    assert session.accessed is modifies


def test_failed_operations_on_empty_session() -> None:
    session = Session()
    with pytest.raises(KeyError):
        session.popitem()
    with pytest.raises(KeyError):
        session.pop("a")
    assert not session.modified
    session.mark_accessed()
    assert session.accessed
    assert not session.modified
    merged = session
    merged |= {"a": 1}
    assert merged is session
    assert session == {"a": 1}
    assert session.modified
