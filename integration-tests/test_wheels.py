"""Each distribution's wheel, installed alone into a fresh virtual environment, imports cleanly,
ships only its own files and, for the plain-ASGI middleware, works around a bare ASGI app; all
wheels installed together type-check a user's app under ``mypy --strict``.

A wheel is offered only the other stellina wheels it declares it needs (third-party requirements
come from the package index), so a piece that imports an undeclared stellina module fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wheelhouse import (
    PROJECTS,
    Distribution,
    build_all,
    fresh_venv,
    project_name,
    stellina_closure,
)

pytestmark = pytest.mark.slow

BOTTOM = "stellina-asgi"
# Files only the bottom distribution may ship; no wheel ships stellina/__init__.py (namespace).
BOTTOM_ONLY = {"stellina/py.typed", "stellina/middleware/__init__.py"}
# Beside the package: the .pth that names the distribution of a missing stellina module.
HINTS_PTH = "stellina-install-hints.pth"
# Middleware that must work around a bare ASGI app with no other stellina piece installed.
SMOKE = Path(__file__).resolve().parent / "bare_asgi_smoke.py"
SMOKE_CHECKED = {
    "stellina-compress",
    "stellina-csrf",
    "stellina-cors",
    "stellina-gzip",
    "stellina-trustedhost",
    "stellina-httpsredirect",
    "stellina-bodylimit",
    "stellina-errors",
    "stellina-sessions",
    "stellina-wsgi",
}


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Distribution]:
    return build_all(PROJECTS, tmp_path_factory.mktemp("wheels"))


def _source_files(project: Path) -> frozenset[str]:
    src = project / "src"
    return frozenset(
        path.relative_to(src).as_posix()
        for path in (src / "stellina").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def test_every_distribution_builds_and_ships_only_its_own_files(
    distributions: dict[str, Distribution],
) -> None:
    assert len(distributions) == len(PROJECTS), "two projects share a distribution name"
    owners: dict[str, str] = {}
    for dist in distributions.values():
        assert dist.modules, f"{dist.name} ships no module"
        own = dist.files - {HINTS_PTH} if dist.name == BOTTOM else dist.files
        assert own == _source_files(dist.project), f"{dist.name}: wheel != src/stellina"
        assert all(name.startswith("stellina/") for name in own), sorted(dist.files)
        assert "stellina/__init__.py" not in dist.files, f"{dist.name} breaks the namespace"
        for name in dist.files:
            assert name not in owners, f"{name} shipped by {owners.get(name)} and {dist.name}"
            owners[name] = dist.name
        if dist.name != BOTTOM:
            assert not dist.files & BOTTOM_ONLY, f"{dist.name} ships {dist.files & BOTTOM_ONLY}"
            assert BOTTOM in dist.needs, f"{dist.name} does not declare {BOTTOM}"
        undeclared = {n for n in dist.needs if n.startswith("stellina")} - set(distributions)
        assert not undeclared, f"{dist.name} needs stellina pieces not in this repository"
    assert distributions[BOTTOM].files >= BOTTOM_ONLY | {HINTS_PTH}
    assert distributions[BOTTOM].needs == frozenset()


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_wheel_alone_imports_its_modules(
    project: Path, distributions: dict[str, Distribution], tmp_path: Path
) -> None:
    name = project_name(project)
    dist = distributions[name]
    closure = list(stellina_closure(name, distributions))
    python = fresh_venv(tmp_path / "venv", [d.wheel for d in closure])
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
    assert stellina_installed == {d.name for d in closure}
    if name in SMOKE_CHECKED:
        smoke = subprocess.run(
            [str(python), str(SMOKE), name], capture_output=True, text=True, check=False
        )
        assert smoke.returncode == 0, smoke.stderr


def test_a_piece_left_out_names_what_to_install(
    distributions: dict[str, Distribution], tmp_path: Path
) -> None:
    # `pip install stellina` brings no test client: importing it says where it is.
    closure = list(stellina_closure("stellina", distributions))
    python = fresh_venv(tmp_path / "venv", [d.wheel for d in closure])
    script = "from stellina.testclient import TestClient"
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True)
    assert result.returncode == 1
    assert (
        "ModuleNotFoundError: No module named 'stellina.testclient': it is in the "
        "stellina-testclient distribution; install it with `pip install stellina-testclient` "
        '(or `pip install "stellina[httpx]"`)'
    ) in result.stderr


USER_APP = '''\
"""A user's app over the installed wheels, type-checked with mypy --strict."""

from stellina.applications import Stellina
from stellina.middleware import Middleware
from stellina.middleware.cors import CORSMiddleware
from stellina.middleware.gzip import GZipMiddleware
from stellina.middleware.sessions import SessionMiddleware
from stellina.middleware.trustedhost import TrustedHostMiddleware
from stellina.requests import Request
from stellina.responses import JSONResponse, PlainTextResponse, Response
from stellina.routing import Route, WebSocketRoute
from stellina.testclient import TestClient
from stellina.websockets import WebSocket


async def homepage(request: Request) -> Response:
    return PlainTextResponse("hello " + request.query_params.get("name", "world"))


async def user(request: Request) -> JSONResponse:
    visits: int = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    return JSONResponse({"id": request.path_params["id"], "visits": visits})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


app = Stellina(
    routes=[Route("/", homepage), Route("/users/{id:int}", user), WebSocketRoute("/ws", echo)],
    middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=["testserver"]),
        Middleware(CORSMiddleware, allow_origins=["https://example.org"]),
        Middleware(SessionMiddleware, secret_key="not-a-secret"),
        Middleware(GZipMiddleware, minimum_size=500),
    ],
)
app.state.greeting = "hello"  # any attribute type-checks, as on Starlette


def main() -> None:
    with TestClient(app) as client:
        assert app.state.greeting == "hello"
        assert client.get("/", params={"name": "ada"}).text == "hello ada"
        client.get("/users/7")
        assert client.get("/users/7").json() == {"id": 7, "visits": 2}
        with client.websocket_connect("/ws") as websocket:
            websocket.send_text("ping")
            assert websocket.receive_text() == "ping"


if __name__ == "__main__":
    main()
'''


def test_installed_wheels_type_check_a_user_app_strictly(
    distributions: dict[str, Distribution], tmp_path: Path
) -> None:
    python = fresh_venv(tmp_path / "venv", [d.wheel for d in distributions.values()], "mypy>=1.11")
    user = tmp_path / "user"
    user.mkdir()
    (user / "app.py").write_text(USER_APP)
    checked = subprocess.run(
        [str(python), "-m", "mypy", "--strict", "app.py"],
        cwd=user,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "py.typed" not in checked.stdout
    ran = subprocess.run(
        [str(python), "app.py"], cwd=user, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
