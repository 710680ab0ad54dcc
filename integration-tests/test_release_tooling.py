"""The release tooling (RELEASING.md): version bumps, changelog assembly, artifact checks, and
the release metadata every distribution's pyproject.toml must carry."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
REPO = "https://github.com/stellina-asgi/stellina"

PROJECTS = sorted(p.parent for p in ROOT.glob("packages/**/pyproject.toml"))


@pytest.fixture
def scripts(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    """The release scripts, imported as modules."""
    import importlib

    monkeypatch.syspath_prepend(str(SCRIPTS))
    return {name: importlib.import_module(name) for name in ("monorepo", "changelog", "dist")}


# --- a small workspace for the bumps -------------------------------------------------------

PYPROJECT = """\
[project]
name = "{name}"
dynamic = ["version"]
dependencies = [{deps}]
{extras}
[tool.hatch.version]
path = "src/stellina/{module}.py"
"""


def _piece(root: Path, folder: str, name: str, module: str, deps: str, extras: str = "") -> None:
    project = root / "packages" / folder
    (project / "src" / "stellina").mkdir(parents=True)
    text = PYPROJECT.format(name=name, deps=deps, extras=extras, module=module)
    (project / "pyproject.toml").write_text(text)
    (project / "src" / "stellina" / f"{module}.py").write_text(
        f'"""{name}."""\n\nfrom __future__ import annotations\n\n__version__ = "0.1.4"\n\nX = 1\n'
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """asgi <- http <- stellina, and httpsredirect, whose name starts with stellina-http."""
    _piece(tmp_path, "asgi", "stellina-asgi", "asgi", "")
    _piece(tmp_path, "http", "stellina-http", "requests", '"stellina-asgi~=0.1", "anyio>=4.4"')
    _piece(
        tmp_path,
        "middleware/httpsredirect",
        "stellina-httpsredirect",
        "httpsredirect",
        '"stellina-asgi~=0.1"',
    )
    extras = textwrap.dedent("""\
        [project.optional-dependencies]
        multipart = ["stellina-http[multipart]~=0.1"]
        full = [
          "stellina-http[multipart] ~= 0.1",
          'stellina-httpsredirect~=0.1',
        ]
        """)
    deps = '"stellina-http~=0.1", "stellina-httpsredirect~=0.1", "stellina_asgi~=0.1"'
    _piece(tmp_path, "stellina", "stellina", "applications", deps, extras)
    return tmp_path


def _bump(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "bump.py"), "--root", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.*"))}


def _version(root: Path, folder: str, module: str) -> str:
    text = (root / "packages" / folder / "src" / "stellina" / f"{module}.py").read_text()
    found = re.findall(r'^__version__ = "(.*)"$', text, re.MULTILINE)
    assert len(found) == 1
    return str(found[0])


def test_minor_bump_rewrites_the_version_and_every_range_on_the_piece(workspace: Path) -> None:
    before = _snapshot(workspace)
    done = _bump(workspace, "stellina-http", "minor")
    assert done.returncode == 0, done.stderr
    assert _version(workspace, "http", "requests") == "0.2.0"
    meta = (workspace / "packages/stellina/pyproject.toml").read_text()
    assert meta == before["packages/stellina/pyproject.toml"].replace(
        '"stellina-http~=0.1"', '"stellina-http~=0.2"'
    ).replace('"stellina-http[multipart]~=0.1"', '"stellina-http[multipart]~=0.2"').replace(
        '"stellina-http[multipart] ~= 0.1"', '"stellina-http[multipart] ~= 0.2"'
    )
    after = _snapshot(workspace)
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"packages/http/src/stellina/requests.py", "packages/stellina/pyproject.toml"}
    # Only the version line moved in the module.
    assert after["packages/http/src/stellina/requests.py"] == before[
        "packages/http/src/stellina/requests.py"
    ].replace('"0.1.4"', '"0.2.0"')
    assert "packages/stellina" in done.stdout


def test_patch_bump_leaves_the_ranges(workspace: Path) -> None:
    before = _snapshot(workspace)
    assert _bump(workspace, "packages/http", "patch").returncode == 0
    after = _snapshot(workspace)
    assert {name for name in after if after[name] != before[name]} == {
        "packages/http/src/stellina/requests.py"
    }
    assert _version(workspace, "http", "requests") == "0.1.5"


def test_major_and_explicit_bumps_of_a_piece_spelled_differently(workspace: Path) -> None:
    assert _bump(workspace, "stellina-asgi", "major").returncode == 0
    assert _version(workspace, "asgi", "asgi") == "1.0.0"
    texts = [p.read_text() for p in workspace.glob("packages/**/pyproject.toml")]
    assert sum(t.count("stellina-asgi~=1.0") for t in texts) == 2
    assert "stellina_asgi~=1.0" in (workspace / "packages/stellina/pyproject.toml").read_text()
    assert not any("asgi~=0.1" in t for t in texts)
    assert _bump(workspace, "stellina-httpsredirect", "0.3.0").returncode == 0
    assert _version(workspace, "middleware/httpsredirect", "httpsredirect") == "0.3.0"
    meta = (workspace / "packages/stellina/pyproject.toml").read_text()
    assert meta.count("stellina-httpsredirect~=0.3") == 2
    assert "stellina-http~=0.1" in meta


def test_dry_run_prints_the_diff_and_writes_nothing(workspace: Path) -> None:
    before = _snapshot(workspace)
    done = _bump(workspace, "stellina-http", "1.2.0", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert _snapshot(workspace) == before
    assert '-__version__ = "0.1.4"\n+__version__ = "1.2.0"' in done.stdout
    assert '+dependencies = ["stellina-http~=1.2",' in done.stdout
    assert "dry run" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stellina-http", "0.1.4"), "not after the current version"),
        (("stellina-http", "0.1.3"), "not after the current version"),
        (("stellina-http", "1.0"), "not a plain X.Y.Z version"),
        (("stellina-nope", "minor"), "no distribution named or in"),
    ],
)
def test_refused_bumps_change_nothing(workspace: Path, args: tuple[str, str], message: str) -> None:
    before = _snapshot(workspace)
    done = _bump(workspace, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert _snapshot(workspace) == before


def test_a_range_the_bump_cannot_rewrite_stops_it_before_any_write(workspace: Path) -> None:
    meta = workspace / "packages/stellina/pyproject.toml"
    meta.write_text(meta.read_text().replace('"stellina-http~=0.1"', '"stellina-http>=0.1"'))
    before = _snapshot(workspace)
    done = _bump(workspace, "stellina-http", "minor")
    assert done.returncode == 2
    assert "must read stellina-http~=X.Y" in done.stderr
    assert _snapshot(workspace) == before


def test_closure_follows_dependencies_and_the_extras_asked_for(
    workspace: Path, scripts: dict[str, ModuleType]
) -> None:
    monorepo = scripts["monorepo"]
    dists = monorepo.distributions(workspace)
    assert monorepo.closure(["stellina-http"], dists) == {
        "stellina-asgi": set(),
        "stellina-http": set(),
    }
    assert monorepo.closure(["stellina[full]", "anyio>=4"], dists) == {
        "stellina": {"full"},
        "stellina-asgi": set(),
        "stellina-http": {"multipart"},
        "stellina-httpsredirect": set(),
    }
    assert monorepo.requirement_extras("stellina-compress[brotli, zstd]~=0.1") == (
        "brotli",
        "zstd",
    )


# --- changelog assembly ----------------------------------------------------------------------

SECTION = "## 0.2.0 (2026-12-04)\n\n### Fixed\n\n- A fix. ([#12](x))\n\n\n"


def test_changelog_takes_in_the_unreleased_notes_under_the_new_title(
    scripts: dict[str, ModuleType],
) -> None:
    old = "# Changelog\n\n## Unreleased\n\n- By hand.\n  Continued.\n\n## 0.1.0\n\n- First.\n"
    assert scripts["changelog"].merge(old, SECTION, True) == (
        "# Changelog\n\n## 0.2.0 (2026-12-04)\n\n- By hand.\n  Continued.\n\n"
        "### Fixed\n\n- A fix. ([#12](x))\n\n## 0.1.0\n\n- First.\n"
    )


def test_changelog_without_unreleased_notes_or_file(scripts: dict[str, ModuleType]) -> None:
    merge = scripts["changelog"].merge
    old = "# Changelog\n\n## 0.1.0\n\n- First release.\n"
    assert merge(old, SECTION, True) == (
        "# Changelog\n\n## 0.2.0 (2026-12-04)\n\n### Fixed\n\n- A fix. ([#12](x))\n\n"
        "## 0.1.0\n\n- First release.\n"
    )
    assert merge("", SECTION, True).startswith("# Changelog\n\n## 0.2.0 (2026-12-04)\n\n### F")
    notes_only = merge("# Changelog\n\n## Unreleased\n\n- First release.\n", SECTION, False)
    assert notes_only == "# Changelog\n\n## 0.2.0 (2026-12-04)\n\n- First release.\n"


@pytest.mark.parametrize(
    ("old", "fragments", "message"),
    [
        ("# Changelog\n\n## 0.1.0\n\n- First.\n", False, "nothing to release"),
        ("# Changelog\n\n## Unreleased\n\n", False, "nothing to release"),
        ("# Changelog\n\n## 0.2.0\n\n- Again.\n", True, "already has a section for 0.2.0"),
    ],
)
def test_changelog_refusals(
    scripts: dict[str, ModuleType], old: str, fragments: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        scripts["changelog"].merge(old, SECTION, fragments)


# --- artifact checks ----------------------------------------------------------------------------


def _sdist(path: Path, members: list[str]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name in members:
            info = tarfile.TarInfo(name)
            info.size = 1
            archive.addfile(info, io.BytesIO(b"x"))


def _wheel(path: Path, members: list[str]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name in members:
            archive.writestr(name, "x")


def test_artifact_problems_name_a_missing_license_and_stray_files(
    workspace: Path, scripts: dict[str, ModuleType]
) -> None:
    dist = scripts["monorepo"].distributions(workspace)["stellina-http"]
    problems = scripts["dist"].artifact_problems
    out = workspace / "dist"
    out.mkdir()
    assert problems(dist, out) == [
        "stellina-http: no stellina_http-0.1.4.tar.gz",
        "stellina-http: no stellina_http-0.1.4-py3-none-any.whl",
    ]
    stem = "stellina_http-0.1.4"
    _sdist(out / f"{stem}.tar.gz", [f"{stem}/PKG-INFO", f"{stem}/LICENSE"])
    wheel = out / f"{stem}-py3-none-any.whl"
    _wheel(wheel, ["stellina/requests.py", f"{stem}.dist-info/licenses/LICENSE"])
    assert problems(dist, out) == []
    _sdist(out / f"{stem}.tar.gz", [f"{stem}/PKG-INFO"])
    _wheel(wheel, ["stellina/requests.py", "tests/test_x.py", f"{stem}.dist-info/METADATA"])
    assert problems(dist, out) == [
        f"{stem}.tar.gz: no LICENSE",
        f"{wheel.name}: no .dist-info/licenses/LICENSE",
        f"{wheel.name}: files outside stellina/",
    ]


# --- the metadata of the real distributions ----------------------------------------------------


def _meta(project: Path) -> dict[str, object]:
    data: dict[str, object] = tomllib.loads((project / "pyproject.toml").read_text())
    return data


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_version_lives_once_right_after_the_docstring(project: Path) -> None:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    assert data["project"]["dynamic"] == ["version"]
    assert "version" not in data["project"]
    module = project / data["tool"]["hatch"]["version"]["path"]
    body = ast.parse(module.read_text()).body
    assert isinstance(body[0], ast.Expr), f"{module} has no docstring"
    rest = body[1:]
    while rest and isinstance(rest[0], ast.ImportFrom) and rest[0].module == "__future__":
        rest = rest[1:]
    first = rest[0]
    assert isinstance(first, ast.Assign), f"{module}: __version__ is not the first statement"
    assert [t.id for t in first.targets if isinstance(t, ast.Name)] == ["__version__"]
    assert isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+", first.value.value)
    names = [
        t.id
        for n in body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    ]
    assert names.count("__version__") == 1, f"{module}: __version__ is assigned again"


def test_inter_piece_ranges_admit_the_current_versions(scripts: dict[str, ModuleType]) -> None:
    monorepo = scripts["monorepo"]
    dists = monorepo.distributions()
    pattern = re.compile(r"(?P<name>[a-z-]+)(\[[a-z,]+\])?~=(?P<major>\d+)\.(?P<minor>\d+)")
    for dist in dists.values():
        for requirement in dist.requirements:
            name = monorepo.requirement_name(requirement)
            if name not in dists or name == dist.name:  # a test group may name its own extras
                continue
            match = pattern.fullmatch(requirement.replace(" ", ""))
            assert match, f"{dist.name}: {requirement!r} is not a ~=X.Y range"
            major, minor, _ = (int(p) for p in dists[name].version.split("."))
            assert int(match["major"]) == major and int(match["minor"]) <= minor, requirement


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_full_metadata(project: Path) -> None:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    meta = data["project"]
    where = project.relative_to(ROOT).as_posix()
    assert meta["license"] == "BSD-3-Clause"
    assert meta["license-files"] == ["LICENSE"]
    assert meta["authors"] == [{"name": "the stellina developers"}]
    assert "stellina" in meta["keywords"] and "asgi" in meta["keywords"]
    for classifier in (
        "Typing :: Typed",
        "Framework :: AnyIO",
        "Framework :: AsyncIO",
        "Topic :: Internet :: WWW/HTTP",
        "Programming Language :: Python :: 3.11",
    ):
        assert classifier in meta["classifiers"]
    assert any(c.startswith("Development Status ::") for c in meta["classifiers"])
    # PEP 639: the license expression replaces the License classifiers (the index refuses both).
    assert not any(c.startswith("License ::") for c in meta["classifiers"])
    assert meta["urls"] == {
        "Homepage": REPO,
        "Source": f"{REPO}/tree/main/{where}",
        "Changelog": f"{REPO}/blob/main/{where}/CHANGELOG.md",
        "Issues": f"{REPO}/issues",
    }
    included = data["tool"]["hatch"]["build"]["targets"]["sdist"]["force-include"]
    assert {(project / src).resolve(): dst for src, dst in included.items()} == {
        ROOT / "LICENSE": "LICENSE"
    }
    assert (project / "changelog.d").is_dir()


def test_meta_package_brings_compress_and_csrf() -> None:
    meta = tomllib.loads((ROOT / "packages/stellina/pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    assert "stellina-compress~=0.1" in meta["dependencies"]
    assert "stellina-csrf~=0.1" in extras["itsdangerous"]
    assert extras["brotli"] == ["stellina-compress[brotli]~=0.1"]
    assert extras["zstd"] == ["stellina-compress[zstd]~=0.1"]
    assert {"stellina-csrf~=0.1", "stellina-compress[brotli,zstd]~=0.1"} <= set(extras["full"])


def test_root_license_is_bsd_3_clause() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License\n\nCopyright (c) 2026, the stellina developers\n")
    assert "Neither the name of the copyright holder" in text
