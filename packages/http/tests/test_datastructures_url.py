"""URL, URLPath and the scope-to-URL reconstruction."""

from __future__ import annotations

from functools import partial

import pytest
from stellina_testing import http_scope

from stellina.datastructures import URL, URLPath

make_scope = partial(http_scope, server=("example.org", 8000), path="/some/path", headers=[])
"""The harness's scope, served at example.org:8000 /some/path without a Host header."""


def test_components() -> None:
    url = URL("https://user:secret@example.com:123/path/to/somewhere?abc=123#anchor")
    assert url.scheme == "https"
    assert url.netloc == "user:secret@example.com:123"
    assert url.path == "/path/to/somewhere"
    assert url.query == "abc=123"
    assert url.fragment == "anchor"
    assert url.username == "user"
    assert url.password == "secret"
    assert url.hostname == "example.com"
    assert url.port == 123
    assert url.is_secure
    assert url.components.geturl() == str(url)


def test_empty_and_relative_urls() -> None:
    url = URL()
    assert str(url) == ""
    assert url.path == ""
    assert url.hostname is None
    assert url.port is None
    relative = URL("/a/b?x=1")
    assert relative.scheme == ""
    assert relative.path == "/a/b"
    assert relative.query == "x=1"


@pytest.mark.parametrize(
    ("url", "secure"),
    [("http://a", False), ("https://a", True), ("ws://a", False), ("wss://a", True), ("/", False)],
)
def test_is_secure(url: str, secure: bool) -> None:
    assert URL(url).is_secure is secure


def test_replace_standard_components() -> None:
    url = URL("https://example.org:123/path?query=1#frag")
    assert url.replace(scheme="http") == "http://example.org:123/path?query=1#frag"
    assert url.replace(path="/other") == "https://example.org:123/other?query=1#frag"
    assert url.replace(query="") == "https://example.org:123/path#frag"
    assert url.replace(fragment="") == "https://example.org:123/path?query=1"
    assert url.replace(netloc="a.b") == "https://a.b/path?query=1#frag"
    assert isinstance(url.replace(scheme="http"), URL)


def test_replace_netloc_parts() -> None:
    url = URL("https://example.org:123/path")
    assert url.replace(port=None) == "https://example.org/path"
    assert url.replace(port=8080) == "https://example.org:8080/path"
    assert url.replace(hostname="other.net") == "https://other.net:123/path"
    assert url.replace(username="u") == "https://u@example.org:123/path"
    assert url.replace(username="u", password="p") == "https://u:p@example.org:123/path"
    with_user = URL("https://u:p@example.org/path")
    assert with_user.replace(hostname="x.y") == "https://u:p@x.y/path"
    assert with_user.replace(port=1) == "https://u:p@example.org:1/path"
    assert with_user.replace(password=None) == "https://u@example.org/path"
    # a password without a username has nowhere to go
    assert URL("https://example.org/").replace(password="p") == "https://example.org/"


def test_replace_ipv6() -> None:
    url = URL("http://[::1]:8000/path")
    assert url.hostname == "::1"
    assert url.port == 8000
    assert url.replace(port=9000) == "http://[::1]:9000/path"
    assert url.replace(port=None) == "http://[::1]/path"
    assert URL("http://[fe80::1]/").replace(port=81) == "http://[fe80::1]:81/"
    assert URL("http://a.b:1/").replace(hostname="::1") == "http://[::1]:1/"
    assert URL("http://a.b/").replace(hostname="[::2]") == "http://[::2]/"


def test_query_param_helpers() -> None:
    url = URL("https://example.org/path?page=3&tag=a&tag=b")
    assert url.include_query_params(page=4) == "https://example.org/path?tag=a&tag=b&page=4"
    assert url.include_query_params(new="x y") == (
        "https://example.org/path?page=3&tag=a&tag=b&new=x+y"
    )
    assert url.replace_query_params(order="name") == "https://example.org/path?order=name"
    assert url.remove_query_params("tag") == "https://example.org/path?page=3"
    assert url.remove_query_params(["page", "tag"]) == "https://example.org/path"
    assert url.remove_query_params("missing") == "https://example.org/path?page=3&tag=a&tag=b"
    blank = URL("/p?a=&b")
    assert blank.include_query_params(c=1) == "/p?a=&b=&c=1"


def test_query_param_helpers_decode_and_reencode() -> None:
    url = URL("/p?name=caf%C3%A9&plus=a+b")
    assert url.include_query_params(x="1") == "/p?name=caf%C3%A9&plus=a+b&x=1"


