"""Server processes that start once, stay up across rounds, and always stop.

Each server runs in its own session (process group), so Ctrl-C in the
terminal reaches the benchmark only, and stopping kills the server's whole
group (gunicorn's and granian's workers, nginx's worker) with it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from .trees import TICKS, stat_fields


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerError(RuntimeError):
    """A server did not start or did not answer."""


class Server:
    """One server process listening on ``127.0.0.1:port``."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.port = port
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        """Wait until the server answers ``GET path`` with any status."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                try:
                    connection.request("GET", path)
                    connection.getresponse().read()
                    return
                finally:
                    connection.close()
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"{self.name} did not answer in {timeout:.0f} s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Terminate the process group, then kill what is left after 5 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        # Workers that outlived their parent are still in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def cpu_seconds(self) -> float:
        """User + system CPU time of every live process in the server's group
        (its workers included), from ``/proc``; 0 where there is no ``/proc``."""
        if self.process is None:
            return 0.0
        return group_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def group_cpu_seconds(group: int) -> float:
    """CPU seconds used so far by the processes whose process group is ``group``."""
    total = sum(int(f[11]) + int(f[12]) for _, f in stat_fields() if int(f[2]) == group)
    return total / TICKS


def cpu_busy_seconds(cpu: int) -> float:
    """CPU seconds that CPU number ``cpu`` has spent running processes (user,
    nice and system time; not interrupts, which also serve our own loopback
    traffic) since boot, from ``/proc/stat``; 0 where there is none."""
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith(f"cpu{cpu} "):
                    times = [int(n) for n in line.split()[1:]]
                    return (times[0] + times[1] + times[2]) / TICKS
    except OSError:
        pass
    return 0.0


@contextlib.contextmanager
def machine_lock(name: str = "imageattach-bench.lock") -> Iterator[None]:
    """Hold an exclusive lock on this machine, waiting for another run that
    holds it: two benchmarks at once would each measure the other."""
    import fcntl  # POSIX only, like the rest of this module

    path = os.path.join(tempfile.gettempdir(), name)
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another benchmark run holds {path}; waiting for it", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def running(servers: Sequence[Server], ready_path: dict[str, str]) -> Iterator[None]:
    """Start ``servers``, wait until each answers its ``ready_path[name]``, and
    stop them all on the way out, also on Ctrl-C, ``SIGTERM`` or ``SIGHUP``."""

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready(ready_path[server.name])
        yield
    finally:
        for server in servers:
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
