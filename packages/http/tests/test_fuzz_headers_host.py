"""Property tests of the request's headers and of the URL built from its Host header and path.

Any header list, Host value and path give a request whose headers read back as sent and
whose URL splits into the scope's scheme, an authority no path can move, and readable parts.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellina_strategies import BACKEND_SETTINGS, call, header_text
from stellina_testing import http_scope, request_app

from stellina.asgi import port_number, split_host
from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.types import Scope

pytestmark = pytest.mark.fuzz

_HOST_PIECES = (
    "example.com", "EXAMPLE.org", "a", "127.0.0.1", "[::1]", "[fe80::1%25eth0]", "[v1.x]",
    "[V1.x]", "[", "]", ":", ":80", ":0", ":08080", ":65536", ":99999999999", "@", "/", "?",
    "#", "\\", "%", "%2F", " ", "..", "_", "-", "\x00", "\r\n", "é",
)  # fmt: skip
hosts = header_text(40) | st.lists(st.sampled_from(_HOST_PIECES), max_size=5).map("".join)
paths = st.lists(
    st.sampled_from(("/", "//", "?", "#", "\\", "%", "%2F", "..", "a", "é", "@", ":", " "))
    | st.text(max_size=5),
    max_size=8,
).map("".join)
# Header names are tokens: ASCII, which servers hand over lower-cased.
names = st.sampled_from((b"host", b"Host", b"cookie", b"x-a", b"")) | st.binary(max_size=8).filter(
    bytes.isascii
)
raw_headers = st.lists(st.tuples(names, st.binary(max_size=30)), max_size=8)


def _scope(host: str, path: str, scheme: str, root_path: str = "") -> Scope:
    return http_scope(
        scheme=scheme,
        path=path,
        raw_path=path.encode("utf-8", "surrogateescape"),
        root_path=root_path,
        headers=[(b"host", host.encode("latin-1"))],
    )


def _usable(host: str) -> bool:
    """Whether the URL is built on this Host value (else on the server's address)."""
    parts = split_host(host)
    return (
        parts is not None
        and (not parts[1] or port_number(parts[1]) is not None)
        and not host.startswith("[V")
    )


@given(host=hosts, path=paths, scheme=st.sampled_from(("http", "https", "ws", "wss")))
def test_the_url_keeps_the_authority_whatever_the_path(host: str, path: str, scheme: str) -> None:
    url = Request(_scope(host, path, scheme)).url
    split = urlsplit(str(url))
    assert split.scheme == url.scheme == scheme
    default = ":443" if scheme in ("https", "wss") else ""
    assert url.netloc == (host if _usable(host) else f"testserver{':80' if default else ''}")
    assert url.path.startswith("/")
    assert (split.query, split.fragment) == ("", "")
    assert (url.username, url.password) == (None, None)
    url.port  # noqa: B018  (reading it must not raise)
    assert url.hostname is not None


@BACKEND_SETTINGS
@given(host=hosts, path=paths, root_path=st.sampled_from(("", "/", "/app", "//x")))
def test_any_host_and_path_get_an_answer(
    anyio_backend: str, host: str, path: str, root_path: str
) -> None:
    async def describe(request: Request) -> Response:
        parts = (request.url, request.base_url, request.url.hostname, request.url.port)
        return PlainTextResponse(repr(parts))

    scope = _scope(host, path, "http", root_path)
    recorder = call(request_app(describe), scope, [b""], anyio_backend)
    assert recorder.status == 200


@given(raw=raw_headers)
def test_headers_read_back_as_sent(raw: list[tuple[bytes, bytes]]) -> None:
    lowered = [(name.lower(), value) for name, value in raw]
    headers = Request(http_scope(headers=lowered)).headers
    assert headers.raw == lowered
    for name, _ in lowered:
        text = name.decode("latin-1")
        expected = [v.decode("latin-1") for n, v in lowered if n == name]
        assert headers.getlist(text) == headers.getlist(text.upper()) == expected
        assert headers[text] == expected[0]
    assert len(headers.keys()) == len(lowered)
