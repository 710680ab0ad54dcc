"""`counter.app` behind the proxy-header handling of servers that have no command-line switch
for it: hypercorn and granian trust X-Forwarded-For/-Proto only through a wrapper."""

from __future__ import annotations

from typing import cast

from counter import app
from granian.utils.proxies import wrap_asgi_with_proxy_headers
from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.typing import ASGIFramework

# The one hop in front (a reverse proxy) is trusted, whoever connects: nothing else may reach
# this server. (hypercorn types the ASGI messages more narrowly than stellina.types does.)
hypercorn_app = ProxyFixMiddleware(cast(ASGIFramework, app), mode="legacy", trusted_hops=1)
# Forwarded headers are believed only from a peer at 127.0.0.1.
granian_app = wrap_asgi_with_proxy_headers(app, trusted_hosts="127.0.0.1")
