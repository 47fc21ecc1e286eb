"""Store specs: file://, s3:// and module:attribute."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from imageattach.exceptions import ConfigurationError
from imageattach.stores.fs import FileSystemStore
from imageattach.stores.s3 import S3Store
from imageattach.storespec import import_object, parse_store


def test_file_store(tmp_path: Path) -> None:
    store = parse_store(f"file://{tmp_path}/images?base_url=https://img.example.com/x")
    assert isinstance(store, FileSystemStore)
    assert store.path == str(tmp_path / "images")
    assert store.get_url("things", 1, 4, 3, "image/png") == (
        "https://img.example.com/x/things/1/0/1.4x3.png"
    )


def test_file_store_default_base_url(tmp_path: Path) -> None:
    store = parse_store(f"file://{tmp_path}/my%20images")
    assert isinstance(store, FileSystemStore)
    assert store.path == str(tmp_path / "my images")
    assert store.base_url == (tmp_path / "my images").as_uri() + "/"


def test_s3_store() -> None:
    store = parse_store(
        "s3://my-bucket/some/prefix/?region=eu-west-1&max_age=60&presigned=yes"
        "&endpoint_url=http://127.0.0.1:9000&read_timeout=2.5"
    )
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.region) == ("my-bucket", "some/prefix", "eu-west-1")
    assert (store.max_age, store.presigned, store.read_timeout) == (60, True, 2.5)
    assert store.endpoint_url == "http://127.0.0.1:9000"


def test_s3_store_public_base_url() -> None:
    store = parse_store("s3://my-bucket?public_base_url=https://cdn.example.com/")
    assert store.get_url("things", 1, 4, 3, "image/png") == (
        "https://cdn.example.com/things/1/4x3.png"
    )


def test_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "spec_config.py").write_text(
        "from imageattach.stores.fs import FileSystemStore\n"
        f"STORE = FileSystemStore({str(tmp_path)!r}, 'http://a.example/')\n"
        "def make():\n"
        f"    return FileSystemStore({str(tmp_path)!r}, 'http://b.example/')\n"
        "class Holder:\n"
        "    store = STORE\n"
        "NOT_A_STORE = 42\n"
        "made = []\n"
        "class Model:\n"
        "    def __init__(self):\n"
        "        made.append(self)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "spec_config", raising=False)
    assert parse_store("spec_config:STORE").base_url == "http://a.example/"  # type: ignore[attr-defined]
    assert parse_store("spec_config:make").base_url == "http://b.example/"  # type: ignore[attr-defined]
    assert parse_store("spec_config:Holder.store") is import_object("spec_config:STORE")
    with pytest.raises(ConfigurationError, match="not an imageattach Store"):
        parse_store("spec_config:NOT_A_STORE")
    with pytest.raises(ConfigurationError, match="no attribute"):
        parse_store("spec_config:MISSING")
    with pytest.raises(ConfigurationError, match="is the class Model, not a Store"):
        parse_store("spec_config:Model")
    assert import_object("spec_config:made") == []  # refused without being instantiated


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "cannot understand"),
        ("/var/images", "cannot understand"),
        ("file:images", "file:///absolute/path"),
        ("s3:my-bucket", "s3://bucket"),
        ("ftp://host/x", "cannot understand"),
        ("file://host/images", "file:///absolute/path"),
        ("file:///x?base_url=a&color=red", "unknown option 'color'"),
        ("s3://", "s3://bucket"),
        ("s3://b-ucket?regoin=x", "unknown option.*did you mean .region."),
        ("s3://b-ucket?max_age=soon", "bad max_age"),
        ("s3://b-ucket?presigned=maybe", "bad presigned"),
        ("s3://b-ucket?region=a&region=b", "given twice"),
        ("s3://b-ucket?acl=everyone", "acl must be"),
        ("no_such_module_here:store", "cannot import"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_store(spec)
