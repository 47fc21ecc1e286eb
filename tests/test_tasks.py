"""imageattach.tasks: pre-generation after commit by a real Celery worker
process on the real RabbitMQ broker (tests/celeryapp.py is its app; each
test has its own queue).  docs/pregeneration.md describes what is tested here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pregen_uploads
import pytest
from celeryapp import CountingStore, make_app
from images import corrupt_jpeg, jpeg
from pregen_models import User
from pregen_uploads import sqlite_session, uncommitted_uploads
from processes import stop_group
from sqlalchemy.orm import Session

from imageattach import tasks, tracking
from imageattach.context import store_context
from imageattach.exceptions import ConfigurationError
from imageattach.pregenerate import Original, requests_for

TESTS = Path(__file__).resolve().parent
CELERY = Path(sys.executable).parent / "celery"
#: A hang guard, far above what any wait here takes.
PATIENCE = 60.0


@dataclass
class Setup:
    """One test's broker queue, store, database and files."""

    broker: str
    queue: str
    root: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "PREGEN_BROKER": self.broker,
            "PREGEN_QUEUE": self.queue,
            "PREGEN_STORE": str(self.root / "images"),
            "PREGEN_LOG": str(self.root / "generations.log"),
            "PREGEN_HOLD": str(self.root / "hold"),
            "PREGEN_UNAVAILABLE": str(self.root / "unavailable"),
        }

    def store(self) -> CountingStore:
        return CountingStore(self.root / "images")

    def generations(self) -> list[str]:
        log = self.root / "generations.log"
        return log.read_text().split("\n")[:-1] if log.exists() else []


@pytest.fixture
def setup(amqp_url: str, service_namespace: str, tmp_path: Path) -> Iterator[Setup]:
    found = Setup(amqp_url, service_namespace, tmp_path)
    yield found
    with contextlib.suppress(Exception), _connection(found) as connection:
        connection.default_channel.queue_delete(found.queue)


