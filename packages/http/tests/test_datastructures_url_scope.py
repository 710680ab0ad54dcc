"""URL(scope=...) with hostile Host headers and paths: the authority always comes from a
valid Host header or the server address, never from the path."""

from __future__ import annotations

from functools import partial

import pytest
from stellina_testing import http_scope

from stellina.datastructures import URL
from stellina.requests import Request

scope_on = partial(http_scope, server=("backend.internal", 8080), path="/admin")


@pytest.mark.parametrize(
    "host",
    [
        b"evil.test/?x=",
        b"evil.test?x",
        b"evil.test#frag",
        b"evil.test/path",
        b"user@evil.test",
        b"user:pw@evil.test",
        b"evil.test\\x",
        b"evil .test",
        b"a b",
        b"evil.test\r\nx-injected: 1",
        b"evil.test:65536",
        b"evil.test:99999",
        b"evil.test:123456",
        b"evil.test:99999999999999999999",
        b"evil.test:x",
        b"evil.test:80a",
        b"evil.test:-1",
        b"[::1",
        b"[zz::1]",
        b"[::1]x",
        b"[fe80::1%25eth0]",
        b"[V1.upper]",
        b"",
        b":80",
        b"\xff",
        b"\xff\xfe",
    ],
)
def test_unusable_host_header_falls_back_to_the_server(host: bytes) -> None:
    url = URL(scope=scope_on(headers=[(b"host", host)]))
    assert url == "http://backend.internal:8080/admin"
    assert url.netloc == "backend.internal:8080"
    assert url.hostname == "backend.internal"
    assert url.path == "/admin"


def test_a_huge_host_header_is_refused_without_trouble() -> None:
    url = URL(scope=scope_on(headers=[(b"host", b"a" * 100_000 + b"/x")]))
    assert url.netloc == "backend.internal:8080"


@pytest.mark.parametrize(
    ("host", "netloc", "port"),
    [
        (b"example.com", "example.com", None),
        (b"example.com:000080", "example.com:000080", 80),
        (b"[::1]:8000", "[::1]:8000", 8000),
        (b"[v1.future]", "[v1.future]", None),
        (b"xn--bcher-kva.example", "xn--bcher-kva.example", None),
    ],
)
def test_a_valid_host_header_is_kept_as_sent(host: bytes, netloc: str, port: int | None) -> None:
    url = URL(scope=scope_on(headers=[(b"host", host)]))
    assert url.netloc == netloc
    assert url.port == port


@pytest.mark.parametrize(
    ("server", "netloc"),
    [
        (("::1", 80), "[::1]"),
        (("::1", 8443), "[::1]:8443"),
        (("10.0.0.1", 80), "10.0.0.1"),
        (("10.0.0.1", None), "10.0.0.1"),
    ],
)
def test_the_server_address_gets_brackets_and_loses_the_default_port(
    server: tuple[str, int | None], netloc: str
) -> None:
    url = URL(scope=http_scope(server=server, headers=[]))
    assert url.netloc == netloc


@pytest.mark.parametrize("headers", [[(b"host", b"front.test")], []])
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("@evil.test", "/@evil.test"),
        ("user:pw@evil.test/x", "/user:pw@evil.test/x"),
        ("http://evil.test/x", "/http://evil.test/x"),
        ("//evil.test/x", "//evil.test/x"),
        ("/a?b#c", "/a%3Fb%23c"),
        ("/\\evil.test", "/%5Cevil.test"),
    ],
)
def test_the_path_never_becomes_the_authority(
    headers: list[tuple[bytes, bytes]], path: str, expected: str
) -> None:
    url = URL(scope=http_scope(server=("front.test", 80), path=path, headers=headers))
    assert url.hostname == "front.test"
    assert url.path == expected
    assert url.query == ""


def test_without_any_authority_a_double_slash_path_stays_a_path() -> None:
    url = URL(scope=http_scope(server=None, headers=[], path="//evil.test/x"))
    assert str(url) == "/%2Fevil.test/x"
    assert url.netloc == ""


def test_request_url_and_base_url_ignore_a_bad_host() -> None:
    scope = scope_on(headers=[(b"host", b"evil.test/@x")], root_path="/app", path="/app/p")
    request = Request(scope)
    assert request.url == "http://backend.internal:8080/app/p"
    assert request.base_url == "http://backend.internal:8080/app/"


def test_a_huge_query_string_is_kept_and_parsed() -> None:
    query = b"&".join(b"k%d=v%%20%d" % (i, i) for i in range(20_000))
    request = Request(http_scope(query_string=query))
    assert request.url.query == query.decode()
    assert len(request.query_params.multi_items()) == 20_000
    assert request.query_params["k19999"] == "v 19999"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"hostname": "example.org:8080", "port": None}, "https://example.org:8080/p"),
        ({"hostname": "::1"}, "https://[::1]:8443/p"),
        ({"hostname": "[::1]:9000", "port": None}, "https://[::1]:9000/p"),
        ({"port": None}, "https://example.org/p"),
        ({"username": "u"}, "https://u@example.org:8443/p"),
        ({"username": "u", "password": "p"}, "https://u:p@example.org:8443/p"),
    ],
)
def test_replace_rebuilds_the_netloc(changes: dict[str, object], expected: str) -> None:
    assert URL("https://example.org:8443/p").replace(**changes) == expected


def test_replace_keeps_an_ipv6_host_with_its_port_changed() -> None:
    assert URL("https://[fe::2]:12345/").replace(port=8080) == "https://[fe::2]:8080/"
    assert URL("http://u:p@[fe::2]/").replace(port=1) == "http://u:p@[fe::2]:1/"


def test_replace_on_a_url_without_authority_adds_one() -> None:
    assert URL("/path?a=1").replace(port=8080) == "//:8080/path?a=1"
    assert URL("/path").replace(username="u") == "//u@/path"
