"""Stopping a migration on SIGINT or SIGTERM: the copies running finish,
no new one starts."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from .exitstatus import EXIT_INTERRUPTED


class StopRequest:
    """Set by SIGINT or SIGTERM: no new copy starts, the running ones finish.
    A second signal exits at once (every write is atomic anyway)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            # print() is not reentrant: the main thread may be inside one.
            os.write(2, b"imageattach: interrupted again: exiting without waiting\n")
            os._exit(EXIT_INTERRUPTED)
        self.requested = True

    def __bool__(self) -> bool:
        return self.requested


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[StopRequest]:
    """Turn SIGINT and SIGTERM into a :class:`StopRequest` meanwhile (in the
    main thread; elsewhere signals cannot be handled, and none is asked)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
