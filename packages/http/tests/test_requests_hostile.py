"""What a client controls, at its worst: cookies and query strings, parsed whole and in one
pass, never an exception."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from stellina_testing import http_scope

from stellina.requests import Request, cookie_parser


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('a="unterminated', {"a": '"unterminated'}),
        ('a="\\"quoted\\""', {"a": '"quoted"'}),
        ('a="\\101\\102"', {"a": "AB"}),
        ("=bare; ==; ;;; a=1", {"": "=", "a": "1"}),
        ("a=1; a=2", {"a": "2"}),
        ("a=\x00b", {"a": "\x00b"}),
    ],
)
def test_odd_cookie_headers(header: str, expected: dict[str, str]) -> None:
    assert cookie_parser(header) == expected


def test_a_huge_cookie_header_is_parsed_whole() -> None:
    header = "; ".join(f'c{i}="v\\\\{i}"' for i in range(50_000)) + ";" * 100_000 + '"' * 10_000
    cookies = cookie_parser(header)
    assert cookies["c49999"] == "v\\49999"
    assert len(cookies) == 50_001


def test_request_cookies_merge_every_cookie_header() -> None:
    headers = [(b"cookie", b"a=1; b=2"), (b"cookie", b"b=3"), (b"cookie", b"\xff=\xfe")]
    assert Request(http_scope(headers=headers)).cookies == {"a": "1", "b": "3", "\xff": "\xfe"}


@pytest.mark.parametrize(
    "query",
    [
        b"%",
        b"%zz=%4&=&&&=x&a==b",
        b"a=%E2%82&b=%FF%FE",
        b"\xff\xfe=\x00",
        b"a+b=c+d&%2B=%2b",
        b"&" * 100_000,
        b"k=" + b"%41" * 200_000,
    ],
)
def test_malformed_query_strings_parse_like_parse_qsl(query: bytes) -> None:
    text = query.decode("latin-1")
    params = Request(http_scope(query_string=query)).query_params
    assert params.multi_items() == parse_qsl(text, keep_blank_values=True)
