"""A store factory for the command-line tests: a wrapper around the store
described by ``$DYING_STORE_SPEC`` that sends its own process
``$DYING_STORE_SIGNAL`` (e.g. ``SIGKILL``) right after the
``$DYING_STORE_AFTER``-th file it stored, to interrupt a migration midway."""

from __future__ import annotations

import os
import signal
from typing import IO

from imageattach.store import Store
from imageattach.storespec import parse_store


class DyingStore(Store):
    def __init__(self) -> None:
        self.inner = parse_store(os.environ["DYING_STORE_SPEC"])
        self.left = int(os.environ["DYING_STORE_AFTER"])
        self.signal = signal.Signals[os.environ["DYING_STORE_SIGNAL"]]

    def put_file(
        self,
        file: IO[bytes],
        object_type: str,
        object_id: int,
        width: int,
        height: int,
        mimetype: str,
        reproducible: bool,
    ) -> None:
        self.inner.put_file(file, object_type, object_id, width, height, mimetype, reproducible)
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), self.signal)

    def get_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> IO[bytes]:
        return self.inner.get_file(object_type, object_id, width, height, mimetype)

    def delete_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> None:
        self.inner.delete_file(object_type, object_id, width, height, mimetype)

    def get_url(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        return self.inner.get_url(object_type, object_id, width, height, mimetype)

    def exists(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> bool | None:
        return self.inner.exists(object_type, object_id, width, height, mimetype)
