"""Fixtures shared by the adapter tests: stores, databases with image entities."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from adapter_threads import TwoRequests, current_store_or_none
from entity_models import sessions
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from imageattach.store import Store
from imageattach.stores.fs import FileSystemStore, HttpExposedFileSystemStore


@pytest.fixture
def store(tmp_path: Path) -> FileSystemStore:
    return FileSystemStore(tmp_path / "a", "http://a.example/")


@pytest.fixture
def other_store(tmp_path: Path) -> FileSystemStore:
    return FileSystemStore(tmp_path / "b", "http://b.example/")


@pytest.fixture
def current() -> Callable[[], Store | None]:
    """A function returning the current store, or ``None`` when none is pushed."""
    return current_store_or_none


@pytest.fixture
def two_requests() -> TwoRequests:
    return TwoRequests()


SECRET_KEY = "adapter-tests-secret-key-0123456789"


@pytest.fixture
def http_store(tmp_path: Path) -> HttpExposedFileSystemStore:
    """A store that serves itself and signs on-demand thumbnail URLs."""
    return HttpExposedFileSystemStore(tmp_path / "served", secret_key=SECRET_KEY)


@pytest.fixture
def db(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory on every configured database, with the tables of
    ``tests/entity_models.py`` (``User``, ``UserPicture``, ...)."""
    yield from sessions(engine)


def _stored_files(store: HttpExposedFileSystemStore | FileSystemStore) -> list[str]:
    root = Path(store.path)
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


@pytest.fixture
def stored_files() -> Callable[[HttpExposedFileSystemStore | FileSystemStore], list[str]]:
    """A function listing the files in a store's directory (temporaries excluded)."""
    return _stored_files
