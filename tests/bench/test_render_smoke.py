"""``python -m bench render`` and ``--quality-table``, the commands of
docs/benchmarks.md's "Rendered variants" section, run and print their
comparisons (one short round: the numbers are not checked, only that each
case ran against pyvips and a ratio came out)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def test_bench_render() -> None:
    pytest.importorskip("pyvips")
    result = subprocess.run(
        [sys.executable, "-m", "bench", "render", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout
    for case in ("webp", "cover"):
        assert re.search(
            rf"{case} imageattach / pyvips = [\d.]+ \(target <= 1.2: (met|MISSED)\)", output
        )
    assert re.search(
        r"avif imageattach / pyvips = [\d.]+ \((within 3x|opt-in: slower than 3x)\)", output
    )
    assert re.search(r"imageattach\s+[\d.]+ ms .* \d+ bytes", output)


def test_bench_render_quality_table() -> None:
    pytest.importorskip("pyvips")
    result = subprocess.run(
        [sys.executable, "-m", "bench", "render", "--quality-table"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for fmt in ("jpeg", "webp", "avif"):
        assert re.search(rf"{fmt}\s+q\d+\s+\d+ bytes .* SSIM 0\.\d+ \(default\)", result.stdout)
