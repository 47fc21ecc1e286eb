"""Helpers for the imaging tests: running code in a child interpreter (so an
ImageMagick abort cannot take pytest down) and listing the parts of encoded files."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parent.parent
ROOT = TESTS_DIR.parent


def run_python(
    code: str, *, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with the project and tests importable."""
    environment = {k: v for k, v in os.environ.items() if k != "MAGICK_CONFIGURE_PATH"}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS_DIR)])
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def run_json(code: str, **kwargs: Any) -> Any:
    """Run ``code``, which prints one JSON document last; return it parsed."""
    result = run_python(code, **kwargs)
    assert result.returncode == 0, f"child died ({result.returncode}): {result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def jpeg_markers(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's segments up to its first scan."""
    assert data[:2] == b"\xff\xd8"
    markers, position = [], 2
    while position < len(data):
        marker = data[position + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunks.append(data[position + 4 : position + 8])
        position += 12 + length
    return chunks
