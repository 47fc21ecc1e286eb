"""Serving options are validated at construction, with a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imageattach.exceptions import ConfigurationError
from imageattach.forwarded import TrustedProxyHeaders
from imageattach.middleware.options import (
    IMMUTABLE,
    ServeOptions,
    has_version_query,
    make_options,
)
from imageattach.stores.fs import HttpExposedFileSystemStore


def test_defaults() -> None:
    options = ServeOptions()
    assert options.cors is False
    assert options.missing == "404"
    assert options.cache_control == "no-cache"
    assert options.versioned_cache_control == IMMUTABLE
    assert options.follow_symlinks is False
    assert options.trusted_proxy_headers is False
    assert options.on_miss is None


def test_a_list_of_origins_is_kept_as_a_tuple() -> None:
    assert ServeOptions(cors=["https://a.example"]).cors == ("https://a.example",)


@pytest.mark.parametrize(
    "arguments",
    [
        {"cors": "https://a.example"},
        {"cors": ["a.example"]},
        {"cors": ["https://a.example/"]},
        {"cors": ["*"]},
        {"cors": ["https://a.example\r\nX: 1"]},
        {"missing": "fall-through"},
        {"cache_control": ""},
        {"cache_control": "max-age=1\r\nSet-Cookie: a=b"},
        {"versioned_cache_control": 5},
        {"follow_symlinks": "yes"},
        {"trusted_proxy_headers": -1},
        {"trusted_proxy_headers": "sometimes"},
        {"is_versioned": "_ts"},
        {"on_miss": "resize"},
    ],
)
def test_bad_values_are_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        ServeOptions(**arguments)


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_options(None, {"mising": "404", "zzz": 1})
    message = str(raised.value)
    assert "'mising': did you mean 'missing'?" in message
    assert "'zzz'" in message and "did you mean 'zzz'" not in message
    assert "known: cache_control, cors, follow_symlinks" in message


def test_the_store_suggests_the_closest_serving_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'trusted_proxy_headers'"):
        HttpExposedFileSystemStore(tmp_path, trusted_proxy_header=True)


@pytest.mark.parametrize(
    ("value", "trusted"),
    [
        (False, None),
        ("false", None),
        (True, TrustedProxyHeaders(x_proto=1, x_host=1, x_port=1, x_prefix=1)),
        ("forwarded", TrustedProxyHeaders(forwarded=1)),
    ],
)
def test_trusted_proxy_headers_are_normalised(
    value: object, trusted: TrustedProxyHeaders | None
) -> None:
    options = ServeOptions(trusted_proxy_headers=value)  # type: ignore[arg-type]
    assert options.proxy_trust == trusted
    assert options.trusted_proxy_headers == (False if trusted is None else trusted)


def test_overrides_apply_on_top_of_given_options() -> None:
    options = make_options(ServeOptions(cors=True), {"missing": "fallthrough"})
    assert (options.cors, options.missing) == (True, "fallthrough")


def test_the_store_validates_its_serving_options(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path, cors=True, missing="fallthrough")
    assert store.serve_options.missing == "fallthrough"
    assert store.middleware_options(asynchronous=False) is store.serve_options
    with pytest.raises(ConfigurationError):
        HttpExposedFileSystemStore(tmp_path, cache_control="a\nb")
    with pytest.raises(ConfigurationError):
        HttpExposedFileSystemStore(tmp_path, no_such_option=True)


@pytest.mark.parametrize(
    ("query", "versioned"),
    [("_ts=1", True), ("a=1&_ts=1", True), ("x_ts=1", False), ("", False), ("ts=1", False)],
)
def test_has_version_query(query: str, versioned: bool) -> None:
    assert has_version_query(query) is versioned
