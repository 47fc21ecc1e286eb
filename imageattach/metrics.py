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
LOCK_WAIT_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

#: The ``reason`` label of ``imageattach_generations_failed_total``.
FAILURE_REASONS = ("not_found", "unprocessable", "busy", "store_unavailable", "superseded", "error")

_BUSY_REASONS = ("queue_full", "wait_timeout", "generation_failed")
_LOCK_OUTCOMES = ("acquired", "timeout", "error")
_LEASE_FAILURES = ("fallback", "refused", "renewal", "release", "lost")
_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_RESPONSES = "imageattach_responses"
_RESPONSES_HELP = "Responses the serving middleware answered itself, by status and method."
_BYTES = "imageattach_response_bytes"
_BYTES_HELP = "Body bytes of the serving middleware's responses."

_lock = threading.Lock()
_made: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def enable(*, registry: CollectorRegistry | None = None) -> Metrics:
    """Turn metrics on, in ``registry`` (default: prometheus_client's global
    one).  Enabling again with the same registry is harmless; with another
    one, metrics go there from then on.

    :raises ConfigurationError: ``prometheus_client`` is not installed,
        ``registry`` is not a ``CollectorRegistry``, or
        ``PROMETHEUS_MULTIPROC_DIR`` names no directory.
    """
    prometheus_client = _import()
    if registry is not None and not isinstance(registry, prometheus_client.CollectorRegistry):
        raise ConfigurationError(
            f"registry must be a prometheus_client CollectorRegistry, not {registry!r}"
        )
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
        lease_failures = Counter(
            "imageattach_lease_failures",
            "Redis leases (resize_lock) that Redis could not serve, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._lease_failures = {
            outcome: lease_failures.labels(outcome) for outcome in _LEASE_FAILURES
        }
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
        self._local = threading.local()
        registry.register(self._tally)

    def responded(self, status: int, method: str, sent: int) -> None:
        try:
            counts: _ThreadCounts = self._local.counts
        except AttributeError:
            counts = self._local.counts = self._tally.new_thread()
        by_status = counts.by_method.get(method)
        if by_status is None:
            by_status = counts.of_method(method)
        by_status[status] = by_status.get(status, 0) + 1
        counts.sent += sent

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

    def lease_failed(self, outcome: str) -> None:
        self._lease_failures[outcome].inc()

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
        if method not in _METHODS:
            method = "other"
        child = self._children.get((status, method))
        if child is None:
            child = self._children[status, method] = self._responses.labels(str(status), method)
        child.inc()
        if sent:
            self._bytes.inc(sent)


class _ThreadCounts:
    """One thread's responses: ``by_method[method][status]`` and bytes sent.
    Only that thread writes them."""

    __slots__ = ("by_method", "sent", "thread")

    def __init__(self) -> None:
        self.by_method: dict[str, dict[int, int]] = {}
        self.sent = 0
        self.thread = threading.current_thread()

    def of_method(self, method: str) -> dict[int, int]:
        """The counts by status of ``method``'s label, made on first use.
        Any token is a method: others than GET, HEAD and OPTIONS count as
        ``other``, and are never keys of :attr:`by_method` themselves."""
        label = method if method in _METHODS else "other"
        by_status = self.by_method.get(label)
        if by_status is None:
            by_status = self.by_method[label] = {}
        return by_status


class _ResponseTally:
    """``imageattach_responses_total`` and ``imageattach_response_bytes_total``
    as a custom collector over per-thread counts.

    They move on every static hit.  A prometheus_client counter takes a lock
    on each ``inc()``: two per response would add ~0.8 µs, more than 10 % of
    a 7 µs in-process hit.  Each thread counts in its own plain dicts
    instead (no lock, nothing shared to write), and a scrape adds them up;
    the counts of threads that ended are folded into totals.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[_ThreadCounts] = []
        self._ended: dict[tuple[int, str], int] = {}
        self._ended_sent = 0

    def new_thread(self) -> _ThreadCounts:
        """The counts of the calling thread, from now on."""
        counts = _ThreadCounts()
        with self._lock:
            self._fold_ended()
            self._threads.append(counts)
        return counts

    def _fold_ended(self) -> None:
        alive = []
        for counts in self._threads:
            if counts.thread.is_alive():
                alive.append(counts)
            else:
                _add(self._ended, counts)
                self._ended_sent += counts.sent
        self._threads = alive

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        with self._lock:
            self._fold_ended()
            totals = dict(self._ended)
            sent = self._ended_sent
            for counts in self._threads:
                _add(totals, counts)
                sent += counts.sent
        responses = CounterMetricFamily(_RESPONSES, _RESPONSES_HELP, labels=("status", "method"))
        for (status, method), count in sorted(totals.items()):
            responses.add_metric((str(status), method), count)
        yield responses
        yield CounterMetricFamily(_BYTES, _BYTES_HELP, value=sent)

    def describe(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        yield CounterMetricFamily(_RESPONSES, _RESPONSES_HELP, labels=("status", "method"))
        yield CounterMetricFamily(_BYTES, _BYTES_HELP)


def _add(totals: dict[tuple[int, str], int], counts: _ThreadCounts) -> None:
    """Add one thread's counts (copied first: its thread may be writing)."""
    for method, by_status in list(counts.by_method.items()):
        for status, count in list(by_status.items()):
            totals[status, method] = totals.get((status, method), 0) + count


def _multiprocess() -> bool:
    """Whether prometheus_client's multi-process mode is on (its directory
    checked: prometheus_client would fail on the first metric instead)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return False
    if not os.path.isdir(directory):
        raise ConfigurationError(
            f"PROMETHEUS_MULTIPROC_DIR={directory!r} is not a directory: "
            "make it (empty) before the processes start"
        )
    return True


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
