"""Running ``wrk`` and reading its report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_READ = re.compile(r"requests in [^,]+, ([\d.]+)([KMGT]?B) read")
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass(frozen=True)
class Result:
    """One ``wrk`` run."""

    requests_per_second: float
    requests: int
    non_2xx: int
    #: connect + read + write + timeout errors.
    socket_errors: int
    bytes_read: float


def parse(output: str) -> Result:
    """Read ``wrk``'s plain-text report.

    :raises ValueError: when the report has no request count or rate
        (``wrk`` failed to connect at all, for instance).
    """
    requests, rate = _REQUESTS.search(output), _RATE.search(output)
    if requests is None or rate is None:
        raise ValueError(f"not a wrk report: {output.strip()[:500]!r}")
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)
    read = _READ.search(output)
    return Result(
        requests_per_second=float(rate[1]),
        requests=int(requests[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        bytes_read=float(read[1]) * _UNITS[read[2]] if read else 0.0,
    )


def run(
    url: str,
    *,
    duration: float,
    threads: int,
    connections: int,
    prefix: tuple[str, ...] = (),
    headers: tuple[str, ...] = (),
) -> Result:
    """Load ``url`` for ``duration`` seconds; ``prefix`` is e.g. a ``taskset``
    command, ``headers`` are ``Name: value`` lines sent with each request."""
    command = [
        *prefix,
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
    ]
    for header in headers:
        command += ["-H", header]
    command.append(url)
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {completed.stderr.strip()}")
    return parse(completed.stdout)
