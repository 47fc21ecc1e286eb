"""One decoding worker process, seen from the server: start it, hand it a
job with a deadline, read its reply without trusting it, and end it.

The worker runs ImageMagick and librsvg on hostile bytes, so its reply is
checked like input: only image errors may be reported, an output must be a
regular file of the announced, bounded size, and a worker that breaks the
protocol is killed.  It runs as the same user as the server: this isolates
crashes and resource exhaustion, not an exploit that takes the worker over
(it gets a reduced environment, no credentials from it).
"""

from __future__ import annotations

import contextlib
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
import time
from typing import Any

from .. import exceptions
from ..exceptions import (
    CorruptImageError,
    ImageAttachError,
    ImageTimeoutError,
    ImagingUnavailableError,
)
from . import channel

__all__ = ["TEMP_PREFIX", "WorkerProcess"]

logger = logging.getLogger("imageattach.imaging")

#: The start of the name of a worker's temporary directory (then the
#: server's pid).
TEMP_PREFIX = "imageattach-worker-"
#: The largest output a worker may hand back (a 4096 x 4096 PNG is far less).
MAX_OUTPUT = 256 * 1024**2
#: Where the ``imageattach`` package lives: on the workers' path, after the
#: rest, so that they import the same code as the server.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: The environment variables a worker inherits (no credentials, no secrets).
_INHERITED = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "PYTHONHOME", "PYTHONPATH",
              "LD_LIBRARY_PATH", "XDG_CONFIG_HOME", "XDG_DATA_HOME")  # fmt: skip
#: The errors a worker may report: about the image, never about the store.
_REPORTABLE: dict[str, type[ImageAttachError]] = {
    name: getattr(exceptions, name)
    for name in exceptions.__all__
    if issubclass(getattr(exceptions, name), exceptions.ImageError | exceptions.ImagingPolicyError)
}
#: The signals of a decoder that crashed on the image.
_CRASHES = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE})


class WorkerProcess:
    """A started worker and the server's end of its socket.

    :raises ImagingUnavailableError: it could not be started.
    """

    def __init__(self, start_timeout: float) -> None:
        # ImageMagick's pixel cache goes to disk for large images (Debian's
        # policy caps its memory at 256 MiB); a killed worker cannot delete
        # its cache files, so each worker has a directory of its own that
        # the server removes once the worker is gone.
        self.temp_dir = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "imageattach.imaging.worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=_environment(self.temp_dir),
                # Out of the server's process group: a Ctrl-C or a signal to
                # the group is the server's to handle, not the workers'.
                start_new_session=True,
            )
        except OSError as error:
            ours.close()
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            raise ImagingUnavailableError("cannot start an image decoding worker") from error
        finally:
            theirs.close()
        self.socket = ours
        self.jobs = 0
        #: Whether the worker must not take another job (it said so, or died).
        self.retired = False
        try:
            _, fds = self._receive(time.monotonic() + start_timeout, job="start")
        except BaseException:
            self.kill()
            raise
        for fd in fds:
            os.close(fd)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, request: dict[str, Any], fd: int, timeout: float) -> tuple[dict[str, Any], bytes]:
        """Send a job and wait for its reply and output, at most ``timeout``
        seconds in all.  An error the worker reports is raised; on any other
        failure the worker is dead (killed if need be) and an error raised.
        """
        self.jobs += 1
        deadline = time.monotonic() + timeout
        try:
            channel.send(self.socket, request, [fd])
        except OSError:
            self.kill()
            raise self._died(str(request["job"])) from None
        reply, fds = self._receive(deadline, job=str(request["job"]), limit=timeout)
        # After an unexpected error or running out of memory, the worker's
        # state is not to be trusted: it exits, and the pool replaces it.
        self.retired = bool(reply.get("retire"))
        try:
            if "error" in reply:
                raise _reported(reply)
            output = self._output(fds[0], reply.get("length")) if fds else b""
        finally:
            for received in fds:
                os.close(received)
        return reply, output

    def _receive(
        self, deadline: float, *, job: str, limit: float = 0.0
    ) -> tuple[dict[str, Any], list[int]]:
        try:
            return channel.receive(self.socket, deadline)
        except TimeoutError:
            self.kill()
            if job == "start":
                raise ImagingUnavailableError("an image decoding worker did not start") from None
            raise ImageTimeoutError(
                f"decoding the image took longer than the limit of {limit:g} s"
            ) from None
        except (EOFError, ValueError, OSError):
            # Its own end (a crash) is what the error says: wait for it first.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)
            self.kill()
            raise self._died(job) from None

    def _output(self, fd: int, length: object) -> bytes:
        """The bytes of the output file ``fd``: a regular file of exactly
        ``length`` bytes, at most :data:`MAX_OUTPUT`, else the worker is
        broken (killed)."""
        info = os.fstat(fd)
        if not (
            stat.S_ISREG(info.st_mode)
            and isinstance(length, int)
            and info.st_size == length <= MAX_OUTPUT
        ):
            self.kill()
            raise CorruptImageError("the image cannot be decoded (the decoder failed)")
        return os.pread(fd, length, 0) if length else b""

    def _died(self, job: str) -> ImageAttachError:
        """The error for a worker that ended during ``job``."""
        code = self.process.returncode
        cause = f"exit status {code}" if code is not None and code >= 0 else "still running"
        if code is not None and code < 0:
            cause = signal.strsignal(-code) or f"signal {-code}"
        logger.warning("image decoding worker %d died during a %s job: %s", self.pid, job, cause)
        if job != "start" and code is not None and code < 0 and -code in _CRASHES:
            return CorruptImageError("the image cannot be decoded (the decoder failed)")
        if job != "start" and code == -signal.SIGXCPU:
            return ImageTimeoutError("decoding the image took longer than its CPU time limit")
        # Killed from outside (the out-of-memory killer, an operator), or it
        # could not start: the image may be fine.
        return ImagingUnavailableError("an image decoding worker stopped; retry later")

    def kill(self) -> None:
        """End the process now, reap it and remove its files."""
        self.retired = True
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


def _environment(temp_dir: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name in _INHERITED or name.startswith(("LC_", "MAGICK_"))
    }
    path = [p for p in inherited.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {
        **inherited,
        "PYTHONPATH": os.pathsep.join([*path, _PACKAGE_PARENT]),
        "MAGICK_TEMPORARY_PATH": temp_dir,
        "TMPDIR": temp_dir,
        # One malloc arena: address-space limits then measure the job, not
        # per-thread arena reservations.
        "MALLOC_ARENA_MAX": "1",
        "OMP_NUM_THREADS": "1",
    }


def _reported(reply: dict[str, Any]) -> ImageAttachError:
    """The exception a worker reported (only image errors are believed)."""
    cls = _REPORTABLE.get(str(reply["error"]), CorruptImageError)
    message = reply.get("message")
    logger.info("image refused: %s (%s)", message, reply.get("detail"))
    return cls(str(message)[:500] if message else "the image cannot be decoded")
