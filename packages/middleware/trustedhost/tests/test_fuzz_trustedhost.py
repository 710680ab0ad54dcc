"""Property tests of TrustedHostMiddleware: any Host header gets the app, a redirect or a 400, and
the app only ever sees a Host from which a URL gets exactly an allowed host name."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, header_text
from stellina_testing import http_scope

from stellina.middleware.trustedhost import TrustedHostMiddleware
from stellina.types import Receive, Scope, Send

pytestmark = pytest.mark.fuzz

EXACT = {"example.com", "www.site.net", "::1"}
SUFFIX = ".example.org"


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


app = TrustedHostMiddleware(
    hello, allowed_hosts=["example.com", "*.example.org", "www.site.net", "::1"]
)

_PIECES = (
    "example.com", "EXAMPLE.COM", "www.site.net", "site.net", "a.example.org", ".example.org",
    "example.org", "[::1]", "::1", "[::1", "evil.com", ":", ":443", ":0", ":99999", "@", "/", "?",
    "#", "\\", "%40", " ", "\t", "[", "]", ".", "\x00", "é",
)  # fmt: skip
hosts = st.lists(st.sampled_from(_PIECES), max_size=4).map("".join) | header_text(30)


@BACKEND_SETTINGS
@given(host=hosts, repeat=st.booleans(), scheme=st.sampled_from(("http", "https")))
def test_only_allowed_hosts_reach_the_app(
    anyio_backend: str, host: str, repeat: bool, scheme: str
) -> None:
    scope = http_scope(scheme=scheme, headers=[(b"host", host.encode("latin-1"))])
    recorder = call(app, scope, [b""], anyio_backend)
    if repeat:  # accepted Host values are remembered: the second answer must be the same
        again = call(app, dict(scope), [b""], anyio_backend)
        assert (again.status, again.body) == (recorder.status, recorder.body)
    assert recorder.status in (200, 301, 307, 308, 400), recorder.status
    if recorder.status == 200:
        assert recorder.body == b"hello"
        split = urlsplit(f"{scheme}://{host}/")
        assert (split.username, split.path, split.query, split.fragment) == (None, "/", "", "")
        name = split.hostname
        assert name is not None
        assert name in EXACT or name.endswith(SUFFIX)  # ".example.org" too, as in Starlette
    elif recorder.status != 400:
        location = dict(recorder.headers)[b"location"].decode("latin-1")
        assert urlsplit(location).hostname == "www.site.net"
        assert host.lower().startswith("site.net")
