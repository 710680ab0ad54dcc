"""Put a foreign framework's ASGI app behind each standalone stellina middleware.

The first path segment picks the middleware (``/cors/...``, ``/gzip/...``); ``/stack/...``
goes through CORS, TrustedHost, GZip, Sessions and the body limit, composed; any other path,
and the lifespan, reach the framework's app directly. The framework serves, under every prefix:

- ``GET /<prefix>/hello``: a plain-text page naming the framework, long enough to compress;
- ``GET /<prefix>/visits``: ``scope["session"]["visits"]``, incremented, as JSON;
- ``POST /<prefix>/size``: the size of the request body, as JSON.

Imports only the middleware distributions, so it runs wherever those wheels are installed.
"""

from __future__ import annotations

import atexit
import gzip
import shutil
import tempfile
from pathlib import Path

from stellina.middleware.body_limit import RequestBodyLimitMiddleware
from stellina.middleware.compress import CompressMiddleware
from stellina.middleware.cors import CORSMiddleware
from stellina.middleware.csrf import CSRFMiddleware
from stellina.middleware.gzip import GZipMiddleware
from stellina.middleware.httpsredirect import HTTPSRedirectMiddleware
from stellina.middleware.sessions import SessionMiddleware
from stellina.middleware.trustedhost import TrustedHostMiddleware
from stellina.types import ASGIApp, Receive, Scope, Send

ALLOWED_ORIGIN = "https://allowed.example"
ALLOWED_HOSTS = ["127.0.0.1"]
BODY_LIMIT = 1000
SECRET_KEY = "not-a-secret"
# A script that StaticFiles serves as it is, or as its gzip sibling.
ASSET = "console.log('stellina static files');\n" * 40


def asset_folder() -> str:
    """A new folder holding ``app.js`` (`ASSET`), its newer ``app.js.gz`` and a hashed name."""
    folder = Path(tempfile.mkdtemp(prefix="stellina-assets-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "app.js").write_text(ASSET)
    (folder / "app.js.gz").write_bytes(gzip.compress(ASSET.encode(), mtime=0))
    (folder / "app.0123456789abcdef.js").write_text(ASSET)
    return str(folder)


def hello_text(framework: str) -> str:
    """The body of ``GET /<prefix>/hello``."""
    return f"hello from {framework} " + "x" * 1000


def _stack(app: ASGIApp) -> ASGIApp:
    app = RequestBodyLimitMiddleware(app, max_body_size=BODY_LIMIT)
    app = SessionMiddleware(app, secret_key=SECRET_KEY)
    app = GZipMiddleware(app, minimum_size=500)
    app = TrustedHostMiddleware(app, allowed_hosts=ALLOWED_HOSTS)
    return CORSMiddleware(app, allow_origins=[ALLOWED_ORIGIN])


def behind_each_middleware(app: ASGIApp) -> ASGIApp:
    """`app`, with each HTTP request routed through the middleware its first segment names."""
    layers: dict[str, ASGIApp] = {
        "cors": CORSMiddleware(app, allow_origins=[ALLOWED_ORIGIN]),
        "gzip": GZipMiddleware(app, minimum_size=500),
        "sessions": SessionMiddleware(app, secret_key=SECRET_KEY),
        "trustedhost": TrustedHostMiddleware(app, allowed_hosts=ALLOWED_HOSTS),
        "httpsredirect": HTTPSRedirectMiddleware(app),
        "bodylimit": RequestBodyLimitMiddleware(app, max_body_size=BODY_LIMIT),
        "compress": CompressMiddleware(app),
        "csrf": CSRFMiddleware(app, SECRET_KEY),
        "stack": _stack(app),
    }

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await layers.get(scope["path"].split("/", 2)[1], app)(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch
