"""Single flight in a process and file locks across processes."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from imageattach.filelocks import FileLocks
from imageattach.ondemand.flight import SingleFlight

from . import workers


def test_single_flight_shares_one_future() -> None:
    flights: SingleFlight[int] = SingleFlight()
    started: list[int] = []
    release = threading.Event()
    executor = ThreadPoolExecutor(2)

    def work() -> int:
        release.wait(10)
        return 42

    def start() -> Future[int]:
        started.append(1)
        return executor.submit(work)

    barrier = threading.Barrier(32)
    joined = threading.Semaphore(0)

    def caller() -> int:
        barrier.wait()
        future = flights.join("key", start)
        joined.release()
        assert future is not None
        return future.result(10)

    with ThreadPoolExecutor(32) as callers:
        results = [callers.submit(caller) for _ in range(32)]
        for _ in range(32):  # every caller has joined before the work may finish
            assert joined.acquire(timeout=10)
        release.set()
        assert [r.result(10) for r in results] == [42] * 32
    assert len(started) == 1
    assert len(flights) == 0  # forgotten once done
    executor.shutdown()


def test_single_flight_starts_again_after_done() -> None:
    flights: SingleFlight[int] = SingleFlight()
    calls = 0

    def start() -> Future[int]:
        nonlocal calls
        calls += 1
        future: Future[int] = Future()
        future.set_result(calls)
        return future

    first = flights.join("key", start)
    second = flights.join("key", start)
    assert first is not None and second is not None
    assert (first.result(), second.result()) == (1, 2)


def test_single_flight_not_started() -> None:
    flights: SingleFlight[int] = SingleFlight()
    assert flights.join("key", lambda: None) is None
    assert len(flights) == 0


def test_single_flight_keys_are_independent() -> None:
    flights: SingleFlight[str] = SingleFlight()
    pending: dict[str, Future[str]] = {}

    def start(key: str) -> Future[str]:
        pending[key] = Future()
        return pending[key]

    a = flights.join("a", lambda: start("a"))
    b = flights.join("b", lambda: start("b"))
    assert a is not b and len(flights) == 2
    for key, future in pending.items():
        future.set_result(key)


def test_file_lock_across_processes(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    log = tmp_path / "generations.log"
    ready = context.Barrier(4)
    processes = [
        context.Process(
            target=workers.generate_once,
            args=(str(tmp_path / "locks"), str(tmp_path / "thumb"), str(log), ready),
        )
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert len(log.read_text().split()) == 1


def test_file_lock_excludes_threads_and_times_out(tmp_path: Path) -> None:
    locks = FileLocks(str(tmp_path))
    inside = threading.Event()
    leave = threading.Event()

    def holder() -> None:
        with locks.hold("x", timeout=5):
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert inside.wait(10)
    with pytest.raises(TimeoutError), locks.hold("x", timeout=0.05):
        pass
    leave.set()
    thread.join()
    with locks.hold("x", timeout=5):
        pass


def test_lock_files_are_striped(tmp_path: Path) -> None:
    locks = FileLocks(str(tmp_path), stripes=4)
    paths = {locks.path(f"name-{i}") for i in range(100)}
    assert len(paths) == 4
    assert all(Path(p).parent == tmp_path for p in paths)
