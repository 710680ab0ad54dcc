"""Jinja2 templates rendered into HTML responses, with a `url_for` global."""

from __future__ import annotations

__version__ = "0.1.0"

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jinja2

from stellina.responses import HTMLResponse

if TYPE_CHECKING:
    from stellina.background import BackgroundTask
    from stellina.datastructures import URL
    from stellina.requests import Request
    from stellina.types import Receive, Scope, Send

__all__ = ["Jinja2Templates"]

_DEBUG_EXTENSION = "http.response.debug"


class _TemplateResponse(HTMLResponse):
    """The HTML rendering of `template` with `context`; both stay available as attributes.

    Templates of an async environment are rendered with `render_async` when the response is sent.
    When the server offers the `http.response.debug` extension (the TestClient does), the template
    and context are sent to it ahead of the response.
    """

    def __init__(
        self,
        template: jinja2.Template,
        context: dict[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.template = template
        self.context = context
        self._deferred = template.environment.is_async
        content = "" if self._deferred else template.render(context)
        super().__init__(content, status_code, headers, media_type, background)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._deferred:
            self._deferred = False
            self.body = self.render(await self.template.render_async(self.context))
            self.headers["content-length"] = str(len(self.body))
        if _DEBUG_EXTENSION in scope.get("extensions", ()):
            info = {"template": self.template, "context": self.context}
            await send({"type": _DEBUG_EXTENSION, "info": info})
        await super().__call__(scope, receive, send)


@jinja2.pass_context
def _url_for(context: Mapping[str, Any], name: str, /, **path_params: Any) -> URL:
    """The absolute URL of the route `name`, built from the context's request."""
    request: Request = context["request"]
    return request.url_for(name, **path_params)


class Jinja2Templates:
    """Templates loaded from `directory` (one or several), or from a prepared `env`.

    Environments built from a directory autoescape; every environment gets a `url_for` global
    unless it already has one. `context_processors` add to each response's context.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        *,
        context_processors: list[Callable[[Request], dict[str, Any]]] | None = None,
        env: jinja2.Environment | None = None,
    ) -> None:
        assert bool(directory) ^ bool(env), "either 'directory' or 'env' arguments must be passed"
        self.context_processors = context_processors or []
        if env is None:
            loader = jinja2.FileSystemLoader(directory or ())
            env = jinja2.Environment(loader=loader, autoescape=True)
        self.env = env
        env.globals.setdefault("url_for", _url_for)

    def get_template(self, name: str) -> jinja2.Template:
        """The template `name`; raises jinja2.TemplateNotFound when no loader has it."""
        return self.env.get_template(name)

    def TemplateResponse(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse:
        """Render template `name` with `context`, which also receives `request`."""
        context = context or {}
        context.setdefault("request", request)
        for processor in self.context_processors:
            context.update(processor(request))
        return _TemplateResponse(
            self.get_template(name),
            context,
            status_code=status_code,
            headers=headers,
            media_type=media_type,
            background=background,
        )
