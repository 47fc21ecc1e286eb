"""Resident memory and CPU time of process trees, sampled from ``/proc``.

A server's tree is its process and every descendant: gunicorn's worker,
and imageattach's decoding workers, which run in sessions of their own
(so a process group would miss them).  Memory is the sum of the trees'
RSS; pages shared between its processes count once per process (an upper
bound, as ``ps`` shows it).  CPU time is user + system time of the live
processes and of the children they have reaped.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Usage:
    rss: int
    cpu_seconds: float


@dataclass(frozen=True)
class _Process:
    parent: int
    rss: int
    ticks: int


def _processes() -> Iterator[tuple[int, _Process]]:
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue  # ended in between
        # The fields after the parenthesised command (which may hold spaces):
        # state ppid ... utime stime cutime cstime (12th to 15th) ... rss (22nd).
        fields = text[text.rindex(b")") + 2 :].split()
        ticks = sum(int(field) for field in fields[11:15])
        yield int(entry.name), _Process(int(fields[1]), int(fields[21]) * _PAGE, ticks)


def usage(roots: Mapping[str, int]) -> dict[str, Usage]:
    """The usage of the tree under each named root process, in one pass over
    ``/proc``; zeros where there is none."""
    processes = dict(_processes())
    children: dict[int, list[int]] = {}
    for pid, process in processes.items():
        children.setdefault(process.parent, []).append(pid)
    found = {}
    for name, root in roots.items():
        rss = ticks = 0
        pending = [root] if root in processes else []
        while pending:
            pid = pending.pop()
            rss += processes[pid].rss
            ticks += processes[pid].ticks
            pending += children.get(pid, [])
        found[name] = Usage(rss, ticks / _TICKS)
    return found


class PeakRss:
    """While in the ``with`` block, sample the trees under ``roots`` every
    ``interval`` seconds; :attr:`peak` holds each tree's largest RSS."""

    def __init__(self, roots: Mapping[str, int], *, interval: float = 0.05) -> None:
        self.roots = dict(roots)
        self.interval = interval
        self.peak = dict.fromkeys(self.roots, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def sample(self) -> dict[str, Usage]:
        """Each tree's usage now (also counted towards the peak)."""
        now = usage(self.roots)
        for name, used in now.items():
            self.peak[name] = max(self.peak[name], used.rss)
        return now

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

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
        self.sample()
