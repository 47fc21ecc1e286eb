"""Peak resident memory of server process groups, sampled from ``/proc``.

A server's memory is the sum of the RSS of every process in its process
group (:mod:`bench.procs` starts each server in a session of its own, so
gunicorn's master and worker both count).  Pages shared between them are
counted once per process: an upper bound, as ``ps`` would show it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from types import TracebackType

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_by_group(groups: Collection[int]) -> dict[int, int]:
    """Bytes resident in the processes of each process group of ``groups``
    (one pass over ``/proc``); 0 where there is no ``/proc``."""
    totals = dict.fromkeys(groups, 0)
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                text = stat.read()
            # Fields after the parenthesised command: state ppid pgrp ...
            group = int(text[text.rindex(b")") + 2 :].split()[2])
            if group in totals:
                with open(f"/proc/{entry.name}/statm", "rb") as statm:
                    totals[group] += int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue  # the process ended in between
    return totals


class PeakRss:
    """While in the ``with`` block, sample the RSS of each named process
    group every ``interval`` seconds; :attr:`peak` holds the largest sums."""

    def __init__(self, groups: Mapping[str, int], *, interval: float = 0.05) -> None:
        self.groups = dict(groups)
        self.interval = interval
        self.peak = dict.fromkeys(self.groups, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def sample(self) -> dict[str, int]:
        """The RSS of each group now."""
        totals = rss_by_group(set(self.groups.values()))
        return {name: totals[group] for name, group in self.groups.items()}

    def _sample(self) -> None:
        while True:
            for name, rss in self.sample().items():
                self.peak[name] = max(self.peak[name], rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
