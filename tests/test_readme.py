"""README.md: the quick start stores what it says, and the error tree is the
real class hierarchy.  (tests/test_docs.py runs every block; these check
the output.)"""

from __future__ import annotations

import builtins
import re
import subprocess
import sys
from pathlib import Path

from images import jpeg
from storefiles import image_files
from test_docs import ROOT, blocks

import imageattach.exceptions

README = ROOT / "README.md"


def python_blocks() -> list[str]:
    return [block.code for block in blocks(README) if block.lang == "python"]


def test_quick_start_stores_the_picture_and_a_thumbnail(tmp_path: Path) -> None:
    (tmp_path / "me.jpg").write_bytes(jpeg(400, 300))
    script = python_blocks()[0] + (
        "\nwith Session(engine) as session, store_context(store):\n"
        "    user = session.get(User, 1)\n"
        "    print(sorted((i.width, i.height, i.original) for i in user.picture))\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == "[(100, 75, False), (400, 300, True)]"
    stored = [name.rsplit("/", 1)[-1] for name in image_files(tmp_path / "userimages")]
    assert stored == ["1.100x75.jpe", "1.400x300.jpe"]


def test_the_error_tree_is_the_class_hierarchy() -> None:
    [tree] = [b.code for b in blocks(README) if b.code.startswith("ImageAttachError")]
    parents: list[type] = []
    names = []
    for line in tree.splitlines():
        match = re.match(r"^([│├└─ ]*)(\w+)(?: \(([\w, ]+)\))?", line)
        assert match, line
        depth = len(match[1]) // 4
        cls = getattr(imageattach.exceptions, match[2])
        del parents[depth:]
        if parents:
            assert cls.__bases__[0] is parents[-1], line
        for builtin in (match[3] or "").split(", "):
            if builtin:
                assert issubclass(cls, getattr(builtins, builtin)), line
        parents.append(cls)
        names.append(match[2])
    documented = {
        name
        for name, value in vars(imageattach.exceptions).items()
        if isinstance(value, type) and issubclass(value, imageattach.exceptions.ImageAttachError)
    }
    assert set(names) == documented
