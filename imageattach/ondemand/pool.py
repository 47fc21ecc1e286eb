"""A bounded pool of worker threads with a bounded queue.

Every job gets its own thread at once, but at most ``workers`` of them do
the heavy part at a time (:meth:`BoundedPool.working`): a job waiting for a
lock another server holds, or for the store, does not keep a thumbnail of
another key from being made meanwhile.  (Resizing itself runs in the
sandboxed decoding workers; ``workers`` such jobs use that many cores.)
When ``workers + queue`` jobs are in the pool, :meth:`BoundedPool.submit`
refuses at once (the caller answers 503 with ``Retry-After``) rather than
letting requests pile up behind it.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from .. import observe
from ..validation import check_int

__all__ = ["BoundedPool"]

P = ParamSpec("P")
T = TypeVar("T")


class BoundedPool:
    """At most ``workers + queue`` jobs, of which ``workers`` at a time in
    :meth:`working`.

    The threads start on first use and again in a forked child (e.g. a
    gunicorn worker forked from a master that built the store), which
    inherits no threads from its parent.  With metrics on, the jobs in the
    pool and its slots are counted (``imageattach_resize_queue_depth`` and
    ``_capacity``).
    """

    def __init__(self, *, workers: int, queue: int, name: str = "imageattach-resize") -> None:
        self.workers = check_int("resize_workers", workers)
        self.queue = check_int("resize_queue", queue, minimum=0)
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._working = threading.BoundedSemaphore(workers)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        #: The metrics recorder this pool's slots were counted in.
        self._counted_in: observe.Recorder | None = None

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T] | None:
        """Run ``fn(*args, **kwargs)`` in the pool; ``None`` if the pool is full."""
        executor = self._ensure_executor()
        if not self._slots.acquire(blocking=False):
            return None
        slots = self._slots
        recorder = observe.recorder
        if recorder is not None:
            self._count_slots(recorder)
            recorder.queued(1)

        def release() -> None:
            slots.release()
            if recorder is not None:
                recorder.queued(-1)

        def job() -> T:
            # Freed before the result is set, so whoever sees the result can
            # submit again at once.
            try:
                return fn(*args, **kwargs)
            finally:
                release()

        try:
            future = executor.submit(job)
        except BaseException:
            release()
            raise
        future.add_done_callback(_release_if_cancelled(release))
        return future

    def _count_slots(self, recorder: observe.Recorder) -> None:
        """Count this pool's slots in ``recorder`` once (until the pool is gone)."""
        with self._lock:
            if self._counted_in is recorder:
                return
            self._counted_in = recorder
        slots = self.workers + self.queue
        recorder.capacity(slots)
        weakref.finalize(self, recorder.capacity, -slots)

    def _after_fork(self) -> None:
        if self._pid != os.getpid():
            # A forked child: the parent's threads, lock and counts are not ours.
            self._lock = threading.Lock()
            self._slots = threading.BoundedSemaphore(self.workers + self.queue)
            self._working = threading.BoundedSemaphore(self.workers)
            self._executor = None
            self._counted_in = None
            self._pid = os.getpid()

    def _ensure_executor(self) -> ThreadPoolExecutor:
        self._after_fork()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.workers + self.queue, thread_name_prefix=self.name
                )
            return self._executor

    @contextmanager
    def working(self) -> Iterator[None]:
        """Inside the block, one of the ``workers`` slots is held: the part
        of a job (or of a caller outside the pool) that uses a core."""
        self._after_fork()
        with self._working:
            yield

    def shutdown(self) -> None:
        """Wait for running jobs and stop the threads (a later submit restarts them)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


def _release_if_cancelled(release: Callable[[], None]) -> Callable[[Future[T]], None]:
    def callback(future: Future[T]) -> None:
        if future.cancelled():  # it never ran, so job() did not free its slot
            release()

    return callback
