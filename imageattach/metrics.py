"""Prometheus metrics of the serving middleware and on-demand generation
(``prometheus_client``, the ``metrics`` extra).

Off until :func:`enable` (or :func:`wsgi_app` / :func:`asgi_app`, which
enable them too): importing imageattach registers nothing in anyone's
registry, and while off the instrumented code pays one ``None`` check.
Each metric is described in docs/metrics.md.

Multi-process servers (gunicorn workers): set ``PROMETHEUS_MULTIPROC_DIR``
before ``prometheus_client`` is imported; the scrape apps then aggregate
every worker's values (``prometheus_client.multiprocess``).
"""

from __future__ import annotations

import collections
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import observe
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    import prometheus_client
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

__all__ = [
    "FAILURE_REASONS",
    "GENERATION_BUCKETS",
    "LOCK_WAIT_BUCKETS",
    "Metrics",
    "asgi_app",
    "disable",
    "enable",
    "wsgi_app",
]

#: Generation latency buckets (seconds): a small thumbnail takes ~10 ms, a
#: large source several seconds; the resizer's default wait is 30 s.
GENERATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

#: Lock wait buckets (seconds): uncontended waits take microseconds, a wait
#: for another server's generation as long as that generation.
LOCK_WAIT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

#: The ``reason`` label of ``imageattach_generations_failed_total``.
FAILURE_REASONS = ("not_found", "unprocessable", "busy", "store_unavailable", "superseded", "error")

_BUSY_REASONS = ("queue_full", "wait_timeout", "generation_failed")
_LOCK_OUTCOMES = ("acquired", "timeout", "error")
_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_RESPONSES = "imageattach_responses"
_RESPONSES_HELP = "Responses the serving middleware answered itself, by status and method."
_BYTES = "imageattach_response_bytes"
_BYTES_HELP = "Body bytes of the serving middleware's responses."

#: Pending responses a recording thread folds into the totals itself (so
#: the queue stays small between scrapes).
_FOLD_AT = 1024

_lock = threading.Lock()
_made: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def enable(*, registry: CollectorRegistry | None = None) -> Metrics:
    """Turn metrics on, in ``registry`` (default: prometheus_client's global
    one).  Enabling again with the same registry is harmless; with another
    one, metrics go there from then on.

    :raises ConfigurationError: ``prometheus_client`` is not installed.
    """
    prometheus_client = _import()
    target = prometheus_client.REGISTRY if registry is None else registry
    with _lock:
        metrics = _made.get(target)
        if metrics is None:
            kind = _MultiprocessMetrics if _multiprocess() else Metrics
            metrics = _made[target] = kind(target)
        observe.recorder = metrics
    return metrics


def disable() -> None:
    """Turn metrics off (what was counted stays in its registry)."""
    with _lock:
        observe.recorder = None


def wsgi_app(*, registry: CollectorRegistry | None = None) -> Callable[..., Any]:
    """A WSGI app answering Prometheus scrapes (``make_wsgi_app``) with the
    metrics of ``registry`` (default: the global one; every process's in
    multi-process mode); enables metrics there."""
    prometheus_client = _import()
    enable(registry=registry)
    app: Callable[..., Any] = prometheus_client.make_wsgi_app(_exposed(registry))
    return app


def asgi_app(*, registry: CollectorRegistry | None = None) -> Callable[..., Any]:
    """:func:`wsgi_app` for ASGI (``make_asgi_app``)."""
    prometheus_client = _import()
    enable(registry=registry)
    app: Callable[..., Any] = prometheus_client.make_asgi_app(_exposed(registry))
    return app


