"""The one parser of forwarded headers: opt-in, hop counts, RFC 7239, and
hostile values ignored in bounded time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from imageattach.exceptions import ConfigurationError
from imageattach.forwarded import (
    MAX_HEADER_LENGTH,
    Forwarded,
    TrustedProxyHeaders,
    parse_forwarded,
    trusted_proxy_headers,
)

ONE = TrustedProxyHeaders(x_proto=1, x_host=1, x_port=1, x_prefix=1)


def parse(trust: TrustedProxyHeaders | None, **headers: str) -> Forwarded:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return parse_forwarded(trust, named.get)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, None),
        (0, None),
        ("false", None),
        ("off", None),
        (TrustedProxyHeaders(), None),
        (True, ONE),
        ("true", ONE),
        (" Yes ", ONE),
        ("1", ONE),
        (2, TrustedProxyHeaders(x_proto=2, x_host=2, x_port=2, x_prefix=2)),
        ("forwarded", TrustedProxyHeaders(forwarded=1)),
        ("forwarded=2", TrustedProxyHeaders(forwarded=2)),
        ("x_proto=1, x_host=2", TrustedProxyHeaders(x_proto=1, x_host=2)),
        ({"x_proto": 1, "x_prefix": "1"}, TrustedProxyHeaders(x_proto=1, x_prefix=1)),
    ],
)
def test_configuration_values(value: object, expected: TrustedProxyHeaders | None) -> None:
    assert trusted_proxy_headers(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        -1,
        17,
        "sometimes",
        "x_proto=one",
        "x_porto=1",
        {"x_host": True},
        1.5,
        ["x_host"],
        {"forwarded": 1, "x_host": 1},
        "9" * 50,
    ],
)
def test_bad_configuration_is_refused(value: object) -> None:
    with pytest.raises(ConfigurationError):
        trusted_proxy_headers(value)


def test_nothing_is_trusted_by_default() -> None:
    assert parse(None, x_forwarded_host="evil.example", forwarded="host=evil") == Forwarded()


def test_x_forwarded_values_of_the_nearest_proxy() -> None:
    got = parse(
        ONE,
        x_forwarded_proto="http, HTTPS",
        x_forwarded_host="spoofed.example, cdn.example",
        x_forwarded_port="1, 8443",
        x_forwarded_prefix="/evil, /app/",
    )
    assert got == Forwarded("https", "cdn.example", 8443, "/app")


def test_hop_counts_take_the_value_that_many_from_the_right() -> None:
    trust = TrustedProxyHeaders(x_proto=2, x_host=2)
    got = parse(trust, x_forwarded_proto="https, http", x_forwarded_host="a.example, b.internal")
    assert got == Forwarded("https", "a.example")
    # Fewer values than trusted proxies: the header is not used at all.
    assert parse(trust, x_forwarded_host="only.example") == Forwarded()


def test_an_untrusted_header_is_ignored() -> None:
    trust = TrustedProxyHeaders(x_proto=1)
    assert parse(trust, x_forwarded_proto="https", x_forwarded_host="evil") == Forwarded("https")


@pytest.mark.parametrize(
    ("header", "hops", "expected"),
    [
        ("proto=https;host=example.com", 1, Forwarded("https", "example.com")),
        (
            'for=1.2.3.4;Proto="HTTPS";Host="example.com:8443"',
            1,
            Forwarded("https", "example.com:8443"),
        ),
        # Several elements: the last is the nearest proxy's.
        (
            "host=spoofed.example, host=cdn.example;proto=https",
            1,
            Forwarded("https", "cdn.example"),
        ),
        (
            "host=a.example;proto=https, host=b.internal;proto=http",
            2,
            Forwarded("https", "a.example"),
        ),
        # A quoted value may hold ',' and ';': it is one value, and not a host.
        ('for="[::1]:80";host="a.example, b;c"', 1, Forwarded()),
        ('host="[2001:db8::1]:8080"', 1, Forwarded(None, "[2001:db8::1]:8080")),
        ("host=only.example", 2, Forwarded()),
    ],
)
def test_rfc_7239_forwarded(header: str, hops: int, expected: Forwarded) -> None:
    assert parse(TrustedProxyHeaders(forwarded=hops), forwarded=header) == expected


def test_forwarded_trust_ignores_x_forwarded_and_the_reverse() -> None:
    forwarded = TrustedProxyHeaders(forwarded=1)
    assert parse(forwarded, x_forwarded_host="evil.example") == Forwarded()
    assert parse(ONE, forwarded="host=evil.example") == Forwarded()


@pytest.mark.parametrize(
    "host",
    [
        "example.com/path",
        "user@example.com",
        "user:pass@example.com",
        "example.com\r\nSet-Cookie: a=b",
        "example.com\n",
        "exa mple.com",
        "example.com:99999",
        "example.com:80:80",
        "example.com:",
        "[::1",
        "<script>",
        "example.com?x",
        "example.com#x",
        "é.example",
        "",
        "a" * 64 + ".example",
    ],
)
def test_a_bad_host_is_ignored(host: str) -> None:
    assert parse(ONE, x_forwarded_host=host).host is None
    assert parse(TrustedProxyHeaders(forwarded=1), forwarded=f'host="{host}"').host is None


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"x_forwarded_proto": "javascript"}, "proto"),
        ({"x_forwarded_proto": "https\r\n"}, "proto"),
        ({"x_forwarded_port": "0"}, "port"),
        ({"x_forwarded_port": "65536"}, "port"),
        ({"x_forwarded_port": "٨٠"}, "port"),  # Unicode digits
        ({"x_forwarded_port": "80a"}, "port"),
        ({"x_forwarded_prefix": "app"}, "prefix"),
        ({"x_forwarded_prefix": "//evil.example"}, "prefix"),
        ({"x_forwarded_prefix": "/app?x=1"}, "prefix"),
        ({"x_forwarded_prefix": "/app\r\nX: 1"}, "prefix"),
        ({"x_forwarded_prefix": "/a b"}, "prefix"),
        ({"x_forwarded_prefix": "/" + "a" * 2000}, "prefix"),
    ],
)
def test_bad_values_are_ignored(headers: dict[str, str], field: str) -> None:
    assert getattr(parse(ONE, **headers), field) is None


def test_an_overlong_header_is_ignored() -> None:
    long_list = ", ".join(["a.example"] * (MAX_HEADER_LENGTH // 10)) + ", good.example"
    assert len(long_list) > MAX_HEADER_LENGTH
    assert parse(ONE, x_forwarded_host=long_list).host is None
    assert parse(TrustedProxyHeaders(forwarded=1), forwarded="host=x;" * 1000).host is None


@pytest.mark.parametrize(
    "value",
    [
        "a" * 100_000,
        "a." * 50_000 + "!",
        "-" * 1000 + ":" + "1" * 1000,
        "[" + ":" * 100_000,
        '"' * 100_000,
        "\\" * 100_000,
        "host=" + '"\\' * 50_000,
        ";" * 100_000,
        "," * 100_000,
    ],
)
def test_hostile_values_are_ignored_quickly(value: str) -> None:
    """Patterns that make backtracking parsers slow are answered at once."""
    start = time.perf_counter()
    for trust, name in ((ONE, "x_forwarded_host"), (TrustedProxyHeaders(forwarded=1), "forwarded")):
        got: Any = parse(trust, **{name: value})
        assert got.host is None
    assert time.perf_counter() - start < 0.5


def test_a_bounded_header_at_the_limit_is_parsed_quickly() -> None:
    """Values just under the length limit, built to backtrack, stay fast."""
    start = time.perf_counter()
    for filler in ("a.", "a-", "[:", "1:", '\\"'):
        value = filler * (MAX_HEADER_LENGTH // 2 - 1) + "!"
        parse(ONE, x_forwarded_host=value, x_forwarded_prefix="/" + value)
        parse(TrustedProxyHeaders(forwarded=1), forwarded="host=" + value)
    assert time.perf_counter() - start < 0.5
