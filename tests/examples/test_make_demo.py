"""The README's first command: ``make demo`` serves the Flask example."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from example_servers import ROOT, StartServer

pytestmark = pytest.mark.e2e


def test_make_demo_serves_the_flask_example(start_server: StartServer, tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # `make -q` exits 0 when the target is up to date, i.e. `make demo` will
    # not reinstall the virtual environment (CI's `make lint` just made it).
    if subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT).returncode != 0:
        pytest.skip(".venv/.installed is missing or older than pyproject.toml: run `make install`")
    server = start_server(
        ["make", "demo"], env={"EXAMPLE_INSTANCE_PATH": str(tmp_path / "instance")}
    )
    response = server.wait_ready("/", timeout=120)
    assert response.status_code == 200
    assert "<small>Flask</small>" in response.text
    assert 'action="/users"' in response.text
    assert "pip install" not in server.output()
    assert (tmp_path / "instance" / "example.sqlite").exists()
