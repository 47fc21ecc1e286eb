"""Real servers (gunicorn, uvicorn, granian) running tests/ondemand/serverapp.py
on a free loopback port, in their own process group so that stopping one
stops its workers too."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from processes import stop_group

TESTS = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def command(
    kind: str,
    port: int,
    app: str = "ondemand.serverapp",
    *,
    workers: int = 1,
    threads: int = 16,
    options: Sequence[str] = (),
) -> list[str]:
    """The command line of a ``kind`` server of ``app`` (a module of tests/
    with ``wsgi_app`` and ``asgi_app``): ``workers`` processes, gunicorn's
    with ``threads`` threads each (1: sync workers, one request at a time
    each), and the server's own ``options``."""
    if kind == "gunicorn":
        pool = ["--threads", str(threads), "--worker-class", "gthread"] if threads > 1 else []
        return [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *pool,
            *options,
            f"{app}:wsgi_app",
        ]
    if kind == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *(["--workers", str(workers)] if workers > 1 else []),
            *options,
            f"{app}:asgi_app",
        ]
    if kind == "granian":
        return [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *options,
            f"{app}:asgi_app",
        ]
    raise ValueError(kind)


@dataclasses.dataclass(frozen=True)
class Server:
    """A running server: its base URL and its process (the group leader)."""

    url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def started(
    kind: str,
    env: dict[str, str],
    log: Path,
    app: str = "ondemand.serverapp",
    *,
    workers: int = 1,
    threads: int = 16,
    options: Sequence[str] = (),
) -> Iterator[Server]:
    """Run a ``kind`` server of ``app`` with ``env`` added until the block
    ends (stopped in every outcome, also if it was killed meanwhile);
    ``workers``, ``threads`` and ``options`` as :func:`command` takes them."""
    port = free_port()
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command(kind, port, app, workers=workers, threads=threads, options=options),
            cwd=TESTS,
            env={**os.environ, "PYTHONPATH": str(TESTS), **env},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(process, port, log)
        yield Server(f"http://127.0.0.1:{port}", process)
    finally:
        stop_group(process)


@contextlib.contextmanager
def running(
    kind: str, env: dict[str, str], log: Path, app: str = "ondemand.serverapp"
) -> Iterator[str]:
    """Run a ``kind`` server of ``app`` with ``env`` added; yield its base URL."""
    with started(kind, env, log, app) as server:
        yield server.url


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not start: {log.read_text(errors='replace')[-2000:]}")
