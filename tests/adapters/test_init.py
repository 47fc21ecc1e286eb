"""A missing framework gives an ImportError naming the extra to install."""

from __future__ import annotations

import importlib
import sys

import pytest


@pytest.mark.parametrize(
    ("adapter", "framework", "extra"),
    [
        ("flask", "flask", "flask"),
        ("pyramid", "pyramid", "pyramid"),
        ("bottle", "bottle", "bottle"),
        ("starlette", "starlette", "starlette"),
    ],
)
def test_missing_framework_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, adapter: str, framework: str, extra: str
) -> None:
    for name in list(sys.modules):
        if name == framework or name.startswith(f"{framework}."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, framework, None)
    monkeypatch.delitem(sys.modules, f"imageattach.adapters.{adapter}", raising=False)
    with pytest.raises(ImportError, match=rf"pip install 'imageattach\[{extra}\]'"):
        importlib.import_module(f"imageattach.adapters.{adapter}")
