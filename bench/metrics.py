"""``python -m bench metrics``: what counting costs a static hit.

A 20 KB file served through the WSGI middleware in process (no server, no
socket: the middleware's own cost), with metrics off, on (per-thread
counts, the default), and on with two ``prometheus_client`` counter
increments per response instead (what multi-process mode does; for
comparison).  The modes alternate in short slices in one process; CPU time
of this thread (``time.thread_time``), so other processes on the machine
disturb it less; medians and minimums of the slices.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry

from imageattach import metrics, observe
from imageattach.middleware.wsgi import StaticServerMiddleware


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("404 Not Found", [])
    return [b""]


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench metrics", description=__doc__)
    parser.add_argument("--rounds", type=int, default=60, help="slices per mode (default: 60)")
    parser.add_argument("--calls", type=int, default=5000, help="hits per slice (default: 5000)")
    parser.add_argument("--size", type=int, default=20_000, help="file size (default: 20000)")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, "a.jpg"), "wb") as file:
            file.write(os.urandom(options.size))
        middleware = StaticServerMiddleware(_app, "/static", root)
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/static/a.jpg",
            "QUERY_STRING": "",
            "wsgi.file_wrapper": lambda body, block_size: body,
        }

        def hit() -> None:
            middleware(environ, _start_response).close()  # type: ignore[attr-defined]

        recorders: dict[str, observe.Recorder | None] = {
            "off": None,
            "on": metrics.Metrics(CollectorRegistry()),
            "counters": metrics._MultiprocessMetrics(CollectorRegistry()),
        }
        timer = timeit.Timer(hit, timer=time.thread_time)
        slices: dict[str, list[float]] = {mode: [] for mode in recorders}
        try:
            for _ in range(options.rounds):
                for mode, recorder in recorders.items():
                    observe.recorder = recorder
                    slices[mode].append(timer.timeit(options.calls) / options.calls * 1e6)
        finally:
            observe.recorder = None

    off = statistics.median(slices["off"])
    print(f"static hit, {options.size} bytes, WSGI in process, µs per hit (median, min):")
    for mode, times in slices.items():
        median = statistics.median(times)
        print(
            f"  {mode:9} {median:6.2f}  {min(times):6.2f}"
            f"  {median - off:+.2f} µs ({(median / off - 1) * 100:+.1f} %)"
        )
    return 0