@pytest.fixture
def app(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The test's Celery app, registered: commits enqueue to its queue."""
    for name, value in setup.env.items():
        monkeypatch.setenv(name, value)
    previous = tracking.set_commit_hook(None)
    celery = make_app(setup.broker, setup.queue, name="pregen-test-client")
    try:
        yield celery
    finally:
        tracking.set_commit_hook(previous)
        celery.close()


@contextlib.contextmanager
def _connection(setup: Setup) -> Iterator[Any]:
    from kombu import Connection

    with Connection(setup.broker) as connection:
        yield connection


def declare(app: Any, setup: Setup) -> None:
    with app.connection_for_write() as connection:
        app.amqp.queues[setup.queue].bind(connection.default_channel).declare()


def waiting(setup: Setup) -> int:
    """How many messages wait in the test's queue (no consumer)."""
    with _connection(setup) as connection:
        declared = connection.default_channel.queue_declare(setup.queue, passive=True)
        count: int = declared.message_count
        return count


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def worker(setup: Setup, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker process (prefork, one child) on the test's queue."""
    command = [
        str(CELERY),
        "-A",
        "celeryapp",
        "worker",
        "--pool=prefork",
        "--concurrency=1",
        "-Q",
        setup.queue,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "info",
        "-n",
        f"{setup.queue}@%h",
    ]
    env = os.environ | setup.env | {"PYTHONPATH": str(TESTS)}
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command,
            cwd=TESTS,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: b" ready." in log.read_bytes() or process.poll() is not None, "worker")
        assert process.poll() is None, log.read_text()
        yield process
    finally:
        stop_group(process)


@pytest.fixture
def session(setup: Setup) -> Iterator[Session]:
    with sqlite_session(setup.root) as session:
        yield session


def upload(session: Session, store: CountingStore, user_id: int, data: bytes) -> Original:
    return Original.of(pregen_uploads.upload(session, store, user_id, data))


def expected_paths(store: CountingStore, original: Original) -> set[str]:
    return {request.path for _, request in requests_for(store, original)}


def present(store: CountingStore, paths: set[str]) -> bool:
    return all(Path(store.path, path).exists() for path in paths)


# -- enqueueing -------------------------------------------------------------------


def test_rollbacks_enqueue_nothing_commits_enqueue_once(
    app: Any, setup: Setup, session: Session
) -> None:
    declare(app, setup)
    store = setup.store()
    with store_context(store):
        uncommitted_uploads(session, jpeg(80, 60), lambda: None)
    assert setup.generations() == []
    committed = upload(session, store, 3, jpeg(80, 60))
    # The broker sees messages in the order they were sent: once the
    # commit's message is counted, any sent before it would be too.
    wait_for(lambda: waiting(setup) >= 1, "the commit's message")
    assert waiting(setup) == 1
    with _connection(setup) as connection:
        message = connection.default_channel.basic_get(setup.queue, no_ack=True)
    args, _, _ = json.loads(message.body)
    assert args == [committed.to_message()]
    assert message.headers["task"] == tasks.TASK_NAME


def test_without_register_nothing_is_enqueued(app: Any, setup: Setup, session: Session) -> None:
    declare(app, setup)
    tasks.unregister()
    original = upload(session, setup.store(), 1, jpeg(80, 60))
    tasks.enqueue(app, original)  # a marker: anything the commit sent is counted before it
    wait_for(lambda: waiting(setup) >= 1, "the marker")
    assert waiting(setup) == 1


def test_the_broker_down_is_logged_not_raised(
    setup: Setup, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    from celery import Celery

    down = Celery("down", broker="amqp://guest:guest@127.0.0.1:1//")
    down.conf.broker_connection_timeout = 1
    previous = tracking.set_commit_hook(None)
    try:
        tasks.register(down, store=setup.store)
        down.conf.task_publish_retry = False
        store = setup.store()
        original = upload(session, store, 1, jpeg(80, 60))  # commit() does not raise
    finally:
        tracking.set_commit_hook(previous)
    records = [r for r in caplog.records if r.name == "imageattach.tasks"]
    assert records and records[0].image_key == store.key_path(  # type: ignore[attr-defined]
        original.object_type, original.object_id, 80, 60, "image/jpeg"
    )
    assert session.get(User, 1) is not None


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"store": 3}, "store must be a Store"),
        ({"store": "nowhere"}, None),
        ({"store": CountingStore, "queue": ""}, "queue must be"),
        ({"store": CountingStore, "max_retries": -1}, "max_retries must be"),
        ({"store": CountingStore, "retry_backoff": 0.5}, "retry_backoff must be"),
    ],
)
def test_register_checks_its_options(options: dict[str, Any], error: str | None) -> None:
    from celery import Celery

    previous = tracking.set_commit_hook(None)
    try:
        if error is None:  # a spec is parsed in the worker, on first use
            task = tasks.register(Celery("lazy"), **options)
            with pytest.raises(ConfigurationError, match="cannot understand store"):
                task.run({})
        else:
            with pytest.raises(ConfigurationError, match=error):
                tasks.register(Celery("bad"), **options)
        with pytest.raises(ConfigurationError, match=r"celery\.Celery"):
            tasks.register(object(), store=CountingStore)  # type: ignore[arg-type]
    finally:
        tracking.set_commit_hook(previous)


# -- a real worker ------------------------------------------------------------------


@pytest.mark.e2e
def test_presets_appear_after_commit_without_a_request(
    app: Any, setup: Setup, session: Session
) -> None:
    store = setup.store()
    with worker(setup, setup.root / "worker.log"):
        original = upload(session, store, 1, jpeg(80, 60))
        paths = expected_paths(store, original)
        assert len(paths) == 5
        wait_for(lambda: present(store, paths), "the pre-generated files")
        # A replacement's files follow it.
        replaced = upload(session, store, 1, jpeg(60, 80))
        new_paths = expected_paths(store, replaced)
        wait_for(lambda: present(store, new_paths), "the replacement's files")
    # Each file once per original (the 16x16 crops have the same names for both).
    made = sorted(line.split()[1] for line in setup.generations())
    assert made == sorted([*paths, *new_paths])
    assert not any(Path(store.path, path).exists() for path in paths - new_paths)


