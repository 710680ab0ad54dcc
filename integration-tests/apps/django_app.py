"""A minimal Django project behind each stellina middleware (see ``middleware_matrix``)."""

from __future__ import annotations

import django.conf
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse
from django.urls import path
from middleware_matrix import behind_each_middleware, hello_text

django.conf.settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],  # the TrustedHostMiddleware is the one checking hosts
    ROOT_URLCONF=__name__,
    SECRET_KEY="not-a-secret",
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)


def hello(request: ASGIRequest, prefix: str) -> HttpResponse:
    return HttpResponse(hello_text("django"), content_type="text/plain; charset=utf-8")


def visits(request: ASGIRequest, prefix: str) -> JsonResponse:
    # The stellina session lives in the ASGI scope, which Django keeps on the request.
    session = request.scope["session"]
    session["visits"] = session.get("visits", 0) + 1
    return JsonResponse({"visits": session["visits"]})


def size(request: ASGIRequest, prefix: str) -> JsonResponse:
    return JsonResponse({"size": len(request.body)})


urlpatterns = [
    path("<str:prefix>/hello", hello),
    path("<str:prefix>/visits", visits),
    path("<str:prefix>/size", size),
]

app = behind_each_middleware(get_asgi_application())
