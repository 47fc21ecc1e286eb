"""Resident memory and CPU time of process trees, sampled from ``/proc``.

A server's tree is its process and every descendant: gunicorn's worker,
and imageattach's decoding workers, which run in sessions of their own
(so a process group would miss them).  Memory is the sum of the trees'
RSS; pages shared between its processes count once per process (an upper
bound, as ``ps`` shows it).  CPU time is user + system time of the live
processes and of the children they have reaped.

:func:`stat_fields` is the one reader of ``/proc/<pid>/stat`` (also for
:func:`.procs.group_cpu_seconds`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: Clock ticks per second, the unit of the CPU times in ``/proc``.
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Usage:
    rss: int
    cpu_seconds: float


@dataclass(frozen=True)
class _Process:
    parent: int
    rss: int
    ticks: int


def stat_fields() -> Iterator[tuple[int, list[bytes]]]:
    """Each live process's id and the fields of its ``/proc/<pid>/stat``
    after the parenthesised command (which may hold spaces), counted from
    0: state, ppid (1), pgrp (2) ... utime, stime, cutime, cstime (11 to
    14) ... rss in pages (21).  Nothing where there is no ``/proc``."""
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue  # ended in between
        yield int(entry.name), text[text.rindex(b")") + 2 :].split()


def _processes() -> Iterator[tuple[int, _Process]]:
    for pid, fields in stat_fields():
        ticks = sum(int(field) for field in fields[11:15])
        yield pid, _Process(int(fields[1]), int(fields[21]) * _PAGE, ticks)


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
        found[name] = Usage(rss, ticks / TICKS)
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
