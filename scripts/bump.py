"""Bump one distribution's version and the ranges every other distribution requires it in.

    python scripts/bump.py stellina-http minor          # 0.1.3 -> 0.2.0
    python scripts/bump.py packages/http 0.2.0 --dry-run

The version is the ``__version__`` line of the distribution's version file. Every requirement on
it elsewhere (``stellina-http~=0.1``, ``stellina-http[multipart]~=0.1``, extras included) becomes
``~=MAJOR.MINOR`` of the new version; a patch bump leaves the ranges as they are.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from monorepo import ROOT, VERSION_LINE, Distribution, distributions, find, requirement_name

PARTS = ("major", "minor", "patch")
_PLAIN = re.compile(r"(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Edit:
    """A file's new text."""

    path: Path
    old: str
    new: str

    def diff(self, root: Path) -> str:
        name = self.path.relative_to(root).as_posix()
        lines = difflib.unified_diff(
            self.old.splitlines(keepends=True),
            self.new.splitlines(keepends=True),
            f"a/{name}",
            f"b/{name}",
        )
        return "".join(lines)


def parse(version: str) -> tuple[int, int, int]:
    """``"1.2.3"`` as ``(1, 2, 3)``; only plain ``X.Y.Z`` versions are released."""
    match = _PLAIN.fullmatch(version)
    if match is None:
        raise ValueError(f"not a plain X.Y.Z version: {version!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def next_version(current: str, how: str) -> str:
    """The version after ``current``: by part (major, minor, patch) or an explicit later one."""
    major, minor, patch = parse(current)
    if how == "major":
        return f"{major + 1}.0.0"
    if how == "minor":
        return f"{major}.{minor + 1}.0"
    if how == "patch":
        return f"{major}.{minor}.{patch + 1}"
    if parse(how) <= (major, minor, patch):
        raise ValueError(f"{how} is not after the current version {current}")
    return how


def compatible_range(version: str) -> str:
    """The range dependents require: ``~=MAJOR.MINOR``."""
    major, minor, _ = parse(version)
    return f"~={major}.{minor}"


def _requirement_pattern(name: str) -> re.Pattern[str]:
    """A quoted requirement on ``name`` with a ``~=`` range: name, extras, range, the rest."""
    spelled = re.escape(name).replace(r"\-", "[-_.]")
    extras, rest = r"\s*(?:\[[^\]]*\])?\s*", r"""(?P<tail>[^"']*["'])"""
    return re.compile(rf"""(?P<head>["'](?i:{spelled}){extras}~=\s*)[0-9][0-9.]*{rest}""")


def rewrite_ranges(text: str, dist: Distribution, target: str, version: str) -> str:
    """``text`` (``dist``'s pyproject) with every requirement on ``target`` at ``version``'s range.

    Fails when a requirement on ``target`` is not a ``~=`` range this can rewrite.
    """
    wanted = [r for r in dist.requirements if requirement_name(r) == target]
    new, count = _requirement_pattern(target).subn(
        lambda m: f"{m['head']}{compatible_range(version).removeprefix('~=')}{m['tail']}", text
    )
    if count != len(wanted):
        raise ValueError(
            f"{dist.pyproject}: requirements on {target} must read {target}~=X.Y: {wanted}"
        )
    return new


def plan(root: Path, which: str, how: str) -> tuple[Distribution, str, list[Edit]]:
    """The distribution named (or found in folder) ``which``, its new version, and the edits."""
    dists = distributions(root)
    dist = find(which, root)
    version = next_version(dist.version, how)
    edits: list[Edit] = []
    old = dist.version_file.read_text(encoding="utf-8")
    edits.append(Edit(dist.version_file, old, VERSION_LINE.sub(f'__version__ = "{version}"', old)))
    for other in dists.values():
        if other.name == dist.name:
            continue
        text = other.pyproject.read_text(encoding="utf-8")
        new = rewrite_ranges(text, other, dist.name, version)
        if new != text:
            edits.append(Edit(other.pyproject, text, new))
    return dist, version, edits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("distribution", help="a name (stellina-http) or a folder (packages/http)")
    parser.add_argument("version", help="major, minor, patch or an explicit X.Y.Z")
    parser.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        dist, version, edits = plan(root, args.distribution, args.version)
        old = dist.version
    except ValueError as error:
        print(f"bump: {error}", file=sys.stderr)
        return 2
    for edit in edits:
        if args.dry_run:
            print(edit.diff(root), end="")
        else:
            edit.path.write_text(edit.new, encoding="utf-8")
    dependents = sorted(e.path.parent.relative_to(root).as_posix() for e in edits[1:])
    dry = " (dry run: nothing written)" if args.dry_run else ""
    print(f"{dist.name}: {old} -> {version}{dry}")
    if dependents:
        required = f"{dist.name}{compatible_range(version)}"
        print(f"requirements now {required} in: {', '.join(dependents)}")
        print("each of those needs a changelog fragment and a release for the range to ship")
    return 0


if __name__ == "__main__":
    sys.exit(main())
