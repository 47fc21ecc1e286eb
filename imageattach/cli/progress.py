"""What a migration did so far (:class:`Tally`), and its display
(:class:`Progress`): a tqdm bar on a terminal, or a line every few seconds."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import IO, Any

_LOG_INTERVAL = 5.0  # seconds between progress lines when there is no terminal


@dataclass
class Tally:
    """What a migration did so far."""

    total: int | None
    copied: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.copied + self.skipped + self.failed


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress on ``stream``: a tqdm bar on a terminal, a line every few
    seconds otherwise (logs and CI stay readable), or nothing."""

    def __init__(self, tally: Tally, mode: str, stream: IO[str], dry_run: bool = False) -> None:
        self.tally = tally
        self.stream = stream
        self.dry_run = dry_run
        self.started = self.last_line = time.monotonic()
        self._bar: Any = None
        self._lock = threading.Lock()  # retry lines come from worker threads
        if mode == "auto":
            mode = "bar" if stream.isatty() else "log"
        if mode == "bar":
            try:
                from tqdm import tqdm
            except ImportError:
                mode = "log"  # the ``cli`` extra is not installed
            else:
                self._bar = tqdm(
                    total=tally.total, unit="img", file=stream, dynamic_ncols=True, smoothing=0.1
                )
        self.mode = mode

    def counts(self) -> str:
        tally = self.tally
        verb = "would copy" if self.dry_run else "copied"
        return f"{verb} {tally.copied}, skipped {tally.skipped}, failed {tally.failed}"

    def step(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(self.counts(), refresh=False)
            self._bar.update(1)
        elif self.mode == "log" and time.monotonic() - self.last_line >= _LOG_INTERVAL:
            self._line()

    def _line(self) -> None:
        tally = self.tally
        now = time.monotonic()
        self.last_line = now
        rate = tally.done / max(now - self.started, 1e-9)
        if tally.total:
            eta = _duration((tally.total - tally.done) / rate) if rate else "?"
            position = f"{tally.done}/{tally.total} images ({100 * tally.done // tally.total}%)"
        else:
            eta, position = "?", f"{tally.done} images"
        self.message(f"{position}, {rate:.1f}/s, ETA {eta}: {self.counts()}")

    def message(self, text: str) -> None:
        """Print ``text`` without breaking the bar (from any thread)."""
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "log":
            self._line()
