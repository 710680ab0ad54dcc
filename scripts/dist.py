"""Build every distribution's sdist and wheel into the root ``dist/``, and check them.

    python scripts/dist.py build [NAME ...]   # empties dist/, then sdist + wheel of each
    python scripts/dist.py check              # twine check --strict, versions, LICENSE

Each wheel is built from its sdist (``python -m build``), so both carry the root LICENSE, which
the sdist force-includes. Run it through ``hatch run release:build`` / ``release:check``, whose
environment has build, hatchling and twine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from monorepo import ROOT, Distribution, distributions, normalize


def artifact_stem(dist: Distribution) -> str:
    """``stellina_http-0.1.0``: the start of the distribution's file names."""
    return f"{dist.name.replace('-', '_')}-{dist.version}"


def select(names: Iterable[str], root: Path) -> list[Distribution]:
    """The distributions named (all of them when none is)."""
    dists = distributions(root)
    wanted = [normalize(n) for n in names] or list(dists)
    unknown = [n for n in wanted if n not in dists]
    if unknown:
        raise SystemExit(f"unknown distributions: {', '.join(unknown)}")
    return [dists[n] for n in wanted]


def build(dists: list[Distribution], out: Path) -> list[str]:
    """Build each sdist, then its wheel from it, into ``out``; the failures' messages."""
    out.mkdir(exist_ok=True)
    for stale in [*out.glob("*.whl"), *out.glob("*.tar.gz")]:
        stale.unlink()

    def one(dist: Distribution) -> str | None:
        command = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out)]
        done = subprocess.run(
            [*command, str(dist.folder)], capture_output=True, text=True, check=False
        )
        if done.returncode:
            return f"{dist.name}: build failed\n{done.stdout}{done.stderr}"
        print(f"built {artifact_stem(dist)}", flush=True)
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        return [message for message in pool.map(one, dists) if message]


def artifact_problems(dist: Distribution, out: Path) -> list[str]:
    """What is wrong with ``dist``'s sdist and wheel in ``out`` (missing, stale, no LICENSE)."""
    stem = artifact_stem(dist)
    sdist, wheel = out / f"{stem}.tar.gz", out / f"{stem}-py3-none-any.whl"
    problems = [f"{dist.name}: no {p.name}" for p in (sdist, wheel) if not p.is_file()]
    if problems:
        return problems
    with tarfile.open(sdist) as archive:
        if f"{stem}/LICENSE" not in archive.getnames():
            problems.append(f"{sdist.name}: no LICENSE")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        if f"{stem}.dist-info/licenses/LICENSE" not in names:
            problems.append(f"{wheel.name}: no .dist-info/licenses/LICENSE")
        allowed = ["stellina/", f"{stem}.dist-info/"]
        if dist.name == "stellina-asgi":  # its .pth names what to install for a missing piece
            allowed.append("stellina-install-hints.pth")
        if any(not n.startswith(tuple(allowed)) for n in names):
            problems.append(f"{wheel.name}: files outside stellina/")
    return problems


def check(dists: dict[str, Distribution], out: Path, names: list[str]) -> list[str]:
    """twine check --strict on ``out``'s files, then the artifacts of each distribution named.

    With no name, each distribution that has a file in ``out`` is checked.
    """
    files = sorted([*out.glob("*.whl"), *out.glob("*.tar.gz")])
    if not files:
        return [f"nothing to check in {out}: run the build first"]
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    problems = [f"twine check:\n{twine.stdout}{twine.stderr}"] if twine.returncode else []
    present = {f.name.split("-", 1)[0] for f in files}
    for dist in dists.values():
        if dist.name in names or (not names and dist.name.replace("-", "_") in present):
            problems.extend(artifact_problems(dist, out))
    known = {artifact_stem(d) for d in dists.values()}
    problems.extend(
        f"{f.name}: not a current distribution"
        for f in files
        if f.name.removesuffix(".tar.gz").removesuffix("-py3-none-any.whl") not in known
    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("names", nargs="*", help="distributions (default: every one)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    chosen = select(args.names, root)
    out = root / "dist"
    if args.command == "build":
        problems = build(chosen, out)
    else:
        problems = check(distributions(root), out, [d.name for d in chosen if args.names])
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{args.command}: ok ({len(list(out.iterdir()))} files in {out.name}/)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
