"""Filesystem stores: the seed's layout, atomic writes, listing, URLs."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from imageattach.exceptions import ConfigurationError, LocateError, UnknownMimeTypeError
from imageattach.hosturl import host_url_context
from imageattach.stores.fs import (
    EXTENSIONS,
    FileSystemStore,
    HttpExposedFileSystemStore,
    guess_extension,
    guess_mimetype,
)


@pytest.fixture
def store(tmp_path: Path) -> FileSystemStore:
    return FileSystemStore(tmp_path, "http://static.example.com/images/")


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_guess_extension_is_a_fixed_table() -> None:
    assert guess_extension("image/jpeg") == ".jpe"  # what the seed wrote
    assert guess_extension("image/png") == ".png"
    assert guess_extension("image/svg+xml") == ".svg"
    with pytest.raises(UnknownMimeTypeError, match="image/x-unknown"):
        guess_extension("image/x-unknown")
    assert guess_mimetype(".JPE") == "image/jpeg"
    assert guess_mimetype(".ico") in ("image/vnd.microsoft.icon", "image/x-icon")
    assert guess_mimetype(".exe") is None
    assert all(guess_extension(guess_mimetype(e) or "") == e for e in set(EXTENSIONS.values()))


def test_layout_is_the_seeds(store: FileSystemStore, tmp_path: Path) -> None:
    assert store.get_path("user-picture", 1234, 10, 20, "image/jpeg") == (
        "user-picture",
        "234",
        "1",
        "1234.10x20.jpe",
    )
    store.put_file(io.BytesIO(b"data"), "user-picture", 1234, 10, 20, "image/jpeg", False)
    assert files(tmp_path) == {"user-picture/234/1/1234.10x20.jpe"}
    assert store.get_url("user-picture", 1234, 10, 20, "image/jpeg") == (
        "http://static.example.com/images/user-picture/234/1/1234.10x20.jpe"
    )


def test_put_get_delete(store: FileSystemStore, tmp_path: Path) -> None:
    key = ("thing", 5, 3, 4, "image/png")
    store.put_file(io.BytesIO(b"first"), *key, False)
    store.put_file(io.BytesIO(b"second"), *key, True)  # replaces
    with store.get_file(*key) as f:
        assert f.read() == b"second"
    mode = (tmp_path / "thing/5/0/5.3x4.png").stat().st_mode
    assert stat.S_IMODE(mode) == 0o644  # readable by the web server
    store.delete_file(*key)
    store.delete_file(*key)  # a missing file is not an error
    with pytest.raises(FileNotFoundError):
        store.get_file(*key)
    assert files(tmp_path) == set()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    store: FileSystemStore, tmp_path: Path
) -> None:
    key = ("thing", 5, 3, 4, "image/png")
    store.put_file(io.BytesIO(b"old"), *key, False)

    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = False

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            if self.sent:
                raise OSError("connection reset")
            self.sent = True
            buffer[:3] = b"new"
            return 3

    with pytest.raises(OSError, match="connection reset"):
        store.put_file(Failing(), *key, False)  # type: ignore[arg-type]
    assert files(tmp_path) == {"thing/5/0/5.3x4.png"}
    with store.get_file(*key) as f:
        assert f.read() == b"old"


def test_list_files_lists_one_object(store: FileSystemStore, tmp_path: Path) -> None:
    assert store.list_files("thing", 5) == []
    for width, mimetype in ((30, "image/jpeg"), (10, "image/jpeg"), (10, "image/png")):
        store.put_file(io.BytesIO(b"x"), "thing", 5, width, width, mimetype, True)
    store.put_file(io.BytesIO(b"x"), "thing", 1005, 10, 10, "image/png", True)
    store.put_file(io.BytesIO(b"x"), "other", 5, 10, 10, "image/png", True)
    directory = tmp_path / "thing/5/0"
    (directory / ".tmp-abc").write_bytes(b"partial")
    (directory / "5.1x1.exe").write_bytes(b"?")
    (directory / "55.1x1.png").write_bytes(b"?")
    assert store.list_files("thing", 5) == [
        (10, 10, "image/jpeg"),
        (10, 10, "image/png"),
        (30, 30, "image/jpeg"),
    ]


def test_file_system_store_base_url(tmp_path: Path) -> None:
    store = FileSystemStore(tmp_path, "https://cdn.example.com/x")
    assert store.base_url == "https://cdn.example.com/x/"
    assert repr(store) == f"FileSystemStore({str(tmp_path)!r}, 'https://cdn.example.com/x/')"
    with pytest.raises(ConfigurationError):
        FileSystemStore(tmp_path, "")


def test_http_exposed_store_builds_urls_from_the_request(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path, "/imgs/")
    with pytest.raises(LocateError, match="host_url_getter"):
        store.get_url("thing", 5, 3, 4, "image/png")
    with host_url_context("https://a.example.com/app"):
        assert store.get_url("thing", 5, 3, 4, "image/png") == (
            "https://a.example.com/app/imgs/thing/5/0/5.3x4.png"
        )
    with host_url_context("https://b.example.com/"):
        assert store.base_url == "https://b.example.com/imgs/"


def test_http_exposed_store_host_url_getter_wins(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path, "", lambda: "https://worker.example.com")
    with host_url_context("https://request.example.com/"):
        assert store.base_url == "https://worker.example.com/"
    with pytest.raises(ConfigurationError):
        HttpExposedFileSystemStore(tmp_path, host_url_getter="https://nope/")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        HttpExposedFileSystemStore(tmp_path, prefix=None)  # type: ignore[arg-type]


def test_paths_are_accepted_as_path_objects(tmp_path: Path) -> None:
    store = FileSystemStore(tmp_path / "nested", "http://x/")
    assert store.path == os.fspath(tmp_path / "nested")
    store.put_file(io.BytesIO(b"x"), "t", 1, 1, 1, "image/gif", True)
    assert (tmp_path / "nested/t/1/0/1.1x1.gif").exists()
