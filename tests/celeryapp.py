"""The store, and the Celery app, of the pre-generation tests' worker and
command-line processes, configured by environment variables:

``PREGEN_STORE``
    the directory of the store (:func:`store`);
``PREGEN_LOG``
    a file that gets a line ``<pid> <path>`` per thumbnail stored, to
    count generations across processes;
``PREGEN_HOLD``
    while this file exists, each generation writes its process id to
    ``<PREGEN_HOLD>.pid`` and waits before reading the original (so a test
    can kill the process mid-task);
``PREGEN_DELAY``
    seconds each generation waits before reading the original;
``PREGEN_UNAVAILABLE``
    a file holding a number: while it is above 0, reading an original
    lowers it and fails with :exc:`StoreUnavailableError`;
``PREGEN_BROKER``, ``PREGEN_QUEUE``
    the broker URL and queue of :data:`app` (only made when set).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO, Any

from imageattach.exceptions import StoreUnavailableError
from imageattach.stores.fs import HttpExposedFileSystemStore

SECRET_KEY = "pregeneration-test-secret-key-0123"
PRESETS: dict[str, dict[str, Any]] = {
    "thumb": {"width": 30},
    "square": {"width": 16, "height": 16, "fit": "cover", "format": "auto"},
}


class CountingStore(HttpExposedFileSystemStore):
    """An HttpExposedFileSystemStore with presets that logs each stored
    thumbnail and can be slowed down (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(
            path,
            host_url_getter=lambda: "http://images.example.com/",
            secret_key=SECRET_KEY,
            presets=PRESETS,
            resize_workers=1,
        )

    def open_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> tuple[IO[bytes], str | None]:
        hold = os.environ.get("PREGEN_HOLD")
        if hold and os.path.exists(hold):
            Path(f"{hold}.pid").write_text(str(os.getpid()))
            deadline = time.monotonic() + 60
            while os.path.exists(hold) and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(float(os.environ.get("PREGEN_DELAY", "0")))
        unavailable = Path(os.environ.get("PREGEN_UNAVAILABLE") or os.devnull)
        left = int(unavailable.read_text() or 0) if unavailable.is_file() else 0
        if left > 0:
            unavailable.write_text(str(left - 1))
            raise StoreUnavailableError("the test's store is unavailable")
        return super().open_version(object_type, object_id, width, height, mimetype)

    def put_derived(
        self,
        file: IO[bytes],
        object_type: str,
        object_id: int,
        width: int,
        height: int,
        mimetype: str,
        source_version: str,
    ) -> None:
        super().put_derived(file, object_type, object_id, width, height, mimetype, source_version)
        log = os.environ.get("PREGEN_LOG")
        if log:
            line = f"{os.getpid()} {self.key_path(object_type, object_id, width, height, mimetype)}"
            with open(log, "a") as output:
                output.write(line + "\n")


def store() -> CountingStore:
    """The store on ``$PREGEN_STORE``."""
    return CountingStore(os.environ["PREGEN_STORE"])


def make_app(broker: str, queue: str, name: str = "pregen-tests") -> Any:
    """A Celery app on ``broker`` whose pre-generation task goes to ``queue``."""
    from celery import Celery

    from imageattach import tasks

    celery = Celery(name, broker=broker)
    celery.conf.update(
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=True,
    )
    tasks.register(celery, store=store, queue=queue, max_retries=2, retry_backoff=1)
    return celery


if os.environ.get("PREGEN_BROKER"):
    app = make_app(os.environ["PREGEN_BROKER"], os.environ["PREGEN_QUEUE"])
