"""A missing stellina module names the distribution (and the extra) that ships it."""

from __future__ import annotations

import importlib
import sys

import pytest

from stellina import _install_hints
from stellina._install_hints import MissingPieceFinder, hint


def test_the_finder_is_last_on_the_meta_path() -> None:
    assert sys.meta_path[-1] is MissingPieceFinder
    _install_hints.install()  # again: still once
    assert sys.meta_path.count(MissingPieceFinder) == 1  # type: ignore[comparison-overlap]


def test_a_piece_brought_by_an_extra_names_both() -> None:
    assert hint("stellina.testclient") == (
        "No module named 'stellina.testclient': it is in the stellina-testclient distribution; "
        'install it with `pip install stellina-testclient` (or `pip install "stellina[httpx]"`)'
    )


def test_a_core_piece_names_its_distribution() -> None:
    assert hint("stellina.middleware.cors") == (
        "No module named 'stellina.middleware.cors': it is in the stellina-cors distribution; "
        "install it with `pip install stellina-cors`"
    )


def test_other_modules_get_no_hint() -> None:
    assert hint("stellina.nothing") is None
    assert hint("requests") is None


def test_importing_a_missing_piece_raises_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every real piece is installed here: pretend one more exists, uninstalled.
    monkeypatch.setitem(
        _install_hints.MODULES, "stellina.middleware.absent", ("stellina-absent", "")
    )
    with pytest.raises(ModuleNotFoundError, match="stellina-absent distribution") as info:
        importlib.import_module("stellina.middleware.absent")
    assert info.value.name == "stellina.middleware.absent"


def test_an_unknown_module_is_the_usual_error() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"^No module named 'stellina.nothing'$"):
        importlib.import_module("stellina.nothing")


def test_an_installed_piece_imports_as_usual() -> None:
    assert importlib.import_module("stellina.types").__name__ == "stellina.types"
