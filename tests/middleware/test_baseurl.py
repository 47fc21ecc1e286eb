"""The request base URL made current for ``locate()``."""

from __future__ import annotations

import pytest

from imageattach.middleware.baseurl import base_url


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("http", "example.com", None, ""), "http://example.com/"),
        # An explicit port in the Host header stays, as the seed kept it.
        (("http", "example.com:80", None, ""), "http://example.com:80/"),
        (("https", "example.com:443", None, "/"), "https://example.com:443/"),
        (("http", "example.com:8080", None, ""), "http://example.com:8080/"),
        (("http", None, ("10.0.0.1", 80), ""), "http://10.0.0.1/"),
        (("https", "example.com:8443", None, "/app/"), "https://example.com:8443/app/"),
        (("http", None, ("10.0.0.1", 8000), "/app"), "http://10.0.0.1:8000/app/"),
        (("http", "h", None, "/a b/é"), "http://h/a%20b/%C3%A9/"),
        (("http", "h", None, b"/\xc3\xa9"), "http://h/%C3%A9/"),
    ],
)
def test_base_url(arguments: tuple, expected: str) -> None:  # type: ignore[type-arg]
    assert base_url(*arguments) == expected


def test_a_malformed_host_gives_no_url() -> None:
    assert base_url("http", "evil.example/<script>", None, "") is None
    assert base_url("http", None, None, "") is None


def test_forwarded_values_use_the_nearest_proxy() -> None:
    url = base_url("http", "internal:8000", None, "", "http, https", "spoofed, cdn.example")
    assert url == "https://cdn.example/"
    assert base_url("http", "h", None, "", "gopher") == "http://h/"
