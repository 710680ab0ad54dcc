"""Host routing: Host headers parsed with IP literals in mind, ports ignored, bad ones refused."""

from __future__ import annotations

import pytest
from stellina_testing import ClientFactory, Recorder, http_scope

from stellina.requests import Request
from stellina.responses import PlainTextResponse, Response
from stellina.routing import Host, Route, Router


def named(label: str) -> Route:
    def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"{label} {dict(request.path_params)}")

    return Route("/", endpoint)


def hosts() -> Router:
    return Router(
        [
            Host("[::1]", app=Router([named("loopback6")])),
            Host("[2001:DB8::7]:8443", app=Router([named("doc6")])),
            Host("[v7.Future]", app=Router([named("future")])),
            Host("{tenant}.example.org", app=Router([named("tenant")])),
            Host("example.org:8000", app=Router([named("plain")])),
        ]
    )


async def answer(router: Router, host: bytes | None) -> tuple[int, bytes]:
    headers = [] if host is None else [(b"host", host)]
    recorder = Recorder()
    await router(http_scope(headers=headers), recorder.receive, recorder.send)
    start, body = recorder.sent
    return start["status"], body["body"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (b"[::1]", b"loopback6 {}"),
        (b"[::1]:8000", b"loopback6 {}"),
        (b"[2001:db8::7]", b"doc6 {}"),
        (b"[2001:DB8::7]:1", b"doc6 {}"),
        (b"[V7.future]", b"future {}"),
        (b"ACME.Example.org", b"tenant {'tenant': 'acme'}"),
        (b"example.org", b"plain {}"),
        (b"example.org:000080", b"plain {}"),
        (b"example.org:99999", b"plain {}"),
    ],
)
async def test_hosts_match_on_the_name_alone(host: bytes, expected: bytes) -> None:
    assert await answer(hosts(), host) == (200, expected)


@pytest.mark.anyio
async def test_ip_literals_match_as_written() -> None:
    # Another spelling of the same address is another host name: patterns match text.
    assert (await answer(hosts(), b"[0:0::1]"))[0] == 404


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host",
    [
        b"example.org:evil",
        b"example.org:80:80",
        b"[:::]",
        b"[::1",
        b"[::1]x",
        b"[fe80::1%25eth0]",
        b"user@example.org",
        b"example.org/path",
        b"example.org?q",
        b"example.org#f",
        b"exa mple.org",
        b"",
        b"a" * 100_000 + b".example.org:evil",
        b"[" + b"1:" * 50_000 + b"]",
    ],
)
async def test_invalid_hosts_match_no_host_route(host: bytes) -> None:
    assert (await answer(hosts(), host))[0] == 404


@pytest.mark.anyio
async def test_a_request_without_host_header_matches_no_host_route() -> None:
    assert (await answer(hosts(), None))[0] == 404


def test_host_routing_through_the_client(test_client_factory: ClientFactory) -> None:
    client = test_client_factory(hosts(), base_url="http://[::1]:5000")
    assert client.get("/").text == "loopback6 {}"
    assert client.get("/", headers={"host": "api.example.org:evil"}).status_code == 404


def test_ip_literal_hosts_reverse_with_their_port() -> None:
    router = Router([Host("[::1]:8443", app=Router([Route("/x", named("x").endpoint, name="x")]))])
    url = router.url_path_for("x")
    assert (url, url.host) == ("/x", "[::1]:8443")
    assert str(url.make_absolute_url("https://other")) == "https://[::1]:8443/x"
