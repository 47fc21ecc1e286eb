"""A bounded pool of worker threads with a bounded queue.

Resizing runs in threads: Wand releases the GIL while ImageMagick works, and
ImageMagick itself runs single-threaded, so ``workers`` threads use that many
cores.  When ``workers`` jobs run and ``queue`` more wait, :meth:`BoundedPool.submit`
refuses at once (the caller answers 503 with ``Retry-After``) rather than
letting requests pile up behind it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from ..validation import check_int

__all__ = ["BoundedPool"]

P = ParamSpec("P")
T = TypeVar("T")


class BoundedPool:
    """At most ``workers`` jobs at a time and ``queue`` more waiting.

    The threads start on first use and again in a forked child (e.g. a
    gunicorn worker forked from a master that built the store), which
    inherits no threads from its parent.
    """

    def __init__(self, *, workers: int, queue: int, name: str = "imageattach-resize") -> None:
        self.workers = check_int("resize_workers", workers)
        self.queue = check_int("resize_queue", queue, minimum=0)
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T] | None:
        """Run ``fn(*args, **kwargs)`` in the pool; ``None`` if the pool is full."""
        executor = self._ensure_executor()
        if not self._slots.acquire(blocking=False):
            return None
        slots = self._slots

        def job() -> T:
            # Freed before the result is set, so whoever sees the result can
            # submit again at once.
            try:
                return fn(*args, **kwargs)
            finally:
                slots.release()

        try:
            future = executor.submit(job)
        except BaseException:
            slots.release()
            raise
        future.add_done_callback(_release_if_cancelled(slots))
        return future

    def _ensure_executor(self) -> ThreadPoolExecutor:
        if self._pid != os.getpid():
            # A forked child: the parent's threads, lock and counts are not ours.
            self._lock = threading.Lock()
            self._slots = threading.BoundedSemaphore(self.workers + self.queue)
            self._executor = None
            self._pid = os.getpid()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
            return self._executor

    def shutdown(self) -> None:
        """Wait for running jobs and stop the threads (a later submit restarts them)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


def _release_if_cancelled(slots: threading.BoundedSemaphore) -> Callable[[Future[T]], None]:
    def callback(future: Future[T]) -> None:
        if future.cancelled():  # it never ran, so job() did not free its slot
            slots.release()

    return callback
