"""``open_file``: one open + ``fstat``, confined to the real root, with and
without the ``openat2`` fast path (the answers must be the same)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageattach.middleware import files
from imageattach.middleware.files import MISSING, NOT_FOUND, OpenedFile, open_file


@pytest.fixture(params=["fast", "portable"])
def path_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with the ``openat2`` fast path (when the kernel has it)
    and without it."""
    if request.param == "portable":
        monkeypatch.setattr(files, "_open_without_symlinks", None)
    elif files._open_without_symlinks is None:
        pytest.skip("no openat2 here")
    return str(request.param)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``root`` with a file, a directory, and symlinks inside and out."""
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.png").write_bytes(b"inside")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.png").write_bytes(b"SECRET")
    (root / "in.png").symlink_to(root / "a" / "x.png")
    (root / "indir").symlink_to(root / "a", target_is_directory=True)
    (root / "out.png").symlink_to(tmp_path / "outside" / "x.png")
    (root / "outdir").symlink_to(tmp_path / "outside", target_is_directory=True)
    return root


def _open(tree: Path, relative: str, confined: bool = True) -> OpenedFile | int:
    root = os.path.realpath(tree)
    return open_file(os.path.join(root, relative), root if confined else None)


def _read(opened: OpenedFile | int) -> bytes:
    assert isinstance(opened, OpenedFile)
    try:
        return os.pread(opened.fd, 100, 0)
    finally:
        os.close(opened.fd)


def test_a_plain_file_has_its_own_path_as_real_path(tree: Path, path_kind: str) -> None:
    opened = _open(tree, "a/x.png")
    assert isinstance(opened, OpenedFile)
    assert opened.real_path == os.path.join(os.path.realpath(tree), "a/x.png")
    assert opened.stat.st_size == 6
    assert _read(opened) == b"inside"


@pytest.mark.parametrize("relative", ["in.png", "indir/x.png"])
def test_symlinks_staying_inside_are_followed(tree: Path, path_kind: str, relative: str) -> None:
    opened = _open(tree, relative)
    assert isinstance(opened, OpenedFile)
    assert opened.real_path == os.path.join(os.path.realpath(tree), "a/x.png")
    assert _read(opened) == b"inside"


@pytest.mark.parametrize("relative", ["out.png", "outdir/x.png"])
def test_symlinks_leaving_are_refused_unless_allowed(
    tree: Path, path_kind: str, relative: str
) -> None:
    assert _open(tree, relative) == NOT_FOUND
    assert _read(_open(tree, relative, confined=False)) == b"SECRET"


def test_missing_and_directories(tree: Path, path_kind: str) -> None:
    assert _open(tree, "a/nothing.png") == MISSING
    assert _open(tree, "a/x.png/deeper.png") == MISSING
    assert _open(tree, "a") == NOT_FOUND
    assert _open(tree, "indir") == NOT_FOUND


def test_a_file_replaced_after_opening_keeps_its_bytes(tree: Path, path_kind: str) -> None:
    opened = _open(tree, "a/x.png")
    (tree / "new.png").write_bytes(b"NEW")
    os.replace(tree / "new.png", tree / "a" / "x.png")
    assert isinstance(opened, OpenedFile)
    assert os.fstat(opened.fd).st_nlink == 0  # what the core checks before pathsend
    assert _read(opened) == b"inside"
