"""The README's quick start runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from images import jpeg
from storefiles import image_files

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_quick_start_stores_the_picture_and_a_thumbnail(tmp_path: Path) -> None:
    (tmp_path / "me.jpg").write_bytes(jpeg(400, 300))
    script = python_blocks()[0] + (
        "\nwith Session(engine) as session, store_context(store):\n"
        "    user = session.get(User, 1)\n"
        "    print(sorted((i.width, i.height, i.original) for i in user.picture))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[(100, 75, False), (400, 300, True)]"
    stored = [name.rsplit("/", 1)[-1] for name in image_files(tmp_path / "userimages")]
    assert stored == ["1.100x75.jpe", "1.400x300.jpe"]
