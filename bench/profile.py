"""Where a server spends its time under load: ``py-spy`` samples the server's
processes while ``wrk`` drives it, and the stacks are summed per function.

Used by ``python -m bench static --profile``; needs ``py-spy`` (the ``bench``
extra).  The raw collapsed stacks are kept next to the summary, ready for
speedscope or ``flamegraph.pl``.
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import wrk

#: Samples per second.
RATE = 1000
_COUNT = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    """The ``py-spy`` executable next to this Python, or on ``PATH``."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(
    pid: int,
    url: str,
    raw_path: Path,
    *,
    duration: float,
    threads: int,
    connections: int,
    wrk_prefix: tuple[str, ...],
) -> wrk.Result:
    """Sample ``pid`` and its children while ``wrk`` loads ``url``."""
    executable = py_spy()
    if executable is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy (the bench extra)")
    seconds = max(1, round(duration))
    # --gil: only the thread running Python code is sampled, so idle event
    # loops and waiting threads do not drown the hot path.
    command = [executable, "record", "--pid", str(pid), "--subprocesses", "--gil"]
    command += ["--nonblocking", "--rate", str(RATE)]
    command += ["--duration", str(seconds + 1), "--format", "raw", "--output", str(raw_path)]
    sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        result = wrk.run(
            url, duration=seconds, threads=threads, connections=connections, prefix=wrk_prefix
        )
        _, errors = sampler.communicate(timeout=seconds + 30)
    finally:
        if sampler.poll() is None:
            sampler.kill()
            sampler.wait()
    if sampler.returncode != 0:
        raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace').strip()}")
    return result


def _ours(frame: str) -> bool:
    """Whether ``frame`` is in imageattach (py-spy shortens paths on sys.path)."""
    match = _FRAME.match(frame)
    path = match["file"] if match else ""
    return path.startswith("imageattach/") or "/imageattach/" in path


def _function(frame: str, *, line: bool = False) -> str:
    """``name (/…/site-packages/pkg/module.py:12)`` → ``name (pkg/module.py)``:
    one row per function, or per line with ``line``."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    if "/imageattach/" in path:
        path = "imageattach/" + path.rsplit("/imageattach/", 1)[1]
    if line and match["line"]:
        path += f":{match['line']}"
    return f"{match['function']} ({path})"


def summarize(raw_path: Path, *, seconds: float, requests: int = 0, top: int = 25) -> str:
    """Self and inclusive shares of the busiest functions, and the busiest
    lines of imageattach, as plain text.  With the number of ``requests``
    served while sampling, each share is also given in microseconds of
    GIL-held time per request, which compares across runs and servers."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        match = _COUNT.match(line)
        if match is None:
            continue
        count = int(match["count"])
        # py-spy puts "process NNN:…" labels before the Python frames.
        raw = [f for f in match["stack"].split(";") if not f.startswith(("process ", "thread "))]
        if not raw:
            continue
        frames = [_function(frame) for frame in raw]
        total += count
        own[frames[-1]] += count
        mine = [frame for frame in raw if _ours(frame)]
        for frame in {_function(frame) for frame in mine}:
            inclusive[frame] += count
        if mine:
            ours[_function(mine[-1], line=True)] += count
    if not total:
        return "(no samples: the process was idle or could not be read)"
    held = total / (RATE * seconds)
    per_request = 1e6 / RATE / requests if requests else 0.0

    def rows(counter: collections.Counter[str]) -> list[str]:
        return [
            f"{100 * n / total:6.1f}  {n * per_request:7.2f}  {name}"
            if per_request
            else f"{100 * n / total:6.1f}  {name}"
            for name, n in counter.most_common(top)
        ]

    unit = "   µs/req" if per_request else ""
    lines = [f"{total} samples; Python held the GIL about {held:.0%} of the time"]
    if per_request:
        lines.append(f"about {total * per_request:.1f} µs of GIL-held time per request")
    lines += ["", f"self %{unit}  function (native code counts for its Python caller)"]
    lines += rows(own)
    lines += ["", f"total %{unit}  imageattach function (including callees)"]
    lines += rows(inclusive)
    lines += ["", f"total %{unit}  imageattach line (innermost imageattach frame of each sample)"]
    lines += rows(ours)
    return "\n".join(lines)