def test_equality_and_hash() -> None:
    assert URL("http://a/b") == URL("http://a/b")
    assert URL("http://a/b") == "http://a/b"
    assert URL("http://a/b") != "http://a/c"
    assert URL("http://a/b") != URL("http://a/c")
    assert {URL("http://a/b"): 1}[URL("http://a/b")] == 1


def test_repr_hides_password() -> None:
    assert repr(URL("http://u:pw@a/b")) == "URL('http://u:********@a/b')"
    assert repr(URL("http://u@a/b")) == "URL('http://u@a/b')"
    assert repr(URL("http://a/b")) == "URL('http://a/b')"


def test_url_from_components() -> None:
    url = URL(scheme="https", netloc="example.org", path="/p", query="a=1")
    assert url == "https://example.org/p?a=1"
    assert URL(path="/only") == "/only"


def test_url_argument_conflicts() -> None:
    with pytest.raises(AssertionError):
        URL("http://a", scope=make_scope())
    with pytest.raises(AssertionError):
        URL("http://a", path="/b")
    with pytest.raises(AssertionError):
        URL(scope=make_scope(), path="/b")


def test_from_scope_with_host_header() -> None:
    scope = make_scope(headers=[(b"host", b"example.com:8080")], query_string=b"a=1&b=2")
    assert URL(scope=scope) == "http://example.com:8080/some/path?a=1&b=2"


def test_from_scope_uses_first_host_header() -> None:
    scope = make_scope(headers=[(b"host", b"first.test"), (b"host", b"second.test")])
    assert URL(scope=scope) == "http://first.test/some/path"


def test_from_scope_without_host_header() -> None:
    assert URL(scope=make_scope()) == "http://example.org:8000/some/path"
    assert URL(scope=make_scope(server=("example.org", 80))) == "http://example.org/some/path"
    https = make_scope(scheme="https", server=("example.org", 443))
    assert URL(scope=https) == "https://example.org/some/path"
    ws = make_scope(scheme="ws", server=("example.org", 80))
    assert URL(scope=ws) == "ws://example.org/some/path"
    wss = make_scope(scheme="wss", server=("example.org", 8443))
    assert URL(scope=wss) == "wss://example.org:8443/some/path"


def test_from_scope_without_server_or_host() -> None:
    scope = make_scope(server=None, query_string=b"x=1")
    assert URL(scope=scope) == "/some/path?x=1"


def test_from_scope_defaults() -> None:
    scope = {"type": "http", "path": "/p", "headers": [], "server": ("a.b", 80)}
    assert URL(scope=scope) == "http://a.b/p"


def test_from_scope_ipv6_server_is_bracketed() -> None:
    url = URL(scope=make_scope(server=("::1", 8000)))
    assert url == "http://[::1]:8000/some/path"
    assert url.hostname == "::1"
    assert url.port == 8000


def test_from_scope_ipv6_host_header() -> None:
    url = URL(scope=make_scope(headers=[(b"host", b"[::1]:8000")]))
    assert url == "http://[::1]:8000/some/path"
    assert url.hostname == "::1"


def test_from_scope_query_string_encodings() -> None:
    utf8 = URL(scope=make_scope(query_string="q=café".encode()))
    assert utf8.query == "q=café"
    invalid = URL(scope=make_scope(query_string=b"q=\xff"))
    assert invalid.query == "q=\xff"


def test_from_scope_converts_nothing_in_scope() -> None:
    headers = ((b"host", b"a.test"),)
    scope = make_scope(headers=headers)
    assert URL(scope=scope) == "http://a.test/some/path"
    assert scope["headers"] is headers


def test_urlpath_is_str() -> None:
    path = URLPath("/users/1")
    assert path == "/users/1"
    assert isinstance(path, str)
    assert path.protocol == ""
    assert path.host == ""


def test_urlpath_rejects_unknown_protocol() -> None:
    with pytest.raises(AssertionError):
        URLPath("/", protocol="ftp")


def test_urlpath_make_absolute_url() -> None:
    assert URLPath("/users").make_absolute_url("http://a.test") == "http://a.test/users"
    assert URLPath("/users").make_absolute_url("https://a.test/root/") == (
        "https://a.test/root/users"
    )
    assert URLPath("/ws", "websocket").make_absolute_url("https://a.test") == "wss://a.test/ws"
    assert URLPath("/ws", "websocket").make_absolute_url("http://a.test") == "ws://a.test/ws"
    assert URLPath("/p", "http").make_absolute_url(URL("wss://a.test")) == "https://a.test/p"
    assert URLPath("/p", "http").make_absolute_url("ws://a.test") == "http://a.test/p"
    with_host = URLPath("/p", "http", host="other.test:81")
    assert with_host.make_absolute_url("https://a.test") == "https://other.test:81/p"
    assert isinstance(with_host.make_absolute_url("http://a.test"), URL)
