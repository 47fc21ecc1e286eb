"""What the tests read of imageattach's observability: its Prometheus
metrics in a registry of their own, and the log records of one logger."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from imageattach import metrics


@contextlib.contextmanager
def metrics_registry() -> Iterator[CollectorRegistry]:
    """A fresh registry with imageattach's metrics on; off again after."""
    registry = CollectorRegistry()
    metrics.enable(registry=registry)
    try:
        yield registry
    finally:
        metrics.disable()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """The sample ``name`` with ``labels``; 0 where it was never counted."""
    return registry.get_sample_value(name, labels) or 0.0


def logged(
    caplog: pytest.LogCaptureFixture, logger: str, level: int = logging.NOTSET
) -> list[logging.LogRecord]:
    """The records ``logger`` (not its children) emitted at ``level`` or above."""
    return [r for r in caplog.records if r.name == logger and r.levelno >= level]
