"""Example-app servers for the tests: a subprocess in its own process group
with its output in a log file (kept out of conftest.py so that tests can
import it by a name no other test folder uses)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Protocol

import httpx
import pytest

#: The repository root: the working directory of the servers.
ROOT = Path(__file__).resolve().parents[2]


class Server:
    """A server process started in its own process group, with its output in
    a log file that tests can read (gunicorn's access log goes there)."""

    def __init__(self, args: list[str], *, url: str, log: Path, env: dict[str, str]) -> None:
        self.url = url
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str = "/", timeout: float = 60) -> httpx.Response:
        """Poll ``path`` until it answers; fail with the server's output if it dies."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                return httpx.get(self.url + path, timeout=5)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"server did not answer in {timeout} s:\n{self.output()}")
                time.sleep(0.1)

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # quick shutdown (gunicorn, make)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log_file.close()


class StartServer(Protocol):
    def __call__(self, args: list[str], *, env: dict[str, str] | None = None) -> Server: ...
