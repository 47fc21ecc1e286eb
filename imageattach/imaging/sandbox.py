"""A pool of decoding worker processes: one hostile image costs one job.

ImageMagick and librsvg are C and Rust libraries fed with uploaded bytes.
In the serving process an assertion in librsvg aborts the server, a
decompression bomb exhausts its memory and a runaway render holds a thread
for minutes.  So every decode runs in a worker process
(:mod:`imageattach.imaging.worker`) under a memory and CPU limit, and the
server kills it at the job's wall-clock deadline and starts another after
any crash; the server's own threads keep running meanwhile (they only wait
on a socket).

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
import io
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any

from .. import exceptions
from ..exceptions import (
    CorruptImageError,
    ImageAttachError,
    ImageTimeoutError,
    ImagingUnavailableError,
)
from ..limits import ImageLimits
from ..validation import check_int
from . import channel

__all__ = ["Sandbox", "configure_sandbox", "get_sandbox", "read_source"]

logger = logging.getLogger("imageattach.imaging")

#: Where the ``imageattach`` package lives, put on the workers' path so they
#: import the same code as the server.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: The start of the name of a worker's temporary directory (then the
#: server's pid).
_TEMP_PREFIX = "imageattach-worker-"
#: The exceptions a worker may report, by name.
_REPORTABLE: dict[str, type[ImageAttachError]] = {
    name: getattr(exceptions, name)
    for name in exceptions.__all__
    if issubclass(getattr(exceptions, name), ImageAttachError)
}


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


class _Worker:
    """One worker process and the server's end of its socket."""

    def __init__(self, start_timeout: float) -> None:
        # ImageMagick's pixel cache goes to disk for large images (Debian's
        # policy caps its memory at 256 MiB); a killed worker cannot delete
        # its cache files, so each worker has a directory of its own that
        # the server removes once the worker is gone.
        self.temp_dir = tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            environment = {
                **os.environ,
                "MAGICK_TEMPORARY_PATH": self.temp_dir,
                "TMPDIR": self.temp_dir,
                "PYTHONPATH": os.pathsep.join(
                    [_PACKAGE_PARENT, *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
                # One malloc arena: address-space limits then measure the job,
                # not per-thread arena reservations.
                "MALLOC_ARENA_MAX": "1",
                "OMP_NUM_THREADS": "1",
            }
            self.process = subprocess.Popen(
                [sys.executable, "-m", "imageattach.imaging.worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=environment,
            )
        except OSError as error:
            ours.close()
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            raise ImagingUnavailableError("cannot start an image decoding worker") from error
        finally:
            theirs.close()
        self.socket = ours
        self.jobs = 0
        try:
            self._receive(start_timeout, what="start")
        except BaseException:
            self.kill()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def run(self, request: dict[str, Any], fd: int, timeout: float) -> tuple[dict[str, Any], int]:
        """Send a job and wait for its reply, at most ``timeout`` seconds.

        Returns the reply and an output descriptor (-1 when none).  On any
        failure the worker is dead (killed if need be) and an error raised.
        """
        self.jobs += 1
        try:
            channel.send(self.socket, request, [fd])
        except OSError:
            self.kill()
            raise self._died(request) from None
        reply, fds = self._receive(timeout, what=request["job"])
        for extra in fds[1:]:
            os.close(extra)
        return reply, (fds[0] if fds else -1)

    def _receive(self, timeout: float, *, what: str) -> tuple[dict[str, Any], list[int]]:
        self.socket.settimeout(timeout)
        try:
            return channel.receive(self.socket)
        except TimeoutError:
            self.kill()
            if what == "start":
                raise ImagingUnavailableError("an image decoding worker did not start") from None
            raise ImageTimeoutError(
                f"decoding the image took longer than the limit of {timeout:g} s"
            ) from None
        except (EOFError, ValueError, OSError):
            # Its own end (a crash) is what the error says: wait for it first.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)
            self.kill()
            raise self._died({"job": what}) from None

    def _died(self, request: dict[str, Any]) -> ImageAttachError:
        """The error for a worker that ended during ``request``."""
        code = self.process.returncode
        cause = f"exit status {code}" if code is None or code >= 0 else signal.strsignal(-code)
        logger.warning("image decoding worker %d died during a %s job: %s",
                       self.pid, request.get("job"), cause)  # fmt: skip
        if request.get("job") == "start":
            return ImagingUnavailableError("cannot start an image decoding worker")
        if code == -signal.SIGXCPU:
            return ImageTimeoutError("decoding the image took longer than its CPU time limit")
        if code == -signal.SIGKILL:
            # Not ours (we raise a timeout when we kill): the kernel's
            # out-of-memory killer or an operator; the image may be fine.
            return ImagingUnavailableError("the image decoding worker was killed; retry later")
        return CorruptImageError("the image cannot be decoded (the decoder failed)")

    def kill(self) -> None:
        """End the process now, reap it and remove its files."""
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.socket.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def close(self, *, wait: bool) -> None:
        """Let the worker finish: it exits when its socket closes.  Without
        ``wait``, a thread reaps it, so that the caller does not wait."""
        self.socket.close()
        if not wait:
            threading.Thread(target=self.close, kwargs={"wait": True}, daemon=True).start()
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.kill()


class Sandbox:
    """At most ``workers`` decoding processes, started on demand.

    :param workers: jobs run at once (default: one per CPU).  The process
        tree stays under the server plus ``workers`` x (a worker's baseline,
        about 60 MB, + ``ImageLimits.memory``).
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
        self.acquire_timeout = _check_seconds("acquire_timeout", acquire_timeout)
        self.start_timeout = _check_seconds("start_timeout", start_timeout)
        self._remove_stale_directories()
        self._reset()

    @staticmethod
    def _remove_stale_directories() -> None:
        """Remove the worker directories of servers that are gone (killed
        before they could remove them)."""
        root = tempfile.gettempdir()
        for name in os.listdir(root):
            owner = name.removeprefix(_TEMP_PREFIX).split("-", 1)[0]
            if name.startswith(_TEMP_PREFIX) and owner.isdigit() and not _alive(int(owner)):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.workers)
        self._idle: list[_Worker] = []

    def run(
        self, job: str, params: dict[str, Any], source: bytes | IO[bytes], limits: ImageLimits
    ) -> tuple[dict[str, Any], bytes | None]:
        """Run ``job`` on ``source`` in a worker; the reply and its output bytes.

        :raises ImageError: the worker refused the image, died on it, or ran
            out of time or memory.
        :raises ImagingUnavailableError: no worker became free in time.
        """
        fd, offset, owned = _descriptor(source)
        try:
            request = {
                "job": job,
                "params": params,
                "limits": _limits_dict(limits),
                "offset": offset,
            }
            with self._worker() as worker:
                reply, out = worker.run(request, fd, limits.time)
        finally:
            if owned:
                os.close(fd)
        output = None
        if out >= 0:
            with open(out, "rb", closefd=True) as file:
                file.seek(0)  # the descriptor shares the worker's file position
                output = file.read()
        if "error" in reply:
            raise _error(reply)
        return reply, output

    @contextlib.contextmanager
    def _worker(self) -> Iterator[_Worker]:
        if self._pid != os.getpid():
            # A forked child (e.g. a gunicorn worker): the parent's workers
            # are not ours to use.
            self._reset()
        if not self._slots.acquire(timeout=self.acquire_timeout):
            raise ImagingUnavailableError("all image decoding workers are busy; retry later")
        worker = None
        try:
            with self._lock:
                while self._idle and worker is None:
                    worker = self._idle.pop()
                    if worker.process.poll() is not None:  # died while idle
                        worker.socket.close()
                        worker = None
            if worker is None:
                worker = _Worker(self.start_timeout)
            yield worker
            if worker.jobs >= self.jobs_per_worker:
                worker.close(wait=False)
            else:
                with self._lock:
                    self._idle.append(worker)
        except BaseException:
            if worker is not None and worker.process.returncode is None:
                worker.kill()
            raise
        finally:
            self._slots.release()

    def start(self) -> None:
        """Start every worker now rather than on first use (warm-up)."""
        started = []
        for _ in range(self.workers):
            self._slots.acquire()
            started.append(_Worker(self.start_timeout))
        with self._lock:
            self._idle.extend(started)
        for _ in started:
            self._slots.release()

    def shutdown(self) -> None:
        """Stop the idle workers (busy ones stop when their job ends)."""
        if self._pid != os.getpid():
            return
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close(wait=True)

    def pids(self) -> list[int]:
        """The idle workers' process ids (for tests and monitoring)."""
        with self._lock:
            return [worker.pid for worker in self._idle]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise exceptions.ConfigurationError(f"{name} must be a positive number, not {value!r}")
    return float(value)


def _limits_dict(limits: ImageLimits) -> dict[str, Any]:
    return {name: getattr(limits, name) for name in limits.__dataclass_fields__}


def _descriptor(source: bytes | IO[bytes]) -> tuple[int, int, bool]:
    """A descriptor holding ``source``'s bytes, their offset in it, and
    whether the caller must close it: an open regular file (also a spooled
    upload already on disk) is passed as it is, anything else is copied into
    an anonymous memory file."""
    on_disk = isinstance(source, io.BufferedReader | io.BufferedRandom | io.FileIO) or (
        # fileno() of a spooled file still in memory would write it to disk.
        isinstance(source, tempfile.SpooledTemporaryFile) and getattr(source, "_rolled", False)
    )
    if on_disk and not isinstance(source, bytes):
        with contextlib.suppress(OSError, ValueError):
            fd = source.fileno()
            if stat.S_ISREG(os.fstat(fd).st_mode):
                return fd, source.tell(), False
    if isinstance(source, io.BytesIO):
        return channel.anonymous_file(source.getbuffer()[source.tell() :]), 0, True
    return channel.anonymous_file(read_source(source)), 0, True


def _error(reply: dict[str, Any]) -> ImageAttachError:
    cls = _REPORTABLE.get(str(reply["error"]), CorruptImageError)
    logger.info("image refused: %s (%s)", reply.get("message"), reply.get("detail"))
    return cls(str(reply.get("message", "the image cannot be decoded")))


_default: Sandbox | None = None
_default_lock = threading.Lock()


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
