"""Exclusive locks by name across processes, on files in a directory
(:func:`fcntl.flock`).  The on-demand resizer takes them so that processes
sharing a store generate each thumbnail once; the filesystem store takes
them around the writes and cleanups of one object's files."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from .exceptions import StoreUnavailableError

__all__ = ["OBJECT_LOCK_TIMEOUT", "FileLocks", "LocalLocks", "NamedLocks", "object_lock"]


class NamedLocks(Protocol):
    """Exclusive locks by name: what the on-demand resizer and the stores'
    object locks take (:class:`FileLocks`, :class:`LocalLocks`, or leases
    shared by several servers)."""

    def hold(self, name: str, *, timeout: float) -> AbstractContextManager[None]:
        """Hold the lock of ``name`` inside the ``with`` block.

        :raises TimeoutError: if another holder kept it for ``timeout`` seconds.
        """
        ...


class FileLocks:
    """Exclusive locks by name across processes, on files in ``directory``.

    Names are hashed onto a fixed number of lock files that are never
    deleted: deleting a lock file while another process waits on it would
    let two processes hold "the" lock.  Two names sharing a file only wait
    for each other.
    """

    def __init__(self, directory: str, *, stripes: int = 1024) -> None:
        self.directory = directory
        self.stripes = stripes

    def path(self, name: str) -> str:
        """The lock file that guards ``name``."""
        return os.path.join(self.directory, f"{_stripe(name, self.stripes):04x}.lock")

    @contextlib.contextmanager
    def hold(self, name: str, *, timeout: float) -> Iterator[None]:
        """Hold the lock of ``name`` inside the ``with`` block.

        :raises TimeoutError: if another process holds it for ``timeout`` seconds.
        """
        os.makedirs(self.directory, exist_ok=True)
        fd = os.open(self.path(name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            _acquire(fd, timeout)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _stripe(name: str, stripes: int) -> int:
    """Which of ``stripes`` locks guards ``name`` (stable across processes)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % stripes


def _acquire(fd: int, timeout: float) -> None:
    # A blocking flock() cannot time out, so poll with a short, growing sleep;
    # only processes racing for the same cold file ever wait here.
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError("another process held the lock too long") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


class LocalLocks:
    """Exclusive locks by name within this process only (threads), for
    stores given no directory to share locks through; the same interface
    as :class:`FileLocks`."""

    def __init__(self, *, stripes: int = 256) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    @contextlib.contextmanager
    def hold(self, name: str, *, timeout: float) -> Iterator[None]:
        """Hold the lock of ``name`` inside the ``with`` block.

        :raises TimeoutError: if another thread holds it for ``timeout`` seconds.
        """
        lock = self._locks[_stripe(name, len(self._locks))]
        if not lock.acquire(timeout=timeout):
            raise TimeoutError("another thread held the lock too long")
        try:
            yield
        finally:
            lock.release()


#: Seconds a store waits for an object's lock (held for one write, cleanup
#: or publication at a time) before giving up.
OBJECT_LOCK_TIMEOUT = 60.0


@contextlib.contextmanager
def object_lock(locks: NamedLocks, name: str, where: str) -> Iterator[None]:
    """Hold the lock of object ``name`` of the store at ``where``.

    :raises StoreUnavailableError: another process or thread held it for
        :data:`OBJECT_LOCK_TIMEOUT` seconds, or the lock file cannot be used.
    """
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locks.hold(name, timeout=OBJECT_LOCK_TIMEOUT))
        except OSError as error:  # TimeoutError included
            raise StoreUnavailableError(f"could not lock {name} in {where}: {error}") from error
        yield
