"""Assemble one distribution's changelog fragments into its CHANGELOG.md, at its current version.

    python scripts/changelog.py stellina-http --draft   # print the new section, change nothing
    python scripts/changelog.py stellina-http           # write it, remove the fragments

towncrier renders the fragments of ``changelog.d/`` (root ``towncrier.toml``); the section goes
right under the file's title. Notes written by hand under a ``## Unreleased`` heading open the
new section, and that heading goes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from monorepo import ROOT, Distribution, find

UNRELEASED = "## Unreleased"


def fragments(dist: Distribution) -> list[Path]:
    """The fragment files waiting in the distribution's ``changelog.d/``."""
    folder = dist.folder / "changelog.d"
    return sorted(p for p in folder.glob("*") if p.is_file() and p.name != ".gitkeep")


def render(dist: Distribution, root: Path) -> str:
    """towncrier's section for the fragments: a ``## X.Y.Z (date)`` title, then its types."""
    command = [sys.executable, "-m", "towncrier", "build", "--draft", "--version", dist.version]
    where = ["--config", str(root / "towncrier.toml"), "--dir", str(dist.folder)]
    done = subprocess.run([*command, *where], capture_output=True, text=True, check=False)
    if done.returncode:
        raise ValueError(f"towncrier failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip() + "\n"


def merge(changelog: str, section: str, has_fragments: bool) -> str:
    """``changelog`` with ``section`` under its title, taking in its ``## Unreleased`` notes.

    ``section`` is towncrier's: its first line is the release title. Without fragments only
    that title is kept, over the hand-written notes (and there must be some).
    """
    lines = changelog.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    head, rest = lines[:first], lines[first:]
    notes: list[str] = []
    if rest and rest[0].strip() == UNRELEASED:
        end = next((i for i, line in enumerate(rest[1:], 1) if line.startswith("## ")), len(rest))
        notes, rest = rest[1:end], rest[end:]
    title, _, body = section.partition("\n")
    version = title.split()[1]
    if any(line.startswith("## ") and line.split()[1:2] == [version] for line in rest):
        raise ValueError(f"the changelog already has a section for {version}")
    hand = "\n".join(notes).strip()
    if not hand and not has_fragments:
        raise ValueError("nothing to release: no fragment in changelog.d/ and no Unreleased notes")
    parts = [
        "\n".join(head).strip() or "# Changelog",
        title,
        hand,
        body.strip() if has_fragments else "",
        "\n".join(rest).strip(),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("distribution", help="a name (stellina-http) or a folder (packages/http)")
    parser.add_argument("--draft", action="store_true", help="print the result, change nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        dist = find(args.distribution, root)
        waiting = fragments(dist)
        path = dist.folder / "CHANGELOG.md"
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        new = merge(old, render(dist, root), bool(waiting))
    except ValueError as error:
        print(f"changelog: {error}", file=sys.stderr)
        return 2
    if args.draft:
        print(new, end="")
        return 0
    path.write_text(new, encoding="utf-8")
    for fragment in waiting:
        fragment.unlink()
    print(f"{path.relative_to(root)}: {dist.version}, {len(waiting)} fragment(s) taken in")
    return 0


if __name__ == "__main__":
    sys.exit(main())
