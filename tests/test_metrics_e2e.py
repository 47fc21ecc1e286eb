"""Metrics scraped from real servers (gunicorn, uvicorn, granian) running
tests/metricsapp.py: static hits (200, 304, 206, 404), an on-demand
generation, a failed one (undecodable original: 422) and a 503 (the one
pool worker busy) move the counters by exactly what was asked; with
``PROMETHEUS_MULTIPROC_DIR`` and the ``child_exit`` hook, as docs/metrics.md
shows, a scrape adds up every gunicorn worker."""

from __future__ import annotations

import contextlib
import http.client
import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from images import jpeg, not_an_image
from ondemand.servers import running, started
from originals import KEY, Original
from prometheus_client.parser import text_string_to_metric_families

from imageattach.filelocks import FileLocks
from imageattach.stores.bookkeeping import LOCK_DIRECTORY
from imageattach.stores.fs import HttpExposedFileSystemStore

pytestmark = pytest.mark.e2e

HOST = "http://testserver"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def get(base: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    parts = urlsplit(base)
    assert parts.hostname is not None and parts.port is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def scrape(base: str) -> Samples:
    status, body = get(base, "/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


class Site:
    """A store directory with originals 1 and 2 (64x48 JPEGs) and 3 (not an
    image), and the URLs the test asks for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = HttpExposedFileSystemStore(
            root, "__images__", lambda: HOST + "/", secret_key=KEY
        )
        for object_id, data in ((1, jpeg(64, 48)), (2, jpeg(64, 48)), (3, not_an_image())):
            self.store.put_file(
                io.BytesIO(data), "user-picture", object_id, 64, 48, "image/jpeg", False
            )

    def static(self, object_id: int) -> str:
        url = self.store.get_url("user-picture", object_id, 64, 48, "image/jpeg")
        return url.removeprefix(HOST)

    def resized(self, object_id: int, width: int, height: int) -> str:
        original = Original("user-picture", object_id, 64, 48, "image/jpeg")
        return self.store.resizer.url(original, width, height).removeprefix(HOST)  # type: ignore[arg-type]

    def hold_lock(self, target: str) -> AbstractContextManager[None]:
        """Hold the generation lock of the resize URL ``target``, as another
        process generating it would."""
        key = urlsplit(target).path.removeprefix("/__images__/")
        return FileLocks(str(self.root / LOCK_DIRECTORY)).hold(key, timeout=5)

    @contextlib.contextmanager
    def waiting(self, base: str, target: str) -> Iterator[list[tuple[int, bytes]]]:
        """Ask ``base`` for the resize URL ``target`` while its lock is held;
        run the block once that request waits in the queue.  The yielded list
        holds its answer after the block."""
        answer: list[tuple[int, bytes]] = []
        request = threading.Thread(target=lambda: answer.append(get(base, target)))
        try:
            with self.hold_lock(target):
                request.start()
                wait_until(lambda: sample(scrape(base), "imageattach_resize_queue_depth") == 1)
                yield answer
        finally:
            if request.ident is not None:  # started: it ends once the lock is released
                request.join(60)


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn", "granian"])
def test_scraped_counters_move_by_what_was_asked(tmp_path: Path, kind: str) -> None:
    site = Site(tmp_path / "images")
    env = {"IA_ROOT": str(site.root), "IA_KEY": KEY}
    with running(kind, env, tmp_path / "server.log", app="metricsapp") as base:
        before = scrape(base)
        static = site.static(1)
        answers = [
            get(base, static),
            get(base, static, {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}),
            get(base, static, {"Range": "bytes=0-99"}),
            get(base, "/__images__/user-picture/404.jpe"),
            get(base, site.resized(1, 32, 24)),
            get(base, site.resized(3, 32, 24)),
        ]
        with site.waiting(base, site.resized(2, 32, 24)) as slow:
            answers.append(get(base, site.resized(1, 16, 12)))
        answers += slow
        after = scrape(base)

    assert [status for status, _ in answers] == [200, 304, 206, 404, 200, 422, 503, 200]

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    responses = {
        status: moved("imageattach_responses_total", status=status, method="GET")
        for status in ("200", "304", "206", "404", "422", "503")
    }
    assert responses == {"200": 3, "304": 1, "206": 1, "404": 1, "422": 1, "503": 1}
    sent = sum(len(body) for _, body in answers)
    assert moved("imageattach_response_bytes_total") == sent
    assert moved("imageattach_generations_started_total") == 3
    assert moved("imageattach_generations_succeeded_total") == 2
    assert moved("imageattach_generations_failed_total", reason="unprocessable") == 1
    assert moved("imageattach_generation_duration_seconds_count") == 2
    assert moved("imageattach_busy_responses_total", reason="queue_full") == 1
    assert moved("imageattach_lock_waits_total", outcome="acquired") == 3
    assert moved("imageattach_lock_wait_seconds_count") == 3
    assert sample(after, "imageattach_resize_queue_depth") == 0
    assert sample(after, "imageattach_resize_queue_capacity") == 1


def test_multiprocess_gunicorn_adds_up_its_workers(tmp_path: Path) -> None:
    site = Site(tmp_path / "images")
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(
        "from prometheus_client import multiprocess\n\n\n"
        "def child_exit(server, worker):\n"
        "    multiprocess.mark_process_dead(worker.pid)\n"
    )
    env = {"IA_ROOT": str(site.root), "IA_KEY": KEY, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    with started(
        "gunicorn",
        env,
        tmp_path / "server.log",
        app="metricsapp",
        workers=2,
        threads=1,  # sync workers: one request at a time each
        options=["--config", str(config)],
    ) as server:
        base = server.url
        # One worker waits for the lock; the other answers everything else,
        # the scrapes included, and sees the first one's job.
        with site.waiting(base, site.resized(1, 32, 24)) as resized:
            hits = [get(base, site.static(2)) for _ in range(5)]
        samples = scrape(base)
    assert [status for status, _ in resized + hits] == [200] * 6
    assert sample(samples, "imageattach_responses_total", status="200", method="GET") == 6
    assert sample(samples, "imageattach_generations_succeeded_total") == 1
    sent = sum(len(body) for _, body in resized + hits)
    assert sample(samples, "imageattach_response_bytes_total") == sent
