"""StaticFiles (small and large files, pathsend, 304) and a template render, against Starlette."""

from __future__ import annotations

import gzip
import importlib
import os
from pathlib import Path
from typing import Any

import pytest
from benchlib import KIB, MIB, body_size

IMPLS = ("stellina", "starlette")
SMALL = bytes(range(256)) * 4  # 1 KiB
LARGE_SIZE = 10 * 1024 * 1024
# Text that compresses as scripts do, and a browser's Accept-Encoding: zstd and br are looked
# for (absent) before the gzip sibling is found.
SCRIPT_LINE = b"export function greet(name) { return `hello ${name}`; } // 0123456789\n"
BROWSER_ACCEPT = (b"accept-encoding", b"gzip, deflate, br, zstd")


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("static")
    (root / "assets").mkdir()
    (root / "assets" / "small.js").write_bytes(SMALL)
    (root / "assets" / "large.bin").write_bytes(b"\x5a" * LARGE_SIZE)
    (root / "assets" / "404.html").write_text("<h1>not here</h1>")
    (root / "assets" / "docs").mkdir()
    (root / "assets" / "docs" / "index.html").write_text("<h1>docs</h1>")
    (root / "pre").mkdir()
    for name, size in (("1k.js", KIB), ("1m.js", MIB)):
        original = root / "pre" / name
        original.write_bytes((SCRIPT_LINE * (size // len(SCRIPT_LINE) + 1))[:size])
        sibling = root / "pre" / f"{name}.gz"
        sibling.write_bytes(gzip.compress(original.read_bytes(), mtime=0))
        os.utime(original, (1_700_000_000, 1_700_000_000))
    (root / "templates").mkdir()
    (root / "templates" / "page.html").write_text(
        "<html><head><title>{{ title }}</title></head><body><ul>"
        "{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul></body></html>"
    )
    return root


def static_app(impl: str, directory: Path) -> Any:
    return importlib.import_module(f"{impl}.staticfiles").StaticFiles(directory=directory)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("pathsend", [False, True], ids=["read", "pathsend"])
@pytest.mark.parametrize("name", ["small.js", "large.bin"])
def test_static_file(
    benchmark: Any,
    driver: Any,
    make_scope: Any,
    static_dir: Path,
    impl: str,
    pathsend: bool,
    name: str,
) -> None:
    size = "1 KiB" if name == "small.js" else "10 MiB"
    benchmark.group = f"static: {size} file{', pathsend' if pathsend else ''}"
    app = static_app(impl, static_dir / "assets")
    extensions = {"http.response.pathsend": {}} if pathsend else {}
    scope = make_scope(f"/{name}", extensions=extensions)
    messages = benchmark(driver.call, app, scope)
    assert messages[0]["status"] == 200
    if pathsend:
        assert messages[1]["type"] == "http.response.pathsend"
    else:
        assert body_size(messages) == (len(SMALL) if name == "small.js" else LARGE_SIZE)


@pytest.mark.parametrize("impl", IMPLS)
def test_static_not_modified(
    benchmark: Any, driver: Any, make_scope: Any, static_dir: Path, impl: str
) -> None:
    benchmark.group = "static: 304 revalidation (If-None-Match)"
    app = static_app(impl, static_dir / "assets")
    first = driver.call(app, make_scope("/small.js"))
    etag = dict(first[0]["headers"])[b"etag"]
    scope = make_scope("/small.js", headers=[(b"if-none-match", etag)])
    assert benchmark(driver.call, app, scope)[0]["status"] == 304


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", ["1k.js", "1m.js"])
def test_static_precompressed(
    benchmark: Any, driver: Any, make_scope: Any, static_dir: Path, impl: str, name: str
) -> None:
    """stellina sends the .gz sibling; Starlette, which has no such option, the file itself."""
    benchmark.group = f"static: precompressed {'1 KiB' if name == '1k.js' else '1 MiB'} (gzip)"
    staticfiles = importlib.import_module(f"{impl}.staticfiles")
    directory = static_dir / "pre"
    if impl == "stellina":
        app = staticfiles.StaticFiles(directory=directory, precompressed=True)
        expected = (directory / f"{name}.gz").stat().st_size
    else:
        app = staticfiles.StaticFiles(directory=directory)
        expected = (directory / name).stat().st_size
    messages = benchmark(driver.call, app, make_scope(f"/{name}", headers=[BROWSER_ACCEPT]))
    assert messages[0]["status"] == 200
    assert body_size(messages) == expected
    assert (b"content-encoding" in dict(messages[0]["headers"])) == (impl == "stellina")


CACHE_CONTROL = {
    "a value": {"cache_control": "public, max-age=3600"},
    "a callable": {"cache_control": lambda path: "public, max-age=3600"},
    "immutable_pattern": {"immutable_pattern": r"\.js$"},
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("option", list(CACHE_CONTROL))
def test_static_cache_control(
    benchmark: Any, driver: Any, make_scope: Any, static_dir: Path, impl: str, option: str
) -> None:
    """The cost of Cache-Control on a 1 KiB file; Starlette serves it without the header."""
    benchmark.group = f"static: 1 KiB file, Cache-Control from {option}"
    staticfiles = importlib.import_module(f"{impl}.staticfiles")
    options = CACHE_CONTROL[option] if impl == "stellina" else {}
    app = staticfiles.StaticFiles(directory=static_dir / "assets", **options)
    messages = benchmark(driver.call, app, make_scope("/small.js"))
    assert messages[0]["status"] == 200
    assert (b"cache-control" in dict(messages[0]["headers"])) == (impl == "stellina")


@pytest.mark.parametrize("impl", IMPLS)
def test_template_response(
    benchmark: Any, driver: Any, make_scope: Any, static_dir: Path, impl: str
) -> None:
    benchmark.group = "templates: TemplateResponse of a small page"
    templating = importlib.import_module(f"{impl}.templating")
    requests = importlib.import_module(f"{impl}.requests")
    templates = templating.Jinja2Templates(directory=static_dir / "templates")
    context = {"title": "Bench", "items": ["a", "b", "<c>"]}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = requests.Request(scope, receive)
        response = templates.TemplateResponse(request, "page.html", dict(context))
        await response(scope, receive, send)

    messages = benchmark(driver.call, app, make_scope("/"))
    assert messages[0]["status"] == 200
    assert b"<li>&lt;c&gt;</li>" in messages[-1]["body"]


PARITY_CASES = [
    ("GET", "/s/assets/small.js", []),
    ("HEAD", "/s/assets/small.js", []),
    ("GET", "/s/assets/small.js", [(b"range", b"bytes=10-19")]),
    ("GET", "/s/assets/missing.js", []),
    ("GET", "/s/../assets/small.js", []),
    ("GET", "/s/assets", []),
    ("GET", "/s/assets/", []),
    ("GET", "/s/templates/page.html", [(b"if-modified-since", b"Fri, 01 Jan 2100 00:00:00 GMT")]),
    ("GET", "/s/templates/page.html", [(b"if-modified-since", b"Fri, 01 Jan 1990 00:00:00 GMT")]),
    ("GET", "/s/templates/page.html", [(b"if-none-match", b'"nope"')]),
    ("POST", "/s/assets/small.js", []),
    ("DELETE", "/h/missing", []),
    ("GET", "/h/docs", []),
    ("GET", "/h/docs/", []),
    ("HEAD", "/h/docs/", []),
    ("GET", "/h", []),
    ("GET", "/h/", []),
    ("GET", "/h/missing", []),
    ("GET", "/h/docs/missing", []),
    ("GET", "/h/../templates/page.html", []),
]


def test_static_answers_match_starlette(driver: Any, make_scope: Any, static_dir: Path) -> None:
    """Not a benchmark: both implementations, inside their applications, answer alike."""
    answers = {}
    for impl in IMPLS:
        applications = importlib.import_module(f"{impl}.applications")
        routing = importlib.import_module(f"{impl}.routing")
        staticfiles = importlib.import_module(f"{impl}.staticfiles")
        html = staticfiles.StaticFiles(directory=static_dir / "assets", html=True)
        app_class = applications.Stellina if impl == "stellina" else applications.Starlette
        app = app_class(
            routes=[routing.Mount("/s", static_app(impl, static_dir)), routing.Mount("/h", html)]
        )
        answers[impl] = [
            (m[0]["status"], m[0]["headers"], [x.get("body") for x in m[1:]])
            for m in (
                driver.call(app, make_scope(path, method=method, headers=headers))
                for method, path, headers in PARITY_CASES
            )
        ]
    assert answers["stellina"] == answers["starlette"]


def test_template_answers_match_starlette(driver: Any, make_scope: Any, static_dir: Path) -> None:
    """Not a benchmark: a template with url_for renders alike in both applications."""
    (static_dir / "templates" / "links.html").write_text(
        "{{ url_for('page', name='a b') }} {{ request.url.path }} {{ value }}"
    )
    answers = []
    for impl in IMPLS:
        applications = importlib.import_module(f"{impl}.applications")
        routing = importlib.import_module(f"{impl}.routing")
        templating = importlib.import_module(f"{impl}.templating")
        templates = templating.Jinja2Templates(directory=static_dir / "templates")

        async def page(request: Any, templates: Any = templates) -> Any:
            context = {"value": "<&>"}
            return templates.TemplateResponse(request, "links.html", context, status_code=201)

        app_class = applications.Stellina if impl == "stellina" else applications.Starlette
        app = app_class(routes=[routing.Route("/p/{name}", page, name="page")])
        messages = driver.call(app, make_scope("/p/x"))
        answers.append((messages[0]["status"], messages[0]["headers"], messages[1]["body"]))
    assert answers[0] == answers[1]
    assert answers[0][2] == b"http://127.0.0.1:8000/p/a b /p/x &lt;&amp;&gt;"


def test_schema_answers_match_starlette() -> None:
    """Not a benchmark: the same routes give the same schema and YAML in both."""

    async def users(request: Any) -> Any:
        """
        Prose first.
        ---
        responses:
          200:
            description: Users.
        """

    bodies = []
    for impl in IMPLS:
        routing = importlib.import_module(f"{impl}.routing")
        schemas = importlib.import_module(f"{impl}.schemas")
        endpoints = importlib.import_module(f"{impl}.endpoints")

        class Things(endpoints.HTTPEndpoint):
            async def put(self, request: Any) -> Any:
                """summary: Put a thing."""

        routes = [
            routing.Route("/users/{id:int}", users, methods=["GET", "POST"]),
            routing.Route("/hidden", users, include_in_schema=False),
            routing.Mount("/m/{x:str}", routes=[routing.Route("/things", Things)]),
        ]
        generator = schemas.SchemaGenerator({"openapi": "3.0.0", "info": {"title": "T"}})
        bodies.append(bytes(schemas.OpenAPIResponse(generator.get_schema(routes)).body))
    assert bodies[0] == bodies[1]
    assert b"/m/{x}/things" in bodies[0]