class Metrics:
    """imageattach's metrics in one registry: the
    :class:`~imageattach.observe.Recorder` the instrumented code reports to.
    Labelled children are made once, never looked up per event."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.registry = registry
        self._register_responses(registry)
        self._started = Counter(
            "imageattach_generations_started",
            "Generation jobs begun (on-demand or Resizer.generate).",
            registry=registry,
        )
        self._succeeded = Counter(
            "imageattach_generations_succeeded",
            "Generation jobs that made and stored a thumbnail.",
            registry=registry,
        )
        self._already_stored = Counter(
            "imageattach_generations_already_stored",
            "Generation jobs that found the thumbnail stored once they held the lock.",
            registry=registry,
        )
        failed = Counter(
            "imageattach_generations_failed",
            "Generation jobs that failed, by reason.",
            ["reason"],
            registry=registry,
        )
        self._failed = {reason: failed.labels(reason) for reason in FAILURE_REASONS}
        self._duration = Histogram(
            "imageattach_generation_duration_seconds",
            "Seconds from a job's start to its thumbnail stored (succeeded jobs).",
            buckets=GENERATION_BUCKETS,
            registry=registry,
        )
        busy = Counter(
            "imageattach_busy_responses",
            "503 answers of the resizer, by reason.",
            ["reason"],
            registry=registry,
        )
        self._busy = {reason: busy.labels(reason) for reason in _BUSY_REASONS}
        lock_waits = Counter(
            "imageattach_lock_waits",
            "Waits for the cross-process generation lock, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._lock_waits = {outcome: lock_waits.labels(outcome) for outcome in _LOCK_OUTCOMES}
        self._lock_wait_seconds = Histogram(
            "imageattach_lock_wait_seconds",
            "Seconds spent waiting for the cross-process generation lock.",
            buckets=LOCK_WAIT_BUCKETS,
            registry=registry,
        )
        self._depth = Gauge(
            "imageattach_resize_queue_depth",
            "Generation jobs running or waiting in the resize pools.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._capacity = Gauge(
            "imageattach_resize_queue_capacity",
            "Jobs the resize pools hold at most (workers + queue); more get 503.",
            multiprocess_mode="livesum",
            registry=registry,
        )

    def _register_responses(self, registry: CollectorRegistry) -> None:
        self._tally = _ResponseTally()
        self._pending = self._tally.pending
        registry.register(self._tally)

    def responded(self, status: int, method: str, sent: int) -> None:
        pending = self._pending
        pending.append((status, method, sent))
        if len(pending) > _FOLD_AT:
            self._tally.fold()

    def busy(self, reason: str) -> None:
        self._busy[reason].inc()

    def generation_started(self) -> None:
        self._started.inc()

    def generation_ended(self, outcome: str, seconds: float) -> None:
        if outcome == "succeeded":
            self._succeeded.inc()
            self._duration.observe(seconds)
        elif outcome == "already_stored":
            self._already_stored.inc()
        else:
            self._failed[outcome].inc()

    def lock_waited(self, outcome: str, seconds: float) -> None:
        self._lock_waits[outcome].inc()
        self._lock_wait_seconds.observe(seconds)

    def queued(self, change: int) -> None:
        self._depth.inc(change)

    def capacity(self, change: int) -> None:
        self._capacity.inc(change)

    def __repr__(self) -> str:
        return f"<Metrics in {self.registry!r}>"


class _MultiprocessMetrics(Metrics):
    """:class:`Metrics` whose responses are plain prometheus_client counters:
    in multi-process mode only those reach the scrape (through their files),
    a custom collector would not."""

    def _register_responses(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter

        self._responses = Counter(
            _RESPONSES, _RESPONSES_HELP, ["status", "method"], registry=registry
        )
        self._bytes = Counter(_BYTES, _BYTES_HELP, registry=registry)
        self._children: dict[tuple[int, str], prometheus_client.Counter] = {}

    def responded(self, status: int, method: str, sent: int) -> None:
        child = self._children.get((status, method))
        if child is None:
            child = self._children[status, method] = self._responses.labels(
                str(status), _method_label(method)
            )
        child.inc()
        if sent:
            self._bytes.inc(sent)


class _ResponseTally:
    """``imageattach_responses_total`` and ``imageattach_response_bytes_total``
    as a custom collector.

    They move on every static hit.  A prometheus_client counter takes a lock
    on each ``inc()`` (two per response would add ~10 % to a 7 µs in-process
    hit); a ``deque.append`` is atomic without one, so each response appends
    ``(status, method, bytes)`` and the scrape (or a thread finding
    :data:`_FOLD_AT` pending) folds them into the totals.
    """

    def __init__(self) -> None:
        self.pending: collections.deque[tuple[int, str, int]] = collections.deque()
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, str], int] = {}
        self._sent = 0

    def fold(self) -> None:
        """Move the pending responses into the totals."""
        pending = self.pending
        pop = pending.popleft
        with self._lock:
            # Only folds pop, one at a time: len() items are there to pop.
            batch = collections.Counter([pop() for _ in range(len(pending))])
            counts = self._counts
            for (status, method, size), count in batch.items():
                counts[status, method] = counts.get((status, method), 0) + count
                self._sent += size * count

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        self.fold()
        with self._lock:
            counts = dict(self._counts)
            sent = self._sent
        by_label: dict[tuple[str, str], int] = {}
        for (status, method), count in counts.items():
            labels = (str(status), _method_label(method))
            by_label[labels] = by_label.get(labels, 0) + count
        responses = CounterMetricFamily(_RESPONSES, _RESPONSES_HELP, labels=("status", "method"))
        for labels, count in sorted(by_label.items()):
            responses.add_metric(labels, count)
        yield responses
        yield CounterMetricFamily(_BYTES, _BYTES_HELP, value=sent)

    def describe(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        yield CounterMetricFamily(_RESPONSES, _RESPONSES_HELP, labels=("status", "method"))
        yield CounterMetricFamily(_BYTES, _BYTES_HELP)


def _method_label(method: str) -> str:
    # Any token is a method: the label keeps to a few values.
    return method if method in _METHODS else "other"


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def _exposed(registry: CollectorRegistry | None) -> CollectorRegistry:
    """The registry a scrape reads: every process's values in
    multi-process mode (a fresh registry, as prometheus_client asks)."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if _multiprocess():
        exposed = CollectorRegistry()
        multiprocess.MultiProcessCollector(exposed)  # type: ignore[no-untyped-call]
        return exposed
    return REGISTRY if registry is None else registry


def _import() -> Any:
    try:
        import prometheus_client
    except ImportError as error:
        raise ConfigurationError(
            "metrics need prometheus_client: pip install 'imageattach[metrics]'"
        ) from error
    return prometheus_client
