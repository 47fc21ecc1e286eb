"""What the child processes of the on-demand tests run.  Kept apart from the
test modules so that a spawned child imports little."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from imageattach.filelocks import FileLocks

if TYPE_CHECKING:
    from imageattach.ondemand.resizer import Resizer


def _resizer(root: str, key: str) -> Resizer:
    # Imported here: the lock-only worker needs none of it.
    import imageattach.imaging  # noqa: F401  (the policy must be in force before wand loads)
    from imageattach.ondemand.resizer import Resizer
    from imageattach.stores.fs import HttpExposedFileSystemStore

    return Resizer(HttpExposedFileSystemStore(root, "__images__", lambda: ""), secret_key=key)


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path.removeprefix("/__images__/"), parts.query


def handle(root: str, key: str, url: str) -> tuple[int, str] | None:
    """Answer one miss of ``url``: ``(status, text)`` of a refusal, or ``None``."""
    from imageattach.middleware.miss import MissResponse

    resizer = _resizer(root, key)
    answer = resizer.handle(*_split(url))
    resizer.shutdown()
    return (answer.status, answer.text) if isinstance(answer, MissResponse) else None


def handle_concurrently(root: str, key: str, url: str, ready: Any, results: Any) -> None:
    """Once every process is ``ready``, answer 8 concurrent misses of ``url``;
    put (all served?, generations) on ``results``."""
    from imageattach.middleware.miss import FILE_READY

    resizer = _resizer(root, key)
    ready.wait()
    with ThreadPoolExecutor(8) as clients:
        answers = list(clients.map(lambda _: resizer.handle(*_split(url)), range(8)))
    resizer.shutdown()
    results.put((answers == [FILE_READY] * 8, resizer.generations))


def generate_once(directory: str, marker: str, log: str, ready: Any) -> None:
    """The "generate once" dance without images: lock, re-check, write, log."""
    ready.wait()
    with FileLocks(directory).hold("thumb", timeout=30):
        if os.path.exists(marker):
            return
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.05)  # a generation taking a while
        with open(marker, "w") as f:
            f.write("done")
