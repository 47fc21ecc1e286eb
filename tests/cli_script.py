"""The installed ``imageattach`` console script, run as the command-line
tests run it: in tests/, so that the tests' models and stores
(``entity_models:Modern``, ``celeryapp:store`` ...) are importable."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SCRIPT = Path(sys.executable).parent / "imageattach"


def run_script(*arguments: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``imageattach ARGUMENTS`` in the environment ``env``, its output captured."""
    return subprocess.run(
        [str(SCRIPT), *arguments],
        cwd=TESTS,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def summary(result: subprocess.CompletedProcess[str]) -> str:
    """The summary line a run prints last on stdout."""
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    return lines[-1]
