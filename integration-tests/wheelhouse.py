"""Build the repository's wheels and install them into fresh virtual environments.

Not a test module: the integration tests import it after putting this folder on ``sys.path``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = sorted(
    p.parent for p in ROOT.glob("packages/**/pyproject.toml") if "tests" not in p.parts
)


@dataclass(frozen=True)
class Distribution:
    """A built wheel: its distribution name, project folder, the requirement names it
    declares and the files it ships outside ``.dist-info``."""

    name: str
    project: Path
    wheel: Path
    needs: frozenset[str]
    files: frozenset[str]

    @property
    def modules(self) -> tuple[str, ...]:
        """The importable modules the wheel ships, as dotted names."""
        return tuple(
            sorted(
                name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
                for name in self.files
                if name.endswith(".py")
            )
        )


def requirement_name(requirement: str) -> str:
    """The lower-cased distribution name a requirement string starts with."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower()


def project_name(project: Path) -> str:
    """The distribution name a project folder's pyproject.toml declares."""
    name: str = tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"]
    return name


def build(project: Path, out: Path) -> Distribution:
    """Build the project's wheel with hatchling into a folder of `out`."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    target = out / project.name
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(target)],
        cwd=project,
        check=True,
        capture_output=True,
    )
    wheel = next(target.glob(f"{meta['name'].replace('-', '_')}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        files = frozenset(name for name in archive.namelist() if ".dist-info/" not in name)
    needs = frozenset(requirement_name(r) for r in meta.get("dependencies", []))
    return Distribution(meta["name"], project, wheel, needs, files)


def build_all(projects: Iterable[Path], out: Path) -> dict[str, Distribution]:
    """Build every project's wheel (two at a time), keyed by distribution name."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = list(pool.map(lambda project: build(project, out), projects))
    return {dist.name: dist for dist in built}


def stellina_closure(name: str, distributions: dict[str, Distribution]) -> Iterator[Distribution]:
    """The distribution `name` and every stellina distribution it needs, transitively."""
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


def fresh_venv(where: Path, wheels: Iterable[Path], *extra: str) -> Path:
    """A new virtual environment holding `wheels` and the `extra` requirements; its python."""
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        + [str(wheel) for wheel in wheels]
        + list(extra),
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, f"pip install failed:\n{installed.stderr}"
    return python
