"""Fixtures for the example apps: real servers on loopback and headless Chromium.

The example packages live at the top of the repository (``examples/``), which
is not installed; the repository root is put on ``sys.path`` for the tests
that import them in-process, and is the working directory of the servers.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from example_servers import ROOT, Server, StartServer
from stores.s3server import free_port

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
