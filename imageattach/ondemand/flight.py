"""Doing a piece of work once: per process and across processes.

:class:`SingleFlight` lets the first caller for a key start the work and hands
every concurrent caller for the same key the same future.
:class:`~imageattach.filelocks.FileLocks` serialises the work across processes
sharing a directory; the holder re-checks whether the work is already done
once it has the lock, so a second process finds the file the first wrote.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

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
