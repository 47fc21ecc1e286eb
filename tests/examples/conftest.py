"""Fixtures for the example apps: real servers on loopback and headless Chromium.

The example packages live at the top of the repository (``examples/``), which
is not installed; the repository root is put on ``sys.path`` for the tests
that import them in-process, and is the working directory of the servers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from stores.s3server import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """``start_server(args, env=...)``: a :class:`Server` on a free loopback
    port (given to ``args`` as ``{port}`` and to the environment as ``PORT``),
    stopped after the test."""
    servers: list[Server] = []

    def start(args: list[str], *, env: dict[str, str] | None = None) -> Server:
        port = free_port()
        log = tmp_path / f"server-{len(servers)}.log"
        args = [arg.replace("{port}", str(port)) for arg in args]
        env = {"HOST": "127.0.0.1", "PORT": str(port), **(env or {})}
        server = Server(args, url=f"http://127.0.0.1:{port}", log=log, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium through the system chromedriver (never a downloaded one)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            "chromium and chromium-driver are not installed (scripts/install-system-deps.sh)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="imageattach-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,1600",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshot(browser: Any) -> Any:
    """``screenshot(name)``: save the page under ``test-artifacts/`` (gitignored)."""

    def save(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        browser.save_screenshot(str(path))
        return path

    return save