@pytest.mark.e2e
def test_a_worker_killed_mid_task_is_redelivered_and_generates_once(
    app: Any, setup: Setup, session: Session
) -> None:
    store = setup.store()
    hold = Path(setup.env["PREGEN_HOLD"])
    hold.touch()
    log = setup.root / "worker.log"
    with worker(setup, log):
        original = upload(session, store, 1, jpeg(80, 60))
        pid_file = Path(f"{hold}.pid")
        wait_for(pid_file.exists, "the task to start")
        os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the pool child, mid-task
        hold.unlink()
        paths = expected_paths(store, original)
        wait_for(lambda: present(store, paths), "the redelivered task's files")
        wait_for(lambda: b"succeeded" in log.read_bytes(), "the task to finish")
    text = log.read_text()
    assert "WorkerLostError" in text or "exited with 'signal 9" in text, text
    assert text.count("] received") == 2, text  # redelivered once
    made = [line.split()[1] for line in setup.generations()]
    assert sorted(made) == sorted(paths)  # each file once


@pytest.mark.e2e
def test_a_bad_original_is_logged_and_not_retried(app: Any, setup: Setup, session: Session) -> None:
    store = setup.store()
    original = upload(session, store, 1, jpeg(80, 60))
    key = (original.object_type, original.object_id, 80, 60, "image/jpeg")
    Path(store.path, store.key_path(*key)).write_bytes(corrupt_jpeg())  # before any worker
    log = setup.root / "worker.log"
    with worker(setup, log):
        # A task that retries logs "retry: Retry in ..." instead.
        wait_for(lambda: b"succeeded" in log.read_bytes(), "the task to finish")
    text = log.read_text()
    assert text.count("cannot pre-generate") == 5, text
    assert "Unprocessable" in text
    assert text.count("] received") == 1 and "retry" not in text.lower(), text
    assert setup.generations() == []


@pytest.mark.e2e
@pytest.mark.parametrize("failures", [2, 100])
def test_an_unavailable_store_is_retried_with_backoff_up_to_a_maximum(
    app: Any, setup: Setup, session: Session, failures: int
) -> None:
    store = setup.store()
    original = upload(session, store, 1, jpeg(80, 60))
    # The first `failures` reads of the original fail (tests/celeryapp.py
    # allows 2 retries): the third attempt succeeds, or the task gives up.
    Path(setup.env["PREGEN_UNAVAILABLE"]).write_text(str(failures))
    log = setup.root / "worker.log"
    with worker(setup, log):
        wait_for(lambda: b"succeeded" in log.read_bytes(), "the task to end")
    text = log.read_text()
    assert text.count("] received") == 3, text
    assert text.count("retry: Retry in") == 2, text
    paths = expected_paths(store, original)
    if failures == 2:
        assert present(store, paths) and "gave up" not in text
        assert sorted(line.split()[1] for line in setup.generations()) == sorted(paths)
    else:
        assert "gave up pre-generating" in text and setup.generations() == []


def test_register_without_celery_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "celery", None)  # as if not installed
    with pytest.raises(ImportError, match=r"imageattach\[celery\]"):
        tasks.register(object(), store=CountingStore)  # type: ignore[arg-type]


def test_the_task_logs_what_it_cannot_make_with_the_image_key(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    from celery import Celery

    store = setup.store()
    previous = tracking.set_commit_hook(None)
    try:
        task = tasks.register(Celery("direct"), store=store)
    finally:
        tracking.set_commit_hook(previous)
    original = Original("thing", 1, 80, 60, "image/jpeg", sizes=({"preset": "banner"},))
    with caplog.at_level("ERROR", "imageattach.tasks"):
        assert task.run(original.to_message()) == {}
        assert task.run({"object_type": 3}) == {}  # malformed: dropped, logged
    key = store.key_path("thing", 1, 80, 60, "image/jpeg")
    assert [getattr(r, "image_key", None) for r in caplog.records] == [key, None]
    assert "preset 'banner'" in caplog.records[0].getMessage()
    assert "malformed" in caplog.records[1].getMessage()
