"""The missing-piece hints (``stellina._install_hints``) agree with the distributions in the
repository: every public module is listed under the distribution that ships it, and under the
extra of the meta-package that brings it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from stellina._install_hints import MODULES

ROOT = Path(__file__).resolve().parent.parent
BOTTOM = "stellina-asgi"  # ships the hints, so it is never missing


def _public_modules(project: Path) -> set[str]:
    src = project / "src"
    names = set()
    for path in (src / "stellina").rglob("*.py"):
        dotted = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        if not any(part.startswith("_") for part in dotted.split(".")):
            names.add(dotted)
    return names


def _distributions() -> dict[str, set[str]]:
    found = {}
    for pyproject in ROOT.glob("packages/**/pyproject.toml"):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        if name != BOTTOM:
            found[name] = _public_modules(pyproject.parent)
    return found


def test_every_public_module_is_listed_under_its_distribution() -> None:
    expected = {
        module: distribution
        for distribution, modules in _distributions().items()
        for module in modules
    }
    assert {module: dist for module, (dist, _) in MODULES.items()} == expected


def test_each_extra_is_the_meta_package_extra_that_brings_the_distribution() -> None:
    meta = tomllib.loads((ROOT / "packages/stellina/pyproject.toml").read_text())["project"]
    core = {re.match(r"[\w-]+", need).group(0) for need in meta["dependencies"]}  # type: ignore[union-attr]
    extras: dict[str, str] = {}
    for extra, needs in meta["optional-dependencies"].items():
        if extra != "full":
            for need in needs:
                extras.setdefault(re.match(r"[\w-]+", need).group(0), extra)  # type: ignore[union-attr]
    for module, (distribution, extra) in MODULES.items():
        if distribution == "stellina" or distribution in core:
            assert extra == "", module
        else:
            assert extras.get(distribution) == extra, module
