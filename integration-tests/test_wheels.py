"""Each distribution's wheel, installed alone into a fresh virtual environment, imports cleanly
and, for the plain-ASGI middleware, works around a bare ASGI app.

A wheel is offered only the other stellina wheels it declares it needs, so a piece that imports an
undeclared stellina module fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = sorted(p.parent for p in ROOT.glob("packages/**/pyproject.toml"))
# Middleware that must work around a bare ASGI app with no other stellina piece installed.
SMOKE = Path(__file__).resolve().parent / "bare_asgi_smoke.py"
SMOKE_CHECKED = {
    "stellina-cors",
    "stellina-gzip",
    "stellina-trustedhost",
    "stellina-httpsredirect",
    "stellina-bodylimit",
    "stellina-errors",
    "stellina-sessions",
    "stellina-wsgi",
}


@dataclass(frozen=True)
class Distribution:
    name: str
    wheel: Path
    needs: frozenset[str]
    modules: tuple[str, ...]


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower()


def _build(project: Path, out: Path) -> Distribution:
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=project,
        check=True,
        capture_output=True,
    )
    wheel = next(out.glob(f"{meta['name'].replace('-', '_')}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        modules = tuple(
            name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            for name in archive.namelist()
            if name.startswith("stellina/") and name.endswith(".py")
        )
    needs = frozenset(_requirement_name(r) for r in meta.get("dependencies", []))
    return Distribution(meta["name"], wheel, needs, modules)


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Distribution]:
    out = tmp_path_factory.mktemp("wheels")
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = list(pool.map(lambda project: _build(project, out), PROJECTS))
    return {dist.name: dist for dist in built}


def _stellina_closure(name: str, distributions: dict[str, Distribution]) -> Iterator[Distribution]:
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        dist = distributions[current]
        yield dist
        pending.extend(need for need in dist.needs if need in distributions)


def _install_alone(dist: Distribution, distributions: dict[str, Distribution], where: Path) -> Path:
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    wheels = [str(d.wheel) for d in _stellina_closure(dist.name, distributions)]
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *wheels],
        check=True,
        capture_output=True,
    )
    return python


def test_every_distribution_builds(distributions: dict[str, Distribution]) -> None:
    assert len(distributions) == len(PROJECTS)
    for dist in distributions.values():
        assert dist.modules, f"{dist.name} ships no module"
    shipped = [module for dist in distributions.values() for module in dist.modules]
    assert len(shipped) == len(set(shipped)), "two wheels ship the same module"
    assert "stellina" not in shipped, "no wheel may ship stellina/__init__.py"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_wheel_alone_imports_its_modules(
    project: Path, distributions: dict[str, Distribution], tmp_path: Path
) -> None:
    name = tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"]
    dist = distributions[name]
    python = _install_alone(dist, distributions, tmp_path / "venv")
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    result = subprocess.run(
        [str(python), "-c", script, *dist.modules], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stellina_installed = {
        line.split("==")[0].lower() for line in installed.splitlines() if "stellina" in line
    }
    expected = {d.name for d in _stellina_closure(name, distributions)}
    assert stellina_installed == expected
    if name in SMOKE_CHECKED:
        smoke = subprocess.run(
            [str(python), str(SMOKE), name], capture_output=True, text=True, check=False
        )
        assert smoke.returncode == 0, smoke.stderr
