"""Fixtures shared by the adapter tests: two distinct stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from imageattach.context import ContextError, get_current_store
from imageattach.store import Store
from imageattach.stores.fs import FileSystemStore


@pytest.fixture
def store(tmp_path: Path) -> FileSystemStore:
    return FileSystemStore(tmp_path / "a", "http://a.example/")


@pytest.fixture
def other_store(tmp_path: Path) -> FileSystemStore:
    return FileSystemStore(tmp_path / "b", "http://b.example/")


def _current() -> Store | None:
    try:
        return get_current_store()
    except ContextError:
        return None


@pytest.fixture
def current() -> Callable[[], Store | None]:
    """A function returning the current store, or ``None`` when none is pushed."""
    return _current
