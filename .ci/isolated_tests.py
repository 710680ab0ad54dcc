"""Run each distribution's tests in a fresh virtual environment that holds only what it declares.

For every distribution with tests: build the wheels, create a venv with the distribution, the
stellina pieces it requires, its ``test`` dependency group (what its tests need beyond its own
dependencies, extras of its own included: ``stellina-http[multipart]``), and the test tools
(pytest, pytest-timeout, anyio[trio], trio, hypothesis at the ranges of hatch.toml's default
environment, and stellina-testclient, the TestClient every package's tests may use), then run
its tests from a copy beside the shared harness (the root conftest.py, testing/*.py and a
pytest.ini made from the root one). An import the distribution does not declare fails here.

    hatch run python .ci/isolated_tests.py [NAME ...] [--keep]

Prints one line per distribution and exits non-zero if any failed.
"""

from __future__ import annotations

import argparse
import configparser
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from monorepo import Distribution, closure, distributions, requirement_name  # noqa: E402

# The test tools, by name; their version ranges come from hatch.toml's default environment.
TOOLS = ("pytest", "pytest-timeout", "anyio", "trio", "hypothesis")
TEST_CLIENT = "stellina-testclient"
# What a distribution's tests need beyond its dependencies: its pyproject's dependency group.
TEST_GROUP = "test"
WORKERS = 2
TIMEOUT = 900
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")


@dataclass(frozen=True)
class Outcome:
    """How one distribution's isolated run went."""

    name: str
    ok: bool
    counts: dict[str, int]
    seconds: float
    log: str


def tool_requirements() -> list[str]:
    """The test tools' requirement strings, as hatch.toml's default environment has them."""
    config = tomllib.loads((ROOT / "hatch.toml").read_text(encoding="utf-8"))
    declared = config["envs"]["default"]["dependencies"]
    found = [r for r in declared if requirement_name(r) in TOOLS]
    missing = set(TOOLS) - {requirement_name(r) for r in found}
    if missing:
        raise SystemExit(f"hatch.toml's default environment lacks {sorted(missing)}")
    return found


def pytest_ini(where: Path) -> None:
    """The root pytest.ini, with the harness beside the tests and no repository test paths."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "pytest.ini", encoding="utf-8")
    config["pytest"]["pythonpath"] = "."
    config.remove_option("pytest", "testpaths")
    with (where / "pytest.ini").open("w", encoding="utf-8") as file:
        config.write(file)


def build_wheels(dists: list[Distribution], out: Path) -> dict[str, Path]:
    """Each distribution's wheel, built into ``out``."""
    out.mkdir()

    def one(dist: Distribution) -> tuple[str, Path]:
        target = out / dist.name
        command = [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(target)]
        done = subprocess.run(command, cwd=dist.folder, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{dist.name}: wheel build failed\n{done.stdout}{done.stderr}")
        return dist.name, next(target.glob("*.whl"))

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(pool.map(one, dists))


def install_command(venv: Path, requirements: list[str]) -> list[list[str]]:
    """The commands that create ``venv`` and install ``requirements`` into it (uv, else pip)."""
    python = str(venv / "bin" / "python")
    uv = shutil.which("uv")
    if uv:
        return [
            [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            [uv, "pip", "install", "--quiet", "--python", python, *requirements],
        ]
    return [
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", *requirements],
    ]


def run_one(
    dist: Distribution,
    dists: dict[str, Distribution],
    wheels: dict[str, Path],
    tools: list[str],
    where: Path,
) -> Outcome:
    """Install ``dist`` alone (with the test tools) into a fresh venv and run its tests."""
    started = time.monotonic()
    wanted = [dist.name, *dist.groups.get(TEST_GROUP, ()), TEST_CLIENT]
    pieces = closure(wanted, dists)
    requirements = [
        f"{name}[{','.join(sorted(extras))}] @ {wheels[name].as_uri()}"
        if extras
        else f"{name} @ {wheels[name].as_uri()}"
        for name, extras in pieces.items()
    ]
    requirements += [r for r in wanted if requirement_name(r) not in dists]
    log: list[str] = []
    for command in install_command(where / "venv", [*requirements, *tools]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            log.append(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
            return Outcome(dist.name, False, {}, time.monotonic() - started, "\n".join(log))
    python = where / "venv" / "bin" / "python"
    listed = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    installed = sorted({requirement_name(n) for n in listed if n.startswith("stellina")})
    if installed != list(pieces):
        message = f"stellina pieces installed {installed}, expected {pieces}"
        return Outcome(dist.name, False, {}, time.monotonic() - started, message)
    work = where / "work"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(dist.folder / "tests", work / "tests", ignore=skip)
    shutil.copy2(ROOT / "conftest.py", work)
    for helper in sorted((ROOT / "testing").glob("*.py")):
        shutil.copy2(helper, work)
    pytest_ini(work)
    try:
        done = subprocess.run(
            [str(python), "-m", "pytest", "-q", "tests"],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as expired:
        partial = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout
        output = f"timed out after {TIMEOUT} s\n{partial or ''}"
        return Outcome(dist.name, False, {}, time.monotonic() - started, output)
    output = done.stdout + done.stderr
    lines = output.strip().splitlines()
    counts = {kind: int(n) for n, kind in _COUNT.findall(lines[-1] if lines else "")}
    ok = done.returncode == 0 and counts.get("passed", 0) > 0
    return Outcome(dist.name, ok, counts, time.monotonic() - started, output)


def table(outcomes: list[Outcome]) -> str:
    """One line per distribution: result, test counts, seconds."""
    width = max(len(o.name) for o in outcomes)
    rows = [f"{'distribution':<{width}}  result  passed  failed  skipped  seconds"]
    for o in outcomes:
        failed = o.counts.get("failed", 0) + o.counts.get("error", 0) + o.counts.get("errors", 0)
        rows.append(
            f"{o.name:<{width}}  {'ok' if o.ok else 'FAILED':<6}  {o.counts.get('passed', 0):>6}"
            f"  {failed:>6}  {o.counts.get('skipped', 0):>7}  {o.seconds:>7.1f}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("names", nargs="*", help="distributions to test (default: every one)")
    parser.add_argument("--keep", action="store_true", help="keep the run folder and print it")
    args = parser.parse_args(argv)
    dists = distributions()
    unknown = [n for n in args.names if n not in dists]
    if unknown:
        parser.error(f"unknown distributions: {', '.join(unknown)}")
    chosen = [d for d in dists.values() if (not args.names or d.name in args.names)]
    tested = [d for d in chosen if any((d.folder / "tests").glob("test_*.py"))]
    tools = tool_requirements()
    run = Path(tempfile.mkdtemp(prefix="stellina-isolated-"))
    started = time.monotonic()
    try:
        wheels = build_wheels(list(dists.values()), run / "wheels")
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            outcomes = list(
                pool.map(lambda d: run_one(d, dists, wheels, tools, run / d.name), tested)
            )
    finally:
        if args.keep:
            print(f"run folder: {run}")
        else:
            shutil.rmtree(run, ignore_errors=True)
    for outcome in outcomes:
        if not outcome.ok:
            tail = "\n".join(outcome.log.strip().splitlines()[-80:])
            print(f"::: {outcome.name} FAILED\n{tail}\n")
    print(table(outcomes))
    untested = sorted(d.name for d in chosen if d not in tested)
    if untested:
        print(f"no tests: {', '.join(untested)}")
    failed = [o.name for o in outcomes if not o.ok]
    print(
        f"isolated tests: {len(outcomes) - len(failed)} of {len(outcomes)} distributions passed"
        f" in {time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
