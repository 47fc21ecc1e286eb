"""Doing a piece of work once: per process and across processes.

:class:`SingleFlight` lets the first caller for a key start the work and hands
every concurrent caller for the same key the same future.  :class:`FileLocks`
serialises the work across processes sharing a directory with
:func:`fcntl.flock`; the holder re-checks whether the work is already done
once it has the lock, so a second process finds the file the first wrote.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["FileLocks", "SingleFlight"]

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """At most one running future per key in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, Future[T]] = {}

    def join(self, key: Hashable, start: Callable[[], Future[T] | None]) -> Future[T] | None:
        """The future of the work running for ``key``, or the one ``start()``
        returns (``None`` if it could not start, e.g. the pool is full)."""
        with self._lock:
            future = self._flights.get(key)
            if future is not None:
                return future
            future = start()
            if future is None:
                return None
            self._flights[key] = future
        # Outside the lock: a finished future runs the callback right away.
        future.add_done_callback(lambda done: self._forget(key, done))
        return future

    def _forget(self, key: Hashable, future: Future[T]) -> None:
        with self._lock:
            if self._flights.get(key) is future:
                del self._flights[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)


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
        digest = hashlib.sha256(name.encode()).digest()
        stripe = int.from_bytes(digest[:4], "big") % self.stripes
        return os.path.join(self.directory, f"{stripe:04x}.lock")

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
