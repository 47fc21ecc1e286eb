"""What the serving and generating code reports, for metrics and traces.

The middlewares, the resizer and its pool call this module; it forwards to
the :class:`Recorder` that :func:`imageattach.metrics.enable` installs and
to the tracer of :mod:`imageattach.tracing`.  With neither, every call is a
``None`` check, so the static hit path costs nothing measurable.  The
recorder is read once per call site (``observe.recorder``), not imported by
name, so enabling metrics after the middleware was built still counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from .tracing import current_tracer

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = ["Job", "Recorder", "key_path", "recorder", "store_span"]


class Recorder(Protocol):
    """What the instrumented code reports (see docs/metrics.md for each
    metric); implemented by :class:`imageattach.metrics.Metrics`."""

    def responded(self, status: int, method: str, sent: int) -> None:
        """The serving middleware answered with ``status`` and ``sent`` body bytes."""

    def busy(self, reason: str) -> None:
        """The resizer answered 503 (``queue_full``, ``wait_timeout`` or
        ``generation_failed``)."""

    def generation_started(self) -> None:
        """A generation job began."""

    def generation_ended(self, outcome: str, seconds: float) -> None:
        """A job ended: ``succeeded`` (``seconds`` long), ``already_stored``
        or a failure reason."""

    def lock_waited(self, outcome: str, seconds: float) -> None:
        """A wait for the cross-process lock ended (``acquired``, ``timeout``
        or ``error``) after ``seconds``."""

    def lease_failed(self, outcome: str) -> None:
        """Redis could not serve a lease (:mod:`imageattach.leases`):
        ``fallback`` (a local lock was taken instead), ``refused``
        (503 / :exc:`~imageattach.exceptions.StoreUnavailableError`),
        ``renewal`` or ``release`` (Redis unreachable while holding), or
        ``lost`` (another holder took it meanwhile)."""

    def queued(self, change: int) -> None:
        """Jobs in a resize pool (running or waiting) changed by ``change``."""

    def capacity(self, change: int) -> None:
        """The slots of the resize pools (workers + queue) changed by ``change``."""


#: The metrics sink; ``None`` while metrics are off.
recorder: Recorder | None = None

_NO_SPAN: AbstractContextManager[None] = nullcontext()


def key_path(store: object, *key: object) -> str:
    """How log records (``extra={"image_key": ...}``) and spans name the
    file of ``key`` (object type, id, width, height, mimetype): its path in
    ``store`` where the store lays keys out as paths, else the key's parts
    joined by ``/``."""
    layout = getattr(store, "key_path", None)
    if layout is None:
        return "/".join(map(str, key))
    path: str = layout(*key)
    return path


def store_span(operation: str, store: object, *key: object) -> AbstractContextManager[object]:
    """A span ``imageattach.store.<operation>`` around an application's
    store call (an upload's write, a cleanup's delete, an open) with the
    file's :func:`key_path`; nothing without tracing."""
    tracer = current_tracer()
    if tracer is None:
        return _NO_SPAN
    return tracer.start_as_current_span(
        f"imageattach.store.{operation}",
        attributes={"imageattach.image_key": key_path(store, *key)},
    )


class Job:
    """One generation being observed: counts it, times it and spans it.

    ``with Job(key, width, height, format) as job:`` … then exactly one
    :meth:`end`; the span's children come from :meth:`span` and
    :meth:`lock_wait`.  Without metrics nor tracing it only keeps a clock.
    """

    __slots__ = ("_key", "_recorder", "_size", "_span", "_span_manager", "_started", "_tracer")

    def __init__(self, key: str, width: int, height: int, format: str) -> None:
        self._recorder = recorder
        self._tracer = current_tracer()
        self._key = key
        self._size = (width, height, format)
        self._span: Span | None = None
        self._span_manager: AbstractContextManager[Span] | None = None
        self._started = 0.0

    def __enter__(self) -> Job:
        if self._tracer is not None:
            # Failures are recorded by end(), with their reason, not as
            # whatever escapes the block.
            width, height, format = self._size
            self._span_manager = self._tracer.start_as_current_span(
                "imageattach.generate",
                attributes={
                    "imageattach.image_key": self._key,
                    "imageattach.width": width,
                    "imageattach.height": height,
                    "imageattach.format": format,
                },
                record_exception=False,
                set_status_on_exception=False,
            )
            self._span = self._span_manager.__enter__()
        if self._recorder is not None:
            self._recorder.generation_started()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._span_manager is not None:
            self._span_manager.__exit__(kind, error, traceback)

    def end(self, outcome: str, error: BaseException | None = None) -> None:
        """Record how the job ended: ``succeeded``, ``already_stored`` or a
        failure reason, with the ``error`` that caused it."""
        seconds = time.perf_counter() - self._started
        if self._recorder is not None:
            self._recorder.generation_ended(outcome, seconds)
        span = self._span
        if span is not None:
            span.set_attribute("imageattach.outcome", outcome)
            if error is not None:
                from opentelemetry.trace import Status, StatusCode

                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, outcome))

    def span(self, name: str) -> AbstractContextManager[object]:
        """A child span ``imageattach.<name>`` (e.g. ``store.open_version``);
        an exception leaving it is recorded on it."""
        if self._tracer is None:
            return _NO_SPAN
        return self._tracer.start_as_current_span(f"imageattach.{name}")

    @contextmanager
    def lock_wait(self) -> Iterator[None]:
        """Around taking the cross-process lock: times the wait, counts its
        outcome, and spans it (``imageattach.lock_wait``)."""
        started = time.perf_counter()
        outcome = "error"
        try:
            with self.span("lock_wait"):
                try:
                    yield
                except TimeoutError:
                    outcome = "timeout"
                    raise
                outcome = "acquired"
        finally:
            if self._recorder is not None:
                self._recorder.lock_waited(outcome, time.perf_counter() - started)
