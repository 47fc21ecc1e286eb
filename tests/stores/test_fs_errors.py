"""Filesystem store failures: full and read-only disks, made for real.

Every failure must be a :exc:`StoreError` (still an :exc:`OSError`) that names
the key, chains the original, keeps its ``errno``, and leaves no temporary
file.  The tests run as root here, where ``chmod`` denies nothing, so they
make real failures another way:

- a full disk: ``RLIMIT_FSIZE`` in a forked child (``EFBIG``; always works),
  and a 64 KiB tmpfs (``ENOSPC``; needs the right to mount);
- a read-only disk: a ``chmod 555`` directory written by a forked child
  that drops root (``EACCES``; always works), ``/sys`` (``EPERM`` even for
  root), and a tmpfs remounted read-only (``EROFS``; needs the right to mount).
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imageattach.exceptions import (
    FileNotFoundInStoreError,
    StoreAccessDeniedError,
    StoreError,
    StoreUnavailableError,
)
from imageattach.stores.fs import FileSystemStore, _store_errors

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="makes real disk failures with Linux facilities"
)

KEY = ("thing", 5, 3, 4, "image/png")
KEY_PATH = "thing/5/0/5.3x4.png"
OTHER_KEY = ("thing", 6, 3, 4, "image/png")
BIG = b"\0" * (1024 * 1024)
NOBODY = 65534


def make_store(root: Path) -> FileSystemStore:
    return FileSystemStore(root, "http://static.example.com/")


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@dataclass(frozen=True)
class Raised:
    """What an operation raised, as the child process reports it."""

    type: type[BaseException]
    message: str
    errno: int | None
    cause: type[BaseException] | None
    cause_errno: int | None

    @classmethod
    def of(cls, error: BaseException) -> Raised:
        cause = error.__cause__
        return cls(
            type(error),
            str(error),
            getattr(error, "errno", None),
            type(cause) if cause is not None else None,
            getattr(cause, "errno", None),
        )


def assert_store_error(raised: object, expected: type[StoreError], code: int, *words: str) -> None:
    """An ``expected`` (exactly), also an OSError, with a short message naming
    the key and ``words``, the errno kept and the original chained."""
    assert isinstance(raised, Raised), f"expected {expected.__name__}, got {raised!r}"
    assert raised.type is expected, raised
    assert issubclass(raised.type, OSError)
    assert raised.errno == code
    assert raised.cause is not None and issubclass(raised.cause, OSError)
    assert not issubclass(raised.cause, StoreError)
    assert raised.cause_errno == code
    assert "[Errno" not in raised.message
    for word in words:
        assert word in raised.message, raised.message


def outcome(action: Callable[[], object]) -> object:
    try:
        return action()
    except Exception as error:
        return Raised.of(error)


def in_child(setup: Callable[[], None], **actions: Callable[[], object]) -> dict[str, object]:
    """Run ``setup`` then each action in a forked child; their results, or a
    :class:`Raised` for what each raised.  Skips the test when ``setup``
    fails (the child cannot drop root, say)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, which never returns
        try:
            os.close(read_end)
            try:
                setup()
            except Exception as error:
                report: object = f"setup failed: {error!r}"
            else:
                report = {name: outcome(action) for name, action in actions.items()}
            data = pickle.dumps(report)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and data, "the child died"
    report = pickle.loads(data)
    if isinstance(report, str):
        pytest.skip(report)
    assert isinstance(report, dict)
    return report


# -- a full disk ---------------------------------------------------------------


