"""The shared services the multi-server tests talk to: Redis and RabbitMQ.

``.ci/run`` starts both on loopback (as on the development machines):
``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) and
``TEST_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672//``).  A
test needing one that does not answer fails under CI (``CI`` set) and is
skipped elsewhere, saying which service to start.  Tests share the
servers, so each keeps to its own names (:func:`service_namespace`).
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

__all__ = ["amqp_url", "redis_url", "service_namespace"]


def _require(url: str, what: str) -> str:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 2).close()
    except OSError as error:
        message = f"{what} does not answer at {url} ({error}); start it (see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a Redis server on loopback."""
    return _require(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The URL of a RabbitMQ broker on loopback."""
    url = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    return _require(url, "RabbitMQ")


@pytest.fixture
def service_namespace() -> str:
    """A name no other test (or concurrent test run) uses: a prefix for the
    test's Redis keys, queue names and the like."""
    return f"imageattach-test-{uuid.uuid4().hex[:12]}"
