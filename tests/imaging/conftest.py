"""Fixtures of the imaging tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def pdf_home(tmp_path: Path) -> dict[str, str]:
    """Environment whose user ImageMagick policy re-allows the PDF coder that
    Debian's system policy refuses (what a deployer would do to accept PDF)."""
    config = tmp_path / "home" / ".config" / "ImageMagick"
    config.mkdir(parents=True)
    (config / "policy.xml").write_text(
        '<policymap><policy domain="coder" rights="read" pattern="PDF" /></policymap>\n'
    )
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config")}
