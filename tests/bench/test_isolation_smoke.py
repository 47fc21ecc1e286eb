"""The isolation benchmarks documented in docs/benchmarks.md run and print
their comparisons (one short round each: the numbers are not checked, only
that each peer ran and a ratio or difference came out)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def run(*argv: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_bench_upload() -> None:
    output = run("bench.upload", "--rounds", "1")
    assert re.search(r"isolated\s+[\d.]+ ms", output)
    assert re.search(r"in-process\s+[\d.]+ ms", output)
    assert re.search(r"isolation costs [+-][\d.]+ ms \(target <= 5 ms: (met|MISSED)\)", output)


def test_bench_ondemand() -> None:
    output = run("bench.ondemand", "--rounds", "1", "--clients", "4")
    assert re.search(r"on-demand / pyvips = [\d.]+", output)
    assert re.search(r"generations: 1 \(target 1\)", output)
