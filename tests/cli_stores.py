"""Objects for ``--from``/``--to module:attribute`` in the command-line tests."""

from __future__ import annotations

import os
import signal
import time
from typing import IO

from imageattach.stores.fs import FileSystemStore

#: One entry per instance of :class:`NotAStore` ever made (there must be none).
made: list[NotAStore] = []


class NotAStore:
    """A class that is not a Store (like a model class given by mistake):
    the command line must refuse it without instantiating it."""

    def __init__(self) -> None:
        made.append(self)


class InterruptedTwice(FileSystemStore):
    """A FileSystemStore on ``$CLI_STORE_PATH`` whose first write sends its
    own process SIGINT twice, half a second apart, then takes a minute."""

    def __init__(self) -> None:
        super().__init__(os.environ["CLI_STORE_PATH"], "http://images.example.com/")

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
        for _ in range(2):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
        time.sleep(60)
        super().put_file(file, object_type, object_id, width, height, mimetype, reproducible)
