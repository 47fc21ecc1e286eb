"""Background pre-generation with Celery (docs/pregeneration.md).

::

    from celery import Celery
    from imageattach import tasks

    app = Celery("myapp", broker="amqp://...")
    tasks.register(app, store="myapp.stores:images")

:func:`register` adds the task :data:`TASK_NAME` to the application's own
Celery app and turns on enqueueing: after the outermost commit that stores a
new original (an insert or a replacement), one message is sent per original
that has something to make (:func:`imageattach.pregenerate.requests_for`).
The message is the small JSON object of
:meth:`imageattach.pregenerate.Original.to_message` (the original's key,
focal point and attachment sizes), so the worker needs no models and no
database, only the store.  Without :func:`register` nothing is enqueued.

The task skips what exists, is acknowledged late and requeued if its worker
dies (``acks_late``, ``reject_on_worker_lost``: a redelivered task finds what
the lost one stored, and makes the rest), retries a busy or unavailable
store with exponential backoff, and logs (not retries) what the original
cannot give.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import tracking
from .exceptions import ConfigurationError, ImageAttachError, StoreUnavailableError
from .pregenerate import Original, image_key, pregenerate, requests_for
from .store import Store
from .validation import check_int

if TYPE_CHECKING:
    from celery import Celery, Task

__all__ = ["TASK_NAME", "GenerationBusy", "check_registered", "enqueue", "register", "unregister"]

logger = logging.getLogger("imageattach.tasks")

#: The name the task is registered under.
TASK_NAME = "imageattach.pregenerate"

StoreSource = Store | str | Callable[[], Store]


class GenerationBusy(ImageAttachError, RuntimeError):
    """Some files could not be made yet: the store was unavailable, every
    imaging worker busy, or another process held the key's lock too long.
    The task is retried."""


class _LazyStore:
    """The worker's store: given, parsed from a spec, or made by a factory,
    on first use (so a forked worker makes its own)."""

    def __init__(self, source: StoreSource) -> None:
        if isinstance(source, str):
            from .storespec import parse_store

            spec = source
            source = lambda: parse_store(spec)  # noqa: E731
        elif not isinstance(source, Store) and not callable(source):
            raise ConfigurationError(
                "store must be a Store, a store spec string or a function returning a "
                f"Store, not {source!r}"
            )
        self._source = source
        self._store: Store | None = source if isinstance(source, Store) else None
        self._lock = threading.Lock()

    def get(self) -> Store:
        with self._lock:
            if self._store is None:
                assert not isinstance(self._source, Store)
                made = self._source()
                if not isinstance(made, Store):
                    raise ConfigurationError(f"the store function returned {made!r}, not a Store")
                self._store = made
            return self._store


def register(
    app: Celery,
    *,
    store: StoreSource,
    queue: str | None = None,
    max_retries: int = 8,
    retry_backoff: int = 2,
    retry_backoff_max: int = 600,
) -> Task:
    """Register the pre-generation task on ``app`` and enqueue it after each
    commit that stores a new original; return the task.

    :param store: the store the worker makes the files in: a
        :class:`~imageattach.store.Store`, a store spec as the command line
        takes (``"myapp.stores:images"``, ``"s3://bucket/prefix?..."``), or a
        function of no arguments returning one (called once, in the worker).
    :param queue: the queue the messages go to (default: the app's default
        queue); run a worker with ``-Q`` of it.
    :param max_retries: how many times a busy or unavailable store is retried
        before the original is given up (logged; the files are made on demand).
    :param retry_backoff: the first retry's longest delay in whole seconds,
        doubled each time, at most ``retry_backoff_max`` (Celery's
        exponential backoff with full jitter).
    :raises ConfigurationError: a bad option, naming it.
    :raises ImportError: Celery is not installed (the ``celery`` extra).
    """
    try:
        from celery import Celery
    except ImportError as error:
        raise ImportError(
            "imageattach.tasks needs Celery: pip install 'imageattach[celery]'"
        ) from error
    if not isinstance(app, Celery):
        raise ConfigurationError(f"app must be a celery.Celery application, not {app!r}")
    stores = _LazyStore(store)
    if queue is not None and (not isinstance(queue, str) or not queue):
        raise ConfigurationError(f"queue must be a non-empty string or None, not {queue!r}")
    max_retries = check_int("max_retries", max_retries, minimum=0)
    retry_backoff = check_int("retry_backoff", retry_backoff)
    retry_backoff_max = check_int("retry_backoff_max", retry_backoff_max)

    def run(task: Task, message: object) -> dict[str, int]:
        return _run(task, stores.get(), message)

    options: dict[str, Any] = {
        "name": TASK_NAME,
        "bind": True,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": (GenerationBusy, StoreUnavailableError),
        "max_retries": max_retries,
        "retry_backoff": retry_backoff,
        "retry_backoff_max": retry_backoff_max,
        "retry_jitter": True,
        "ignore_result": True,
        "shared": False,  # this app's task, not added to every Celery app
    }
    task: Task = app.task(**options)(run)
    _queues[app] = queue
    tracking.set_commit_hook(
        tracking.CommitHook(snapshot=_snapshot, committed=lambda pairs: _enqueue(app, pairs))
    )
    return task


#: The queue of each app's task (``None``: the app's default).
_queues: weakref.WeakKeyDictionary[Celery, str | None] = weakref.WeakKeyDictionary()


def check_registered(app: object) -> None:
    """:raises ConfigurationError: :func:`register` was not called for ``app``."""
    try:
        found = app in _queues
    except TypeError:  # not weakly referenceable: not a Celery app
        found = False
    if not found:
        raise ConfigurationError(
            f"{app!r} has no pre-generation task: call imageattach.tasks.register(app, "
            "store=...) where the app is made"
        )


def enqueue(app: Celery, original: Original) -> None:
    """Send ``original``'s pre-generation to ``app``'s worker (as after a
    commit; the command line's ``--enqueue``).

    :raises ConfigurationError: :func:`register` was not called for ``app``.
    """
    check_registered(app)
    app.tasks[TASK_NAME].apply_async(args=(original.to_message(),), queue=_queues[app])


def unregister() -> None:
    """Stop enqueueing after commits (the task stays registered)."""
    tracking.set_commit_hook(None)


def _snapshot(image: Any) -> Original:
    return Original.of(image)


def _enqueue(app: Celery, pairs: list[tuple[Store, object]]) -> None:
    """Send a message per committed original that has something to make."""
    for store, original in pairs:
        assert isinstance(original, Original)
        key = image_key(store, original)
        try:
            if not requests_for(store, original):
                continue
            enqueue(app, original)
        except Exception:
            # Broker down, or a size naming an unknown preset: the files are
            # made on demand (or by `imageattach pregenerate`) instead.
            logger.exception(
                "could not enqueue the pre-generation of %s", key, extra={"image_key": key}
            )


def _run(task: Task, store: Store, message: object) -> dict[str, int]:
    """The task's body: make what ``message``'s original lacks."""
    try:
        original = Original.from_message(message)
    except ImageAttachError as error:
        logger.error("dropped a malformed pre-generation message: %s", error)
        return {}
    key = image_key(store, original)
    try:
        report = pregenerate(store, original)
    except ConfigurationError as error:  # a size names a preset the store lacks
        logger.error("cannot pre-generate %s: %s", key, error, extra={"image_key": key})
        return {}
    except StoreUnavailableError as error:
        if task.request.retries >= (task.max_retries or 0):
            logger.error("gave up pre-generating %s after %d retries: %s", key,
                         task.request.retries, error, extra={"image_key": key})  # fmt: skip
            return {}
        raise
    counts = {
        "generated": len(report.generated),
        "existing": len(report.existing),
        "failed": len(report.failed),
        "busy": len(report.busy),
    }
    if report.busy:
        if task.request.retries >= (task.max_retries or 0):
            logger.error(
                "gave up pre-generating %s after %d retries: %s",
                key,
                task.request.retries,
                ", ".join(report.busy),
                extra={"image_key": key},
            )
            return counts
        raise GenerationBusy(f"{key}: not made yet: {', '.join(report.busy)}")
    return counts
