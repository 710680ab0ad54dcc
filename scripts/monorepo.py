"""The distributions of the monorepo, as the release scripts and CI see them.

Each ``packages/**/pyproject.toml`` is one distribution; its version is the
``__version__ = "X.Y.Z"`` line of the file named by ``[tool.hatch.version] path``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_LINE = re.compile(r'^__version__ = "(?P<version>[^"]+)"$', re.MULTILINE)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\s*\[([^\]]*)\]")


def normalize(name: str) -> str:
    """A distribution name in its canonical form (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_extras(requirement: str) -> tuple[str, ...]:
    """The extras a requirement string asks for: ``a[b, c]>=1`` gives ``("b", "c")``."""
    match = _EXTRAS.match(requirement.strip())
    return tuple(e.strip() for e in match.group(1).split(",") if e.strip()) if match else ()


def requirement_name(requirement: str) -> str:
    """The canonical distribution name a requirement string names."""
    match = _NAME.match(requirement.strip())
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return normalize(match.group(0))


@dataclass(frozen=True)
class Distribution:
    """One distribution: its name, folder, version file and requirements."""

    name: str
    folder: Path
    version_file: Path
    dependencies: tuple[str, ...]
    extras: dict[str, tuple[str, ...]]
    groups: dict[str, tuple[str, ...]]

    @property
    def pyproject(self) -> Path:
        return self.folder / "pyproject.toml"

    @property
    def version(self) -> str:
        """The version, read from the version file now."""
        found = VERSION_LINE.findall(self.version_file.read_text(encoding="utf-8"))
        if len(found) != 1:
            raise ValueError(f"{self.version_file}: expected one __version__ line, found {found}")
        return str(found[0])

    @property
    def requirements(self) -> tuple[str, ...]:
        """Every requirement: the dependencies, each extra's, then each dependency group's."""
        optional = [*self.extras.values(), *self.groups.values()]
        return self.dependencies + tuple(r for reqs in optional for r in reqs)


def load(folder: Path) -> Distribution:
    """The distribution whose ``pyproject.toml`` is in ``folder``."""
    data = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    if "version" not in project.get("dynamic", []):
        raise ValueError(f"{folder}: the version must be dynamic (RELEASING.md)")
    path = data["tool"]["hatch"]["version"]["path"]
    extras = project.get("optional-dependencies", {})
    groups = data.get("dependency-groups", {})
    return Distribution(
        name=normalize(project["name"]),
        folder=folder,
        version_file=folder / path,
        dependencies=tuple(project.get("dependencies", [])),
        extras={extra: tuple(reqs) for extra, reqs in extras.items()},
        # A group's {include-group = ...} entries name no distribution.
        groups={g: tuple(r for r in reqs if isinstance(r, str)) for g, reqs in groups.items()},
    )


def distributions(root: Path = ROOT) -> dict[str, Distribution]:
    """Every distribution under ``root/packages``, by canonical name, in name order."""
    found = [load(p.parent) for p in root.glob("packages/**/pyproject.toml")]
    return {d.name: d for d in sorted(found, key=lambda d: d.name)}


def find(which: str, root: Path = ROOT) -> Distribution:
    """The distribution named ``which`` (``stellina-http``) or in the folder ``which`` names."""
    dists = distributions(root)
    folder = (root / which).resolve()
    for dist in dists.values():
        if dist.folder.resolve() == folder:
            return dist
    if normalize(which) in dists:
        return dists[normalize(which)]
    raise ValueError(f"no distribution named or in {which!r}: {', '.join(dists)}")


def closure(requirements: Iterable[str], dists: dict[str, Distribution]) -> dict[str, set[str]]:
    """The distributions of ``dists`` that ``requirements`` bring in, transitively, by name.

    Each comes with the extras asked of it (``stellina-http[multipart]``), whose requirements
    count too; requirements on anything else are left out.
    """
    wanted: dict[str, set[str]] = {}
    done: set[tuple[str, tuple[str, ...]]] = set()
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name, extras = requirement_name(requirement), requirement_extras(requirement)
        if name not in dists or (name, extras) in done:
            continue
        done.add((name, extras))
        if name not in wanted:
            pending.extend(dists[name].dependencies)
        wanted.setdefault(name, set()).update(extras)
        pending.extend(r for extra in extras for r in dists[name].extras.get(extra, ()))
    return dict(sorted(wanted.items()))
