"""Each standalone stellina middleware around FastAPI, Django and Quart apps, served by uvicorn
and driven by httpx over TCP on 127.0.0.1 (``apps/middleware_matrix.py`` routes each path
prefix through one middleware).

FastAPI brings Starlette, which must stay out of the test environment: its app runs in a
fresh virtual environment holding the middleware wheels built from this repository, FastAPI
and uvicorn. Django and Quart run in the test environment itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import APPS, free_port, serve
from wheelhouse import PROJECTS, build_all, fresh_venv, project_name

sys.path.insert(0, str(APPS))
from middleware_matrix import ALLOWED_ORIGIN, ASSET, BODY_LIMIT, hello_text

pytestmark = pytest.mark.slow

FRAMEWORKS = ("django", "fastapi", "quart")
# The distributions apps/middleware_matrix.py imports, and the one they all need.
MIDDLEWARE_DISTRIBUTIONS = {
    "stellina-asgi",
    "stellina-bodylimit",
    "stellina-compress",
    "stellina-cors",
    "stellina-csrf",
    "stellina-gzip",
    "stellina-httpsredirect",
    "stellina-sessions",
    "stellina-trustedhost",
}


class Served(NamedTuple):
    framework: str
    address: str

    def client(self, cookies: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=f"http://{self.address}", cookies=cookies, timeout=10)

    @property
    def hello(self) -> str:
        return hello_text(self.framework)


# What the FastAPI app adds: stellina's StaticFiles mounted on FastAPI's router.
STATIC_DISTRIBUTIONS = {"stellina-http", "stellina-staticfiles"}


def _fastapi_python(where: Path) -> Path:
    wanted = MIDDLEWARE_DISTRIBUTIONS | STATIC_DISTRIBUTIONS
    projects = [p for p in PROJECTS if project_name(p) in wanted]
    built = build_all(projects, where / "wheels")
    assert set(built) == wanted
    wheels = [dist.wheel for dist in built.values()]
    # brotli: stellina-compress offers br only where it is installed.
    return fresh_venv(where / "venv", wheels, "fastapi", "uvicorn", "brotli")


@pytest.fixture(params=FRAMEWORKS, scope="module")
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    framework: str = request.param
    where = tmp_path_factory.mktemp(framework)
    port = free_port()
    args = ["-m", "uvicorn", f"{framework}_app:app", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--log-level", "warning"]
    if framework == "django":
        args += ["--lifespan", "off"]  # Django's ASGI handler refuses the lifespan scope
    python = _fastapi_python(where) if framework == "fastapi" else Path(sys.executable)
    with serve(args, port, where / "server.log", python=python, paths=[APPS]) as address:
        yield Served(framework, address)


def test_unwrapped_prefix_reaches_the_framework_untouched(served: Served) -> None:
    with served.client() as client:
        plain = client.get(
            "/plain/hello", headers={"origin": ALLOWED_ORIGIN, "accept-encoding": "gzip"}
        )
    assert (plain.status_code, plain.text) == (200, served.hello)
    assert "content-encoding" not in plain.headers
    assert "access-control-allow-origin" not in plain.headers


def test_cors(served: Served) -> None:
    with served.client() as client:
        allowed = client.get("/cors/hello", headers={"origin": ALLOWED_ORIGIN})
        assert (allowed.status_code, allowed.text) == (200, served.hello)
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        other = client.get("/cors/hello", headers={"origin": "https://evil.example"})
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers
        preflight = client.options(
            "/cors/hello",
            headers={"origin": ALLOWED_ORIGIN, "access-control-request-method": "GET"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert preflight.headers["access-control-allow-methods"] == "GET"
        refused = client.options(
            "/cors/hello",
            headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
        )
        assert refused.status_code == 400


def test_gzip(served: Served) -> None:
    with served.client() as client:
        compressed = client.get("/gzip/hello", headers={"accept-encoding": "gzip"})
        assert compressed.status_code == 200
        assert compressed.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in compressed.headers["vary"].lower()
        assert compressed.text == served.hello
        assert compressed.num_bytes_downloaded < len(served.hello) // 4
        identity = client.get("/gzip/hello", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in identity.headers
        assert identity.text == served.hello


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_compress(served: Served, coding: str) -> None:
    with served.client() as client:
        compressed = client.get("/compress/hello", headers={"accept-encoding": coding})
        assert compressed.status_code == 200
        assert compressed.headers["content-encoding"] == coding
        assert "accept-encoding" in compressed.headers["vary"].lower()
        assert compressed.text == served.hello
        assert compressed.num_bytes_downloaded < len(served.hello) // 4
        preferred = client.get("/compress/hello", headers={"accept-encoding": "gzip;q=0.5, br"})
        assert preferred.headers["content-encoding"] == "br"
        identity = client.get("/compress/hello", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in identity.headers
        assert identity.text == served.hello


def test_csrf(served: Served) -> None:
    with served.client() as client:
        page = client.get("/csrf/hello")
        assert page.text == served.hello
        token = page.cookies["csrftoken"]
        assert "samesite=lax" in page.headers["set-cookie"].lower()
        missing = client.post("/csrf/size", content=b"x" * 10)
        assert missing.status_code == 403
        sent = client.post("/csrf/size", content=b"x" * 10, headers={"x-csrftoken": token})
        assert sent.json() == {"size": 10}
        forged = client.post("/csrf/size", content=b"x", headers={"x-csrftoken": token + "x"})
        assert forged.status_code == 403
        cross_site = client.post(
            "/csrf/size",
            content=b"x",
            headers={"x-csrftoken": token, "origin": "https://evil.example"},
        )
        assert cross_site.status_code == 403
        # The token in a form field: the middleware reads the body, then replays it whole.
        form = client.post("/csrf/size", data={"csrf_token": token, "note": "y" * 100})
        assert form.json() == {"size": len(form.request.content)}
    with served.client() as stranger:
        assert stranger.post("/csrf/size", data={"csrf_token": token}).status_code == 403


def test_session_cookie_round_trips(served: Served) -> None:
    with served.client() as client:
        first = client.get("/sessions/visits")
        assert first.json() == {"visits": 1}
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("session=")
        assert "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        assert client.get("/sessions/visits").json() == {"visits": 2}
        assert client.get("/sessions/visits").json() == {"visits": 3}
    # A forged cookie is ignored: the visit count starts again.
    with served.client(cookies={"session": "eyJ2aXNpdHMiOiA5OX0=.forged.signature"}) as client:
        assert client.get("/sessions/visits").json() == {"visits": 1}


def test_trustedhost(served: Served) -> None:
    with served.client() as client:
        assert client.get("/trustedhost/hello").text == served.hello
        refused = client.get("/trustedhost/hello", headers={"host": "evil.example"})
        assert (refused.status_code, refused.text) == (400, "Invalid host header")


def test_httpsredirect(served: Served) -> None:
    with served.client() as client:
        moved = client.get("/httpsredirect/hello", params={"a": "1"})
    assert moved.status_code == 307
    assert moved.headers["location"] == f"https://{served.address}/httpsredirect/hello?a=1"


def test_body_limit(served: Served) -> None:
    with served.client() as client:
        small = client.post("/bodylimit/size", content=b"x" * BODY_LIMIT)
        assert small.json() == {"size": BODY_LIMIT}
        declared = client.post("/bodylimit/size", content=b"x" * (BODY_LIMIT + 1))
        assert (declared.status_code, declared.text) == (413, "Content Too Large")


def test_body_limit_counts_a_body_without_content_length(served: Served) -> None:
    # Under FastAPI the 413 raised from receive() reaches Starlette's ServerErrorMiddleware,
    # which starts a 500: the limit replaces that answer with its 413.
    with served.client() as client:
        streamed = client.post("/bodylimit/size", content=iter([b"x" * 600] * 2))
    assert (streamed.status_code, streamed.text) == (413, "Content Too Large")


def test_all_composed(served: Served) -> None:
    with served.client() as client:
        page = client.get(
            "/stack/hello", headers={"origin": ALLOWED_ORIGIN, "accept-encoding": "gzip"}
        )
        assert page.text == served.hello
        assert page.headers["content-encoding"] == "gzip"
        assert page.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert client.get("/stack/visits").json() == {"visits": 1}
        assert client.get("/stack/visits").json() == {"visits": 2}
        assert client.get("/stack/hello", headers={"host": "evil.example"}).status_code == 400
        too_big = client.post("/stack/size", content=b"x" * (BODY_LIMIT + 1))
        assert too_big.status_code == 413


def test_stellina_static_files_mounted_in_fastapi(served: Served) -> None:
    if served.framework != "fastapi":
        return  # the mount is FastAPI's own API; Django and Quart serve files their own way
    with served.client() as client:
        plain = client.get("/assets/app.js", headers={"accept-encoding": "identity"})
        compressed = client.get("/assets/app.js", headers={"accept-encoding": "gzip"})
        hashed = client.get("/assets/app.0123456789abcdef.js")
    assert (plain.status_code, plain.text) == (200, ASSET)
    assert "content-encoding" not in plain.headers
    assert plain.headers["cache-control"] == "public, max-age=60"
    # The .gz sibling, sent as such (httpx decodes it back).
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.headers["vary"] == "Accept-Encoding"
    assert compressed.text == ASSET
    assert compressed.headers["etag"] != plain.headers["etag"]
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
