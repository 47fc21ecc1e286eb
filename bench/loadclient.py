"""A fixed list of GET requests sent at a fixed concurrency, each answer kept.

Threads with :mod:`http.client` rather than ``wrk``: the load here is a
known set of requests (each cold URL several times, to chosen servers), not
a duration, and every answer is checked (status, ``Location``).  A request
costs the client some 100 µs, against the hundreds of milliseconds of a
generation.  Each request opens its own connection, so that no server's
keep-alive policy (gunicorn closes idle ones after 2 s) turns into client
errors.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    """``GET path`` of URL number ``url`` from the server ``server`` on ``port``."""

    url: int
    server: str
    port: int
    path: str


@dataclass(frozen=True)
class Answer:
    request: Request
    #: The HTTP status; 0 when there was no answer (see ``error``).
    status: int
    location: str | None
    #: From sending the request to the end of the answer's body.
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class Run:
    answers: list[Answer]
    #: From the first request sent to the last answer read.
    seconds: float


def run(requests: Sequence[Request], *, concurrency: int, time_limit: float) -> Run:
    """Send ``requests`` in order, ``concurrency`` at a time; a request not
    answered within ``time_limit`` seconds of the start fails."""
    started = time.monotonic()
    deadline = started + time_limit
    pending: Iterator[Request] = iter(requests)
    lock = threading.Lock()
    answers: list[Answer] = []

    def work() -> None:
        while True:
            with lock:
                request = next(pending, None)
            if request is None:
                return
            answer = _get(request, deadline)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(answers, time.monotonic() - started)


def _get(request: Request, deadline: float) -> Answer:
    started = time.monotonic()
    if started >= deadline:
        return Answer(request, 0, None, 0.0, "not sent: time limit reached")
    connection = http.client.HTTPConnection("127.0.0.1", request.port, timeout=deadline - started)
    try:
        connection.request("GET", request.path)
        response = connection.getresponse()
        response.read()
        return Answer(
            request, response.status, response.getheader("Location"), time.monotonic() - started
        )
    except (OSError, http.client.HTTPException) as error:
        message = f"{type(error).__name__}: {error}"
        return Answer(request, 0, None, time.monotonic() - started, message)
    finally:
        connection.close()
