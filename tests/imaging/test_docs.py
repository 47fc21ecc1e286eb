"""The Python blocks of docs/security.md run as written, each in a fresh
interpreter (in a scratch directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .helpers import ROOT, run_python

SECURITY = ROOT / "docs" / "security.md"
BLOCKS = re.findall(r"```python\n(.*?)```", SECURITY.read_text(), flags=re.DOTALL)


def test_the_page_has_python_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs(block: str, tmp_path: Path) -> None:
    result = run_python(f"import os\nos.chdir({str(tmp_path)!r})\n" + block)
    assert result.returncode == 0, result.stderr[-3000:]
