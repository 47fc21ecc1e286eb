"""Prometheus metrics (imageattach.metrics) in a real prometheus_client
registry: the serving middlewares' responses, generations of a real resizer
on a real store with real ImageMagick, the pool, the lock; off until enabled;
nothing breaks without prometheus_client.  Real servers scraped:
tests/test_metrics_e2e.py."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from images import jpeg, not_an_image
from middleware.clients import ASGIClient, WSGIClient, asgi_app, wsgi_app
from observed import metrics_registry, value
from originals import KEY, Original
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from imageattach import metrics, observe
from imageattach.exceptions import ConfigurationError
from imageattach.filelocks import FileLocks
from imageattach.middleware.miss import FILE_READY, MissResponse
from imageattach.ondemand.resizer import Resizer
from imageattach.stores.bookkeeping import LOCK_DIRECTORY
from imageattach.stores.fs import HttpExposedFileSystemStore

PREFIX = "/__images__/"


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    with metrics_registry() as registry:
        yield registry


@pytest.fixture
def store(tmp_path: Path) -> HttpExposedFileSystemStore:
    return HttpExposedFileSystemStore(
        tmp_path / "images", "__images__", lambda: "http://testserver/", secret_key=KEY
    )


@pytest.fixture
def resizers(store: HttpExposedFileSystemStore) -> Iterator[Callable[..., Resizer]]:
    made: list[Resizer] = []

    def make(**options: object) -> Resizer:
        resizer = Resizer(store, secret_key=KEY, **options)  # type: ignore[arg-type]
        made.append(resizer)
        return resizer

    yield make
    for resizer in made:
        resizer.shutdown()


def add(store: HttpExposedFileSystemStore, data: bytes, object_id: int = 7) -> Original:
    """``data`` stored as a 64x48 JPEG original."""
    original = Original("user-picture", object_id, 64, 48, "image/jpeg")
    store.put_file(io.BytesIO(data), "user-picture", object_id, 64, 48, "image/jpeg", False)
    return original


def split(url: str) -> tuple[str, str]:
    path, _, query = url.removeprefix("http://testserver").partition("?")
    assert path.startswith(PREFIX), url
    return path[len(PREFIX) :], query


# -- responses ------------------------------------------------------------------


def client(kind: str, root: Path) -> WSGIClient | ASGIClient:
    from imageattach.middleware.asgi import StaticFilesMiddleware
    from imageattach.middleware.wsgi import StaticServerMiddleware

    if kind == "wsgi":
        return WSGIClient(StaticServerMiddleware(wsgi_app, "/static", root))
    return ASGIClient(StaticFilesMiddleware(asgi_app, "/static", root), pathsend=kind == "pathsend")


@pytest.mark.parametrize("kind", ["wsgi", "asgi", "pathsend"])
def test_responses_by_status_and_bytes_sent(
    registry: CollectorRegistry, tmp_path: Path, kind: str
) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x" * 20_000)
    serve = client(kind, tmp_path)
    full = serve.request("GET", "/static/a.jpg")
    etag = full.header("ETag")
    assert full.status == 200 and etag
    answers = [
        full,
        serve.request("GET", "/static/a.jpg", [("If-None-Match", etag)]),
        serve.request("GET", "/static/a.jpg", [("Range", "bytes=0-99")]),
        serve.request("GET", "/static/missing.jpg"),
        serve.request("HEAD", "/static/a.jpg"),
        serve.request("DELETE", "/static/a.jpg"),
        serve.request("GET", "/elsewhere"),  # the app's: not counted
    ]
    assert [answer.status for answer in answers] == [200, 304, 206, 404, 200, 405, 200]
    counted = {
        (status, method): value(
            registry, "imageattach_responses_total", status=status, method=method
        )
        for status, method in [
            ("200", "GET"),
            ("304", "GET"),
            ("206", "GET"),
            ("404", "GET"),
            ("200", "HEAD"),
            ("405", "other"),
        ]
    }
    assert counted == {key: 1.0 for key in counted}
    assert len(registry_samples(registry, "imageattach_responses")) == 6
    sent = sum(len(answer.body) for answer in answers[:-1])
    assert sent == 20_000 + 100 + len(answers[3].body) + len(answers[5].body)
    assert value(registry, "imageattach_response_bytes_total") == sent


def registry_samples(registry: CollectorRegistry, family: str) -> list[object]:
    from prometheus_client import generate_latest

    text = generate_latest(registry).decode()
    return [
        sample
        for metric in text_string_to_metric_families(text)
        if metric.name == family
        for sample in metric.samples
    ]


def test_many_responses_from_many_threads_are_all_counted(
    registry: CollectorRegistry, tmp_path: Path
) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x" * 300)
    serve = client("wsgi", tmp_path)
    done = threading.Event()
    scraped: list[float] = []

    def hits() -> None:
        for _ in range(500):
            assert serve.request("GET", "/static/a.jpg").status == 200

    def scrapes() -> None:  # while the threads count
        while not done.wait(0.005):
            scraped.append(
                value(registry, "imageattach_responses_total", status="200", method="GET")
            )

    threads = [threading.Thread(target=hits) for _ in range(4)]
    scraper = threading.Thread(target=scrapes)
    scraper.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    scraper.join()
    assert value(registry, "imageattach_responses_total", status="200", method="GET") == 4 * 500
    assert value(registry, "imageattach_response_bytes_total") == 4 * 500 * 300
    assert scraped == sorted(scraped) and scraped[-1] <= 4 * 500


def test_threads_that_ended_are_folded_into_totals(
    registry: CollectorRegistry, tmp_path: Path
) -> None:
    # E.g. a server that starts a thread per request: what each counted is
    # kept, its per-thread counts are not.
    (tmp_path / "a.jpg").write_bytes(b"x" * 10)
    serve = client("wsgi", tmp_path)
    for _ in range(50):
        thread = threading.Thread(target=serve.request, args=("GET", "/static/a.jpg"))
        thread.start()
        thread.join()
    tally = metrics.enable(registry=registry)._tally
    assert len(tally._threads) <= 1
    assert value(registry, "imageattach_responses_total", status="200", method="GET") == 50
    assert value(registry, "imageattach_response_bytes_total") == 500


def test_off_until_enabled_and_after_disable(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x" * 10)
    serve = client("wsgi", tmp_path)
    registry = CollectorRegistry()
    serve.request("GET", "/static/a.jpg")
    assert registry_samples(registry, "imageattach_responses") == []
    metrics.enable(registry=registry)
    try:
        serve.request("GET", "/static/a.jpg")
    finally:
        metrics.disable()
    serve.request("GET", "/static/a.jpg")
    assert value(registry, "imageattach_responses_total", status="200", method="GET") == 1


def test_enabling_twice_keeps_one_set_of_metrics() -> None:
    registry = CollectorRegistry()
    try:
        first = metrics.enable(registry=registry)
        assert metrics.enable(registry=registry) is first
        other = metrics.enable(registry=CollectorRegistry())
        assert other is not first
    finally:
        metrics.disable()


@pytest.mark.parametrize("turn_on", [metrics.enable, metrics.wsgi_app, metrics.asgi_app])
def test_a_registry_that_is_not_one(turn_on: Callable[..., object]) -> None:
    with pytest.raises(ConfigurationError, match="registry must be a prometheus_client"):
        turn_on(registry="the default")
    assert observe.recorder is None


def test_scrape_apps_expose_the_registry(registry: CollectorRegistry, tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x" * 10)
    client("wsgi", tmp_path).request("GET", "/static/a.jpg")
    wsgi = WSGIClient(metrics.wsgi_app(registry=registry), validate=False).request("GET", "/")
    assert wsgi.status == 200

    async def scrape_asgi() -> httpx.Response:
        transport = httpx.ASGITransport(app=metrics.asgi_app(registry=registry))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.get("/metrics")

    asgi = anyio.run(scrape_asgi)
    assert asgi.status_code == 200
    for text in (wsgi.body.decode(), asgi.text):
        families = {m.name: m for m in text_string_to_metric_families(text)}
        [sample] = families["imageattach_responses"].samples
        assert sample.labels == {"status": "200", "method": "GET"} and sample.value == 1
        assert "imageattach_generation_duration_seconds" in families


# -- generations ------------------------------------------------------------------


def test_generation_succeeded_then_already_there(
    registry: CollectorRegistry, store: HttpExposedFileSystemStore, resizers: Callable[..., Resizer]
) -> None:
    original = add(store, jpeg(64, 48))
    resizer = resizers()
    url = resizer.url(original, 32, 24)  # type: ignore[arg-type]
    assert resizer.handle(*split(url)) is FILE_READY
    # Asked again (a request that missed just before the file appeared): a
    # job that finds it stored.
    assert resizer.handle(*split(url)) is FILE_READY
    assert value(registry, "imageattach_generations_started_total") == 2
    assert value(registry, "imageattach_generations_succeeded_total") == 1
    assert value(registry, "imageattach_generations_already_stored_total") == 1
    assert value(registry, "imageattach_generation_duration_seconds_count") == 1
    assert value(registry, "imageattach_generation_duration_seconds_sum") > 0
    assert value(registry, "imageattach_lock_waits_total", outcome="acquired") == 2
    assert value(registry, "imageattach_lock_wait_seconds_count") == 2
    assert value(registry, "imageattach_resize_queue_depth") == 0
    assert value(registry, "imageattach_resize_queue_capacity") == resizer.pool.workers + 32


@pytest.mark.parametrize(
    ("data", "reason", "status"),
    [(not_an_image(), "unprocessable", 422), (None, "not_found", 404)],
    ids=["undecodable", "no-original"],
)
def test_failed_generations_by_reason(
    registry: CollectorRegistry,
    store: HttpExposedFileSystemStore,
    resizers: Callable[..., Resizer],
    data: bytes | None,
    reason: str,
    status: int,
) -> None:
    original = (
        Original("user-picture", 7, 64, 48, "image/jpeg") if data is None else add(store, data)
    )
    resizer = resizers()
    answer = resizer.handle(*split(resizer.url(original, 32, 24)))  # type: ignore[arg-type]
    assert isinstance(answer, MissResponse) and answer.status == status
    assert value(registry, "imageattach_generations_started_total") == 1
    assert value(registry, "imageattach_generations_failed_total", reason=reason) == 1
    assert value(registry, "imageattach_generations_succeeded_total") == 0
    assert value(registry, "imageattach_generation_duration_seconds_count") == 0
    others = [r for r in metrics.FAILURE_REASONS if r != reason]
    assert all(
        value(registry, "imageattach_generations_failed_total", reason=r) == 0 for r in others
    )


def test_pool_full_is_a_busy_answer_and_the_queue_depth_shows_it(
    registry: CollectorRegistry, store: HttpExposedFileSystemStore, resizers: Callable[..., Resizer]
) -> None:
    slow, other = add(store, jpeg(64, 48), 1), add(store, jpeg(64, 48), 2)
    resizer = resizers(resize_workers=1, resize_queue=0)
    slow_path, slow_query = split(resizer.url(slow, 32, 24))  # type: ignore[arg-type]
    answers: list[object] = []
    # The slow generation: another process holds its lock for a while.
    with FileLocks(str(Path(store.path) / LOCK_DIRECTORY)).hold(slow_path, timeout=5):
        waiting = threading.Thread(
            target=lambda: answers.append(resizer.handle(slow_path, slow_query))
        )
        waiting.start()
        wait_until(lambda: value(registry, "imageattach_resize_queue_depth") == 1)
        busy = resizer.handle(*split(resizer.url(other, 32, 24)))  # type: ignore[arg-type]
    waiting.join(30)
    assert answers == [FILE_READY]
    assert isinstance(busy, MissResponse) and busy.status == 503
    assert value(registry, "imageattach_busy_responses_total", reason="queue_full") == 1
    assert value(registry, "imageattach_resize_queue_capacity") == 1
    assert value(registry, "imageattach_resize_queue_depth") == 0
    assert value(registry, "imageattach_lock_waits_total", outcome="acquired") == 1
    assert value(registry, "imageattach_generations_started_total") == 1


def test_lock_timeout_and_wait_timeout(
    registry: CollectorRegistry, store: HttpExposedFileSystemStore, resizers: Callable[..., Resizer]
) -> None:
    original = add(store, jpeg(64, 48))
    resizer = resizers(wait_timeout=0.2)
    path, query = split(resizer.url(original, 32, 24))  # type: ignore[arg-type]
    with FileLocks(str(Path(store.path) / LOCK_DIRECTORY)).hold(path, timeout=5):
        answer = resizer.handle(path, query)
        assert isinstance(answer, MissResponse) and answer.status == 503
        # The job itself gives up on the lock after wait_timeout too.
        wait_until(lambda: value(registry, "imageattach_lock_waits_total", outcome="timeout") == 1)
    assert value(registry, "imageattach_busy_responses_total", reason="wait_timeout") == 1
    assert value(registry, "imageattach_generations_failed_total", reason="busy") == 1
    assert value(registry, "imageattach_lock_wait_seconds_count") == 1


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` (a hang guard, not a timing assertion)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# -- without prometheus_client ---------------------------------------------------


def run_python(*args: str, **env: str) -> str:
    tests = Path(__file__).resolve().parent
    result = subprocess.run(
        [sys.executable, "-W", "error", *args],
        cwd=tests,
        env={**os.environ, "PYTHONPATH": str(tests), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_everything_works_without_prometheus_client_and_opentelemetry() -> None:
    assert run_python("without_extras.py").strip() == "ok"


def test_importing_imageattach_imports_neither() -> None:
    code = (
        "import sys, imageattach, imageattach.metrics, imageattach.tracing\n"
        "import imageattach.middleware.wsgi, imageattach.ondemand.resizer\n"
        "extras = ('prometheus_client', 'opentelemetry')\n"
        "print(sorted(m for m in sys.modules if m.startswith(extras)))"
    )
    assert run_python("-c", code).strip() == "[]"


def test_a_missing_multiprocess_directory_is_named(tmp_path: Path) -> None:
    # prometheus_client reads the variable when imported: a fresh interpreter.
    code = (
        "from imageattach import metrics\n"
        "from imageattach.exceptions import ConfigurationError\n"
        "try:\n"
        "    metrics.enable()\n"
        "except ConfigurationError as error:\n"
        "    print(error)\n"
    )
    missing = str(tmp_path / "missing")
    printed = run_python("-c", code, PROMETHEUS_MULTIPROC_DIR=missing).strip()
    assert printed == (
        f"PROMETHEUS_MULTIPROC_DIR={missing!r} is not a directory: "
        "make it (empty) before the processes start"
    )