def limit_file_size() -> None:
    """Files of this process stop at 64 KiB: writes past it fail with EFBIG
    (SIGXFSZ, which would kill the process, is ignored)."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))


@pytest.mark.parametrize("replacing", [False, True], ids=["new", "replacing"])
def test_a_write_over_the_file_size_limit_is_a_store_error(tmp_path: Path, replacing: bool) -> None:
    store = make_store(tmp_path)
    if replacing:
        store.put_file(io.BytesIO(b"old"), *KEY, False)
    report = in_child(
        limit_file_size,
        put=lambda: store.put_file(io.BytesIO(BIG), *KEY, False),
        small=lambda: store.put_file(io.BytesIO(b"small"), *OTHER_KEY, False),
    )
    assert_store_error(report["put"], StoreError, errno.EFBIG, "no space left", KEY_PATH, "write")
    assert report["small"] is None  # other writes still work
    expected = {KEY_PATH, "thing/6/0/6.3x4.png"} if replacing else {"thing/6/0/6.3x4.png"}
    assert files(tmp_path) == expected  # no .tmp-* left behind
    if replacing:
        assert (tmp_path / KEY_PATH).read_bytes() == b"old"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, where one is allowed to mount it."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs CAP_SYS_ADMIN): {result.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def test_a_full_disk_is_a_store_error(tmpfs: Path) -> None:
    store = make_store(tmpfs)
    store.put_file(io.BytesIO(b"old"), *KEY, False)
    assert_store_error(
        outcome(lambda: store.put_file(io.BytesIO(BIG), *KEY, False)),
        StoreError,
        errno.ENOSPC,
        f"could not write {KEY_PATH} in {tmpfs}: no space left on device",
    )
    assert files(tmpfs) == {KEY_PATH}
    with store.get_file(*KEY) as f:
        assert f.read() == b"old"
    # The partial temporary file was removed, so its space is free again.
    store.put_file(io.BytesIO(b"x" * 32 * 1024), *OTHER_KEY, False)


def test_a_read_only_mount_denies_writes_and_deletes(tmpfs: Path) -> None:
    store = make_store(tmpfs)
    store.put_file(io.BytesIO(b"old"), *KEY, False)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    put = outcome(lambda: store.put_file(io.BytesIO(b"new"), *KEY, False))
    assert_store_error(put, StoreAccessDeniedError, errno.EROFS, "read-only file system", KEY_PATH)
    assert isinstance(put, Raised) and issubclass(put.type, PermissionError)
    delete = outcome(lambda: store.delete_file(*KEY))
    assert_store_error(delete, StoreAccessDeniedError, errno.EROFS, "could not delete", KEY_PATH)
    with store.get_file(*KEY) as f:  # reading still works
        assert f.read() == b"old"
    assert files(tmpfs) == {KEY_PATH}


# -- a read-only disk ------------------------------------------------------------


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A directory an unprivileged user can reach (pytest's are 0700 for root)."""
    path = Path(tempfile.mkdtemp(prefix="imageattach-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for directory in (path, *path.rglob("*")):
            if directory.is_dir():
                directory.chmod(0o755)
        shutil.rmtree(path)


def test_a_read_only_directory_denies_writes_and_deletes(reachable_dir: Path) -> None:
    root = reachable_dir / "images"
    store = make_store(root)
    store.put_file(io.BytesIO(b"old"), *KEY, False)
    for directory in (root, *root.rglob("*")):
        if directory.is_dir():
            directory.chmod(0o555)

    def unprivileged() -> None:
        if os.geteuid() == 0:  # root writes anywhere: become nobody
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        os.listdir(root)  # reachable?

    def read() -> bytes:
        with store.get_file(*KEY) as f:
            return f.read()

    report = in_child(
        unprivileged,
        replace=lambda: store.put_file(io.BytesIO(b"new"), *KEY, False),
        create=lambda: store.put_file(io.BytesIO(b"new"), *OTHER_KEY, False),
        delete=lambda: store.delete_file(*KEY),
        read=read,
        listing=lambda: store.list_files("thing", 5),
    )
    for action in ("replace", "create"):
        assert_store_error(
            report[action], StoreAccessDeniedError, errno.EACCES, "could not write", "denied"
        )
    assert_store_error(report["replace"], StoreAccessDeniedError, errno.EACCES, KEY_PATH)
    assert_store_error(report["delete"], StoreAccessDeniedError, errno.EACCES, KEY_PATH)
    assert report["read"] == b"old"
    assert report["listing"] == [(3, 4, "image/png")]
    assert files(root) == {KEY_PATH}


def sysfs_mounted() -> bool:
    try:
        with open("/proc/self/mounts") as mounts:
            return any(line.split()[1:3] == ["/sys", "sysfs"] for line in mounts)
    except OSError:
        return False


@pytest.mark.skipif(not sysfs_mounted(), reason="/sys is not a sysfs here")
def test_sysfs_denies_writes_even_to_root() -> None:
    store = make_store(Path("/sys"))
    put = outcome(lambda: store.put_file(io.BytesIO(b"new"), *KEY, False))
    assert isinstance(put, Raised) and put.type is StoreAccessDeniedError, put
    assert put.errno in (errno.EPERM, errno.EACCES)
    assert_store_error(put, StoreAccessDeniedError, put.errno, "could not write", KEY_PATH)
    store.delete_file(*KEY)  # missing: not an error
    with pytest.raises(FileNotFoundInStoreError):
        store.get_file(*KEY)


# -- other failures ---------------------------------------------------------------


def test_a_missing_file_is_still_a_file_not_found_error(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    for seed_catches in (FileNotFoundError, IOError, OSError, StoreError):
        with pytest.raises(seed_catches):
            store.get_file(*KEY)
    assert_store_error(
        outcome(lambda: store.get_file(*KEY)),
        FileNotFoundInStoreError,
        errno.ENOENT,
        f"could not read {KEY_PATH} in {tmp_path}: no such file",
    )
    store.delete_file(*KEY)
    assert store.list_files("thing", 5) == []


def test_a_file_where_a_directory_should_be_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "thing").write_bytes(b"not a directory")
    store = make_store(tmp_path)
    put = outcome(lambda: store.put_file(io.BytesIO(b"new"), *KEY, False))
    assert_store_error(put, StoreError, errno.ENOTDIR, "could not write", KEY_PATH)
    assert_store_error(
        outcome(lambda: store.get_file(*KEY)), StoreError, errno.ENOTDIR, "could not read"
    )
    assert_store_error(
        outcome(lambda: store.delete_file(*KEY)), StoreError, errno.ENOTDIR, "could not delete"
    )
    assert_store_error(
        outcome(lambda: store.list_files("thing", 5)), StoreError, errno.ENOTDIR, "thing/5/0/"
    )
    assert files(tmp_path) == {"thing"}


def test_a_failing_upload_is_not_a_store_error(tmp_path: Path) -> None:
    class Failing(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            raise ConnectionResetError(errno.ECONNRESET, "connection reset by the client")

    store = make_store(tmp_path)
    with pytest.raises(ConnectionResetError) as raised:
        store.put_file(Failing(), *KEY, False)  # type: ignore[arg-type]
    assert not isinstance(raised.value, StoreError)
    assert files(tmp_path) == set()


# The errnos that cannot be made for real here, through the same translation.
@pytest.mark.parametrize(
    ("code", "action", "expected", "reason"),
    [
        (errno.EDQUOT, "write", StoreError, "no space left (disk quota exceeded)"),
        (errno.EIO, "read", StoreError, "input/output error"),
        (errno.ENOENT, "write", StoreError, "no such file or directory"),
        (errno.EPERM, "delete", StoreAccessDeniedError, "operation not permitted"),
        (errno.ETIMEDOUT, "read", StoreUnavailableError, "connection timed out"),
        (errno.ESTALE, "write", StoreUnavailableError, "stale"),
    ],
)
def test_the_translation_table(
    code: int, action: str, expected: type[StoreError], reason: str
) -> None:
    def fail() -> None:
        with _store_errors(action, KEY_PATH, "/srv/images"):
            raise OSError(code, os.strerror(code), "/srv/images/" + KEY_PATH)

    assert_store_error(
        outcome(fail), expected, code, f"could not {action} {KEY_PATH} in /srv/images: {reason}"
    )
