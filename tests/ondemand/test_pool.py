"""The bounded pool refuses at once when its workers and queue are full."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from imageattach.exceptions import ConfigurationError
from imageattach.ondemand.pool import BoundedPool


def test_pool_refuses_when_full_and_recovers() -> None:
    pool = BoundedPool(workers=2, queue=3)
    release = threading.Event()
    futures = [pool.submit(release.wait, 10) for _ in range(5)]
    assert all(f is not None for f in futures)
    assert pool.submit(release.wait, 10) is None
    release.set()
    for future in futures:
        assert future is not None and future.result(10) is True
    again = pool.submit(lambda: "ok")
    assert again is not None and again.result(10) == "ok"
    pool.shutdown()


def test_pool_works_on_at_most_workers_at_once() -> None:
    pool = BoundedPool(workers=2, queue=10)
    lock = threading.Lock()
    running = peak = 0
    release = threading.Event()

    def job() -> None:
        nonlocal running, peak
        with pool.working():
            with lock:
                running += 1
                peak = max(peak, running)
            release.wait(0.02)
            with lock:
                running -= 1

    futures = [pool.submit(job) for _ in range(10)]
    for future in futures:
        assert future is not None
        future.result(10)
    assert peak == 2
    pool.shutdown()


def test_a_waiting_job_does_not_hold_up_work() -> None:
    """A job waiting outside working() (for a lock another server holds)
    leaves the worker to the next job."""
    pool = BoundedPool(workers=1, queue=1)
    release = threading.Event()
    waiting = pool.submit(release.wait, 30)

    def work() -> str:
        with pool.working():
            return "made"

    worked = pool.submit(work)
    assert waiting is not None and worked is not None
    assert worked.result(10) == "made"
    assert not waiting.done()
    release.set()
    assert waiting.result(10) is True
    pool.shutdown()


def test_failed_job_frees_its_slot() -> None:
    pool = BoundedPool(workers=1, queue=0)

    def fail() -> None:
        raise RuntimeError("boom")

    future = pool.submit(fail)
    assert future is not None
    with pytest.raises(RuntimeError):
        future.result(10)
    assert pool.submit(lambda: 1) is not None
    pool.shutdown()


@pytest.mark.parametrize(("workers", "queue"), [(0, 1), (1, -1), (True, 1), (1.5, 1), (1, None)])
def test_bad_sizes_refused(workers: object, queue: object) -> None:
    with pytest.raises(ConfigurationError):
        BoundedPool(workers=workers, queue=queue)  # type: ignore[arg-type]


def test_a_forked_child_gets_all_the_working_slots() -> None:
    """A child forked while the parent works (a Celery or gunicorn worker
    forked by a busy master) does not inherit the parent's held slot."""
    pool = BoundedPool(workers=1, queue=0)
    with pool.working():
        child = os.fork()
        if child == 0:  # the child: SIGALRM ends it if it waits for a slot
            signal.alarm(5)
            with pool.working():
                os._exit(0)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
