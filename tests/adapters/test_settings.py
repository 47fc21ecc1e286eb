"""Building a store from prefixed framework settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageattach.adapters.settings import parse_bool, parse_cors, store_from_settings
from imageattach.exceptions import ConfigurationError
from imageattach.stores.fs import HttpExposedFileSystemStore


def flask_key(name: str) -> str:
    return f"IMAGEATTACH_{name.upper()}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("true", True),
        (" On ", True),
        ("*", True),
        ("false", False),
        ("", False),
        ("https://a.example, https://b.example", ("https://a.example", "https://b.example")),
        (["https://a.example"], ("https://a.example",)),
    ],
)
def test_parse_cors(value: object, expected: object) -> None:
    assert parse_cors(value, name="cors") == expected


@pytest.mark.parametrize("value", ["a.example", ["https://a.example", 3], 1])
def test_parse_cors_refuses(value: object) -> None:
    with pytest.raises(ConfigurationError, match="cors"):
        parse_cors(value, name="cors")


def test_parse_bool_refuses_other_strings() -> None:
    assert parse_bool("yes", name="x") is True
    with pytest.raises(ConfigurationError, match="x must be true or false"):
        parse_bool("maybe", name="x")


def test_store_from_settings(tmp_path: Path) -> None:
    store = store_from_settings(
        {
            "IMAGEATTACH_STORE_PATH": tmp_path,
            "IMAGEATTACH_PREFIX": "media",
            "IMAGEATTACH_CORS": True,
            "IMAGEATTACH_HOST_URL": "https://example.com",
            "SECRET_KEY": "not ours",
        },
        key=flask_key,
    )
    assert isinstance(store, HttpExposedFileSystemStore)
    assert (store.path, store.prefix, store.cors) == (str(tmp_path), "media", True)
    assert store.base_url == "https://example.com/media/"


def test_default_path_is_used_when_not_configured(tmp_path: Path) -> None:
    store = store_from_settings({}, key=flask_key, default_path=tmp_path / "images")
    assert store.path == str(tmp_path / "images")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "set IMAGEATTACH_STORE_PATH"),
        ({"IMAGEATTACH_STORE_PATH": 3}, "IMAGEATTACH_STORE_PATH must be a directory"),
        ({"IMAGEATTACH_STORE_PATH": "/x", "IMAGEATTACH_PREFIX": 3}, "IMAGEATTACH_PREFIX"),
        ({"IMAGEATTACH_STORE_PATH": "/x", "IMAGEATTACH_HOST_URL": " "}, "IMAGEATTACH_HOST_URL"),
        ({"IMAGEATTACH_STORE_PATH": "/x", "IMAGEATTACH_SECRETKEY": "k"}, "IMAGEATTACH_SECRETKEY"),
        ({"IMAGEATTACH_STORE_PATH": "/x", "IMAGEATTACH_PRESETS": "{"}, "PRESETS must be a JSON"),
        ({"IMAGEATTACH_STORE_PATH": "/x", "IMAGEATTACH_PRESETS": "[1]"}, "PRESETS must be a map"),
        (
            {"IMAGEATTACH_STORE_PATH": "/x", "IMAGEATTACH_PRESETS": {"a": {"widht": 3}}},
            "widht",
        ),
        (
            {"IMAGEATTACH_STORE_PATH": "/x", "IMAGEATTACH_PRESETS_ONLY": "maybe"},
            "IMAGEATTACH_PRESETS_ONLY",
        ),
    ],
)
def test_bad_settings_name_the_key(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        store_from_settings(settings, key=flask_key)


def test_presets_from_objects_and_from_ini_text(tmp_path: Path) -> None:
    avatar = {"width": 96, "height": 96, "fit": "cover"}
    from_code = store_from_settings(
        {
            "IMAGEATTACH_STORE_PATH": tmp_path,
            "IMAGEATTACH_SECRET_KEY": "k" * 32,
            "IMAGEATTACH_PRESETS": {"avatar": avatar},
        },
        key=flask_key,
    )
    from_ini = store_from_settings(
        {
            "imageattach.store_path": str(tmp_path),
            "imageattach.presets": '{"avatar": {"width": 96, "height": 96, "fit": "cover"}}',
            "imageattach.presets_only": "true",
        },
        key=lambda name: f"imageattach.{name}",
    )
    assert from_code.presets == from_ini.presets
    assert set(from_ini.presets) == {"avatar"}
    assert from_ini.resizer.presets_only and not from_code.resizer.presets_only
