"""Host parsing: what `split_host` accepts, what it refuses, and `port_number`."""

from __future__ import annotations

import pytest

from stellina.asgi import port_number, split_host


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", ("example.com", "")),
        ("Example.COM:8000", ("example.com", "8000")),
        ("api_service", ("api_service", "")),
        ("api_service:000080", ("api_service", "000080")),
        ("api_service:65536", ("api_service", "65536")),  # the range is port_number's job
        ("127.0.0.1:443", ("127.0.0.1", "443")),
        ("[::1]", ("[::1]", "")),
        ("[::1]:8000", ("[::1]", "8000")),
        ("[FE80::2]:1", ("[fe80::2]", "1")),
        ("[::ffff:192.0.2.1]", ("[::ffff:192.0.2.1]", "")),
        ("[v1.foo]", ("[v1.foo]", "")),
        ("[V7.a:b]:9", ("[v7.a:b]", "9")),
        ("xn--bcher-kva.example", ("xn--bcher-kva.example", "")),
        ("example.com.", ("example.com.", "")),
        ("a%41b", ("a%41b", "")),
    ],
)
def test_valid_hosts(value: str, expected: tuple[str, str]) -> None:
    assert split_host(value) == expected


HOSTILE = [
    "",
    ":80",
    "[::1]@attacker",
    "user@example.com",
    "api_service/evil",
    "a?b",
    "a#b",
    "a b",
    "a\tb",
    "a\r\nb",
    "a\\b",
    "[:::]",
    "[::ffff:999.999.999.999]",
    "[::1]:evil",
    "[::1]:",
    "[::1",
    "::1",
    "[::1].",
    "[::1]evil.example.com",
    "[::1]]",
    "[[::1]]",
    "[fe80::1%25eth0]",  # zone identifiers have no place in a Host header
    "[v1.]",
    "[vz.foo]",
    "[v1.foo/bar]",
    "[]",
    "example.com:",
    "example.com:80:80",
    "example.com:+80",
    "example.com:-1",
    "example.com: 80",
    "example.com:８０",  # noqa: RUF001 - fullwidth digits are not ASCII digits
    "ex%ample.com",
    "exämple.com",
    "a:b:c",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_hosts_are_refused(value: str) -> None:
    assert split_host(value) is None


def test_long_values_are_parsed_in_linear_time() -> None:
    assert split_host("a" * 100_000 + "/") is None
    assert split_host("[" + "1:" * 50_000 + "]") is None
    assert split_host("a" * 100_000) == ("a" * 100_000, "")


@pytest.mark.parametrize(
    ("port", "number"),
    [
        ("80", 80),
        ("000080", 80),
        ("0", 0),
        ("000", 0),
        ("65535", 65535),
        ("65536", None),
        ("100000", None),
        ("0000000000065535", 65535),
        ("9" * 5000, None),
        ("", None),
    ],
)
def test_port_number(port: str, number: int | None) -> None:
    assert port_number(port) == number
