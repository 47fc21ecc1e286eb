"""Shared fixtures: the databases every database test runs on, and temp stores.

SQLite always; PostgreSQL and MariaDB when ``TEST_POSTGRESQL_URL`` /
``TEST_MARIADB_URL`` are set (``.ci/run`` sets both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from imageattach.stores.fs import FileSystemStore

# ``moto_server``: a real S3 HTTP endpoint on loopback, started once per session;
# ``redis_url``, ``amqp_url``, ``service_namespace``: Redis and RabbitMQ.
pytest_plugins = ["stores.s3server", "services"]


def _database_urls() -> list[pytest.param]:
    params = [pytest.param("sqlite", id="sqlite")]
    for name, variable in (("postgresql", "TEST_POSTGRESQL_URL"), ("mariadb", "TEST_MARIADB_URL")):
        url = os.environ.get(variable)
        if url:
            params.append(pytest.param(url, id=name))
    return params


@pytest.fixture(params=_database_urls())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL; tests using it run once per configured database."""
    url: str = request.param
    if url == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on :func:`database_url`; tests must drop what they create
    (the ``metadata`` helpers in tests do so)."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def fs_store(tmp_path: Path) -> FileSystemStore:
    """A :class:`FileSystemStore` in a fresh temporary directory."""
    return FileSystemStore(tmp_path / "images", "http://static.example.com/")
