"""Jinja2Templates: loading, autoescape, url_for, context processors, debug info, async envs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest

from stellina.background import BackgroundTask
from stellina.requests import Request
from stellina.responses import Response
from stellina.routing import Mount, Route, Router
from stellina.templating import Jinja2Templates
from stellina.testclient import TestClient
from stellina.types import Message

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "index.html").write_text("<p>Hello, {{ name }}! {{ request.url.path }}</p>")
    (folder / "links.html").write_text(
        "<a href='{{ url_for('user', user_id=7) }}'>u</a> "
        "<a href='{{ url_for('static', path='/app.css') }}'>css</a>"
    )
    return folder


def test_template_response(templates_dir: Path, test_client_factory: ClientFactory) -> None:
    templates = Jinja2Templates(directory=templates_dir)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html", {"name": "<World>"})

    client = test_client_factory(Router([Route("/page", page)]))
    response = client.get("/page")
    assert response.status_code == 200
    assert response.text == "<p>Hello, &lt;World&gt;! /page</p>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.template.name == "index.html"  # type: ignore[attr-defined]
    assert response.context["name"] == "<World>"  # type: ignore[attr-defined]
    assert isinstance(response.context["request"], Request)  # type: ignore[attr-defined]


def test_keyword_arguments_and_options(
    templates_dir: Path, test_client_factory: ClientFactory
) -> None:
    templates = Jinja2Templates(directory=str(templates_dir))
    ran: list[str] = []

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(
            request=request,
            name="index.html",
            context={"name": "kw"},
            status_code=201,
            headers={"x-extra": "1"},
            media_type="text/plain",
            background=BackgroundTask(ran.append, "done"),
        )

    response = test_client_factory(Router([Route("/", page)])).get("/")
    assert response.status_code == 201
    assert response.text == "<p>Hello, kw! /</p>"
    assert response.headers["x-extra"] == "1"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert ran == ["done"]


def test_url_for(templates_dir: Path, test_client_factory: ClientFactory) -> None:
    templates = Jinja2Templates(directory=templates_dir)

    async def links(request: Request) -> Response:
        return templates.TemplateResponse(request, "links.html")

    async def user(request: Request) -> Response:
        return Response()

    app = Router(
        [
            Route("/", links),
            Route("/users/{user_id:int}", user, name="user"),
            Mount("/static", Router([]), name="static"),
        ]
    )
    response = test_client_factory(app).get("/")
    assert response.text == (
        "<a href='http://testserver/users/7'>u</a> "
        "<a href='http://testserver/static/app.css'>css</a>"
    )


def test_context_processors(templates_dir: Path, test_client_factory: ClientFactory) -> None:
    seen: list[Request] = []

    def processor(request: Request) -> dict[str, Any]:
        seen.append(request)
        return {"name": f"processed {len(seen)}"}

    templates = Jinja2Templates(directory=templates_dir, context_processors=[processor])

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html", {"name": "ignored"})

    client = test_client_factory(Router([Route("/", page)]))
    assert client.get("/").text == "<p>Hello, processed 1! /</p>"
    assert client.get("/").text == "<p>Hello, processed 2! /</p>"
    assert all(isinstance(request, Request) for request in seen)


def test_context_keeps_an_explicit_request(templates_dir: Path) -> None:
    templates = Jinja2Templates(directory=templates_dir)
    request = Request({"type": "http", "path": "/real", "headers": [], "query_string": b""})
    other = Request({"type": "http", "path": "/other", "headers": [], "query_string": b""})
    context: dict[str, Any] = {"name": "x", "request": other}
    response = templates.TemplateResponse(request, "index.html", context)
    assert response.context is context
    assert response.body == b"<p>Hello, x! /other</p>"


def test_several_directories(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (first / "a.html").write_text("first a")
    (second / "a.html").write_text("second a")
    (second / "b.html").write_text("second b")
    templates = Jinja2Templates(directory=[first, str(second)])
    assert templates.get_template("a.html").render() == "first a"
    assert templates.get_template("b.html").render() == "second b"


def test_missing_template(templates_dir: Path) -> None:
    templates = Jinja2Templates(directory=templates_dir)
    with pytest.raises(jinja2.TemplateNotFound, match="missing.html"):
        templates.get_template("missing.html")
    request = Request({"type": "http", "path": "/", "headers": [], "query_string": b""})
    with pytest.raises(jinja2.TemplateNotFound, match="nope/x.html"):
        templates.TemplateResponse(request, "nope/x.html")


def test_template_name_cannot_escape_the_directory(templates_dir: Path) -> None:
    (templates_dir.parent / "secret.html").write_text("secret")
    templates = Jinja2Templates(directory=templates_dir)
    for name in ("../secret.html", "/../secret.html", os.path.join("..", "secret.html")):
        with pytest.raises(jinja2.TemplateNotFound):
            templates.get_template(name)


def test_prepared_environment(templates_dir: Path) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ v }}"}))
    templates = Jinja2Templates(env=env)
    assert templates.env is env
    assert "url_for" in env.globals
    # An environment's own autoescape setting is kept.
    assert templates.get_template("t.html").render(v="<b>") == "<b>"


def test_existing_url_for_global_is_kept() -> None:
    def mine(*args: Any) -> str:
        return "mine"

    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('x') }}"}))
    env.globals["url_for"] = mine
    templates = Jinja2Templates(env=env)
    assert templates.get_template("t.html").render() == "mine"


def test_directory_xor_env(templates_dir: Path) -> None:
    message = "either 'directory' or 'env' arguments must be passed"
    with pytest.raises(AssertionError, match=message):
        Jinja2Templates()
    with pytest.raises(AssertionError, match=message):
        Jinja2Templates(directory=templates_dir, env=jinja2.Environment())
    with pytest.raises(AssertionError, match=message):
        Jinja2Templates(directory=[])


def test_autoescape_by_default(templates_dir: Path) -> None:
    (templates_dir / "raw.txt").write_text("{{ v }}")
    templates = Jinja2Templates(directory=templates_dir)
    assert templates.env.autoescape is True
    assert templates.get_template("raw.txt").render(v="<&>") == "&lt;&amp;&gt;"


@pytest.mark.anyio
async def test_debug_message_only_with_the_extension(templates_dir: Path) -> None:
    templates = Jinja2Templates(directory=templates_dir)

    async def run(extensions: dict[str, Any]) -> list[Message]:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [],
            "query_string": b"",
            "extensions": extensions,
        }
        response = templates.TemplateResponse(Request(scope), "index.html", {"name": "n"})
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            sent.append(message)

        await response(scope, receive, send)
        return sent

    with_debug = await run({"http.response.debug": {}})
    assert [m["type"] for m in with_debug] == [
        "http.response.debug",
        "http.response.start",
        "http.response.body",
    ]
    info = with_debug[0]["info"]
    assert info["template"].name == "index.html"
    assert info["context"]["name"] == "n"
    without = await run({})
    assert [m["type"] for m in without] == ["http.response.start", "http.response.body"]


def test_async_environment(tmp_path: Path, test_client_factory: ClientFactory) -> None:
    async def shout(value: str) -> str:
        return value.upper()

    env = jinja2.Environment(
        loader=jinja2.DictLoader({"a.html": "{{ shout(name) }} & {{ name }}"}),
        enable_async=True,
        autoescape=True,
    )
    env.globals["shout"] = shout
    templates = Jinja2Templates(env=env)

    async def page(request: Request) -> Response:
        response = templates.TemplateResponse(request, "a.html", {"name": "<x>"})
        response.headers["x-set-after"] = "kept"
        return response

    response = test_client_factory(Router([Route("/", page)])).get("/")
    assert response.status_code == 200
    assert response.text == "&lt;X&gt; & &lt;x&gt;"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["x-set-after"] == "kept"
    assert response.context["name"] == "<x>"  # type: ignore[attr-defined]


def test_template_error_propagates(templates_dir: Path) -> None:
    (templates_dir / "broken.html").write_text("{{ missing.attribute }}")
    templates = Jinja2Templates(
        env=jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir), undefined=jinja2.StrictUndefined
        )
    )
    request = Request({"type": "http", "path": "/", "headers": [], "query_string": b""})
    with pytest.raises(jinja2.UndefinedError):
        templates.TemplateResponse(request, "broken.html")
