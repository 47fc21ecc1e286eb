"""Copying the images' files from one store to another, some at a time,
skipping those the destination already has."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from ..store import Store
from ..tracking import Key, image_key
from .progress import Progress, Tally
from .retries import _doing

_POLL = 0.2  # seconds between checks for a stop request while copies run


def _describe(key: Key) -> str:
    object_type, object_id, width, height, mimetype = key
    return f"{object_type} {object_id} {width}x{height} {mimetype}"


def is_present(store: Store, key: Key) -> bool:
    """Whether ``store`` has a file under ``key``: the store's cheap check,
    or, for a store that cannot tell, opening the file."""
    present = store.exists(*key)
    if present is not None:
        return present
    try:
        store.get_file(*key).close()
    except FileNotFoundError:
        return False
    return True


def copy_file(
    source: Store, destination: Store, key: Key, reproducible: bool, dry_run: bool
) -> str:
    """Copy the file under ``key`` unless ``destination`` has it; return
    ``'copied'`` or ``'skipped'``.  Runs in a worker thread: it touches the
    stores only, never the session."""
    with _doing(_describe(key)):
        if is_present(destination, key):
            return "skipped"
        if not dry_run:
            with contextlib.closing(source.get_file(*key)) as file:
                destination.put_file(file, *key, reproducible)
        return "copied"


def migrate_images(
    images: Iterable[Any],
    source: Store,
    destination: Store,
    tally: Tally,
    progress: Progress,
    *,
    dry_run: bool = False,
    max_failures: int | None = None,
    jobs: int = 1,
    stop: Callable[[], bool] = lambda: False,
) -> str:
    """Copy each image's file that ``destination`` lacks, ``jobs`` at a time
    (storage round trips, not CPU, are what a migration waits for); count in
    ``tally``.  A failing image is reported and skipped.

    Every copy started is waited for and counted, so ``tally`` is exact.
    No copy starts once ``stop()`` is true, or once ``max_failures`` images
    failed; and no more copies run at once than failures are left before
    ``max_failures``, so no more than ``max_failures`` images ever fail.

    Returns ``'finished'``, ``'interrupted'`` (``stop()``) or
    ``'max-failures'``.
    """
    running: dict[Future[str], Key] = {}

    def room() -> int:
        """How many copies may run at once now."""
        if max_failures is None:
            return jobs
        return min(jobs, max_failures - tally.failed)

    def collect() -> None:
        """Wait a little for copies to finish; count every finished one."""
        done, _ = wait(running, timeout=_POLL, return_when=FIRST_COMPLETED)
        for future in done:
            key = running.pop(future)
            try:
                outcome = future.result()
            except Exception as error:
                tally.failed += 1
                progress.message(f"failed: {_describe(key)}: {type(error).__name__}: {error}")
            else:
                if outcome == "copied":
                    tally.copied += 1
                else:
                    tally.skipped += 1
            progress.step()

    with ThreadPoolExecutor(jobs, thread_name_prefix="imageattach-migrate") as pool:
        try:
            for image in images:  # rows are read here, in the session's thread
                while running and len(running) >= room() and not stop():
                    collect()
                if stop() or room() <= 0:
                    break
                key = image_key(image)
                future = pool.submit(
                    copy_file, source, destination, key, not image.original, dry_run
                )
                running[future] = key
        finally:  # also on a database error: the copies in progress are counted
            while running:
                collect()
    if stop():
        return "interrupted"
    if max_failures is not None and tally.failed >= max_failures:
        return "max-failures"
    return "finished"
