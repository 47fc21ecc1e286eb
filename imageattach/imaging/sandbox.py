"""A pool of decoding worker processes: one hostile image costs one job.

ImageMagick and librsvg are C and Rust libraries fed with uploaded bytes.
In the serving process an assertion in librsvg aborts the server, a
decompression bomb exhausts its memory and a runaway render holds a thread
for minutes.  So every decode runs in a worker process
(:mod:`imageattach.imaging.worker`, driven through
:class:`~imageattach.imaging.process.WorkerProcess`) under a memory and CPU
limit; the server kills it at the job's wall-clock deadline and starts
another after any crash.  The server's own threads keep running meanwhile
(they only wait on a socket).

Hand-written rather than :class:`concurrent.futures.ProcessPoolExecutor`:
there, one dead worker breaks the whole pool and a running job cannot be
killed, and arguments are pickled through a pipe.  Here image bytes are
passed as file descriptors, and messages are JSON
(:mod:`imageattach.imaging.channel`).  Workers are started with
``subprocess`` (fork + exec), which is safe from a threaded server, unlike a
bare ``fork``.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import io
import os
import shutil
import stat
import tempfile
import threading
import weakref
from collections.abc import Iterator
from typing import IO, Any

from ..exceptions import ImagingUnavailableError
from ..limits import ImageLimits
from ..validation import check_int, check_seconds
from . import channel
from .process import TEMP_PREFIX, WorkerProcess

__all__ = ["Sandbox", "configure_sandbox", "get_sandbox", "read_source"]


def read_source(source: bytes | IO[bytes]) -> bytes:
    """The bytes of ``source``; a file object is read from its current
    position and, if seekable, put back there."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    position = source.tell() if source.seekable() else None
    data = source.read()
    if position is not None:
        source.seek(position)
    if not isinstance(data, bytes):
        raise TypeError(f"the file must be opened in binary mode, not {source!r}")
    return data


class Sandbox:
    """At most ``workers`` decoding processes, started on demand.

    :param workers: jobs run at once (default: one per CPU).  Each server
        process has its own pool: its process tree stays under the server
        plus ``workers`` x (a worker's own memory, about 60 MB, +
        ``ImageLimits.memory``).
    :param acquire_timeout: seconds a job waits for a free worker before
        :exc:`~imageattach.exceptions.ImagingUnavailableError`.
    :param jobs_per_worker: a worker is replaced after this many jobs, so
        that heap fragmentation cannot accumulate.
    :param start_timeout: seconds a new worker may take to start.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        acquire_timeout: float = 30.0,
        jobs_per_worker: int = 500,
        start_timeout: float = 30.0,
    ) -> None:
        self.workers = check_int("workers", (os.cpu_count() or 1) if workers is None else workers)
        self.jobs_per_worker = check_int("jobs_per_worker", jobs_per_worker)
        self.acquire_timeout = check_seconds("acquire_timeout", acquire_timeout)
        self.start_timeout = check_seconds("start_timeout", start_timeout)
        _remove_stale_directories()
        self._reset()
        # A forked child (e.g. a gunicorn worker) starts with a pool of its
        # own: the parent's workers and locks are not its to use.
        os.register_at_fork(after_in_child=functools.partial(_reset_in_child, weakref.ref(self)))

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.workers)
        self._idle: list[WorkerProcess] = []

    def run(
        self, job: str, params: dict[str, Any], source: bytes | IO[bytes], limits: ImageLimits
    ) -> tuple[dict[str, Any], bytes]:
        """Run ``job`` on ``source`` in a worker; its reply and output bytes.

        :raises ImageError: the worker refused the image, died on it, or ran
            out of time or memory.
        :raises ImagingUnavailableError: no worker became free in time.
        """
        fd, offset = _descriptor(source)
        try:
            request = {
                "job": job,
                "params": params,
                "limits": dataclasses.asdict(limits),
                "offset": offset,
            }
            with self._worker() as worker:
                return worker.run(request, fd, limits.time)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _worker(self) -> Iterator[WorkerProcess]:
        slots = self._slots
        if not slots.acquire(timeout=self.acquire_timeout):
            raise ImagingUnavailableError("all image decoding workers are busy; retry later")
        try:
            worker = self._take()
            try:
                yield worker
            finally:
                self._give_back(worker)
        finally:
            slots.release()

    def _take(self) -> WorkerProcess:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                worker.kill()  # died while idle: reap it, remove its files
        return WorkerProcess(self.start_timeout)

    def _give_back(self, worker: WorkerProcess) -> None:
        if worker.retired or not worker.alive or worker.jobs >= self.jobs_per_worker:
            worker.close(wait=False)
        else:
            with self._lock:
                self._idle.append(worker)

    def start(self) -> None:
        """Start every worker now rather than on first use (warm-up)."""
        started: list[WorkerProcess] = []
        try:
            for _ in range(self.workers):
                started.append(WorkerProcess(self.start_timeout))
        finally:
            with self._lock:
                self._idle.extend(started)

    def shutdown(self) -> None:
        """Stop the idle workers (busy ones stop when their job ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close(wait=True)

    def pids(self) -> list[int]:
        """The idle workers' process ids (for tests and monitoring)."""
        with self._lock:
            return [worker.pid for worker in self._idle]


def _reset_in_child(pool: weakref.ref[Sandbox]) -> None:
    sandbox = pool()
    if sandbox is not None:
        sandbox._reset()


def _remove_stale_directories() -> None:
    """Remove the worker directories of servers that are gone (killed
    before they could remove them)."""
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        owner = name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
        if name.startswith(TEMP_PREFIX) and owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _descriptor(source: bytes | IO[bytes]) -> tuple[int, int]:
    """A new read-only descriptor holding ``source``'s bytes, and their
    offset in it.  An open regular file (also a spooled upload already on
    disk) is reopened read-only through ``/proc/self/fd`` (its own file
    position, and a worker cannot write it); anything else is copied into
    an anonymous memory file."""
    on_disk = isinstance(source, io.BufferedReader | io.BufferedRandom | io.FileIO) or (
        # fileno() of a spooled file still in memory would write it to disk.
        isinstance(source, tempfile.SpooledTemporaryFile) and getattr(source, "_rolled", False)
    )
    if on_disk:
        with contextlib.suppress(OSError, ValueError):
            fd = source.fileno()  # type: ignore[union-attr]
            if stat.S_ISREG(os.fstat(fd).st_mode):
                return os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC), source.tell()  # type: ignore[union-attr]
    if isinstance(source, io.BytesIO):
        return channel.anonymous_file(source.getbuffer()[source.tell() :]), 0
    return channel.anonymous_file(read_source(source)), 0


_default: Sandbox | None = None
_default_lock = threading.Lock()


def _new_default_lock() -> None:
    global _default_lock
    _default_lock = threading.Lock()  # it may have been held at the fork


os.register_at_fork(after_in_child=_new_default_lock)


def get_sandbox() -> Sandbox:
    """The process's sandbox, made with default options on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Sandbox()
        return _default


def configure_sandbox(**options: Any) -> Sandbox:
    """Replace the process's sandbox with one made with ``options`` (see
    :class:`Sandbox`); call it at start-up."""
    global _default
    sandbox = Sandbox(**options)
    with _default_lock:
        previous, _default = _default, sandbox
    if previous is not None:
        previous.shutdown()
    return sandbox


@atexit.register
def _shutdown() -> None:
    if _default is not None:
        _default.shutdown()
