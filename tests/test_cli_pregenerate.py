"""``imageattach pregenerate`` through the installed console script, on an
SQLite database of tests/pregen_models.py and the store of tests/celeryapp.py
(docs/cli.md, docs/pregeneration.md)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from celeryapp import CountingStore
from cli_script import SCRIPT, TESTS, run_script, summary
from images import corrupt_jpeg, jpeg, png
from pregen_models import Base, User
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from test_tasks import Setup, wait_for, worker

from imageattach import tracking
from imageattach.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, main
from imageattach.context import store_context
from imageattach.pregenerate import Original, requests_for

ORIGINALS = 6
#: Files per original: the thumb preset, the square preset in three formats,
#: the attachment's WebP.
PER_ORIGINAL = 5


@dataclass
class Database:
    url: str
    root: Path
    store: CountingStore
    originals: list[Original]

    def expected(self) -> set[str]:
        return {r.path for o in self.originals for _, r in requests_for(self.store, o)}

    def present(self) -> set[str]:
        return {path for path in self.expected() if Path(self.store.path, path).exists()}

    def generations(self) -> list[str]:
        log = self.root / "generations.log"
        return [line.split()[1] for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """Six users with an original each (JPEG and PNG), one with a thumbnail row."""
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    store = CountingStore(tmp_path / "images")
    previous = tracking.set_commit_hook(None)
    try:
        with Session(engine) as session, store_context(store):
            users = [User(id=number) for number in range(1, ORIGINALS + 1)]
            for user in users:
                user.picture.from_blob(jpeg(80, 60) if user.id % 2 else png(60, 40))
            session.add_all(users)
            session.commit()
            users[0].picture.generate_thumbnail(width=10)
            session.commit()
            originals = [Original.of(user.picture.require_original()) for user in users]
    finally:
        tracking.set_commit_hook(previous)
    engine.dispose()
    yield Database(url, tmp_path, store, originals)


def arguments(database: Database, *extra: str) -> list[str]:
    return [
        "pregenerate", "--store", "celeryapp:store", "--models",
        "pregen_models:Base", "--database", database.url, "--progress", "log", *extra,
    ]  # fmt: skip


def environment(database: Database, **extra: str) -> dict[str, str]:
    return os.environ | {
        "PREGEN_STORE": str(database.store.path),
        "PREGEN_LOG": str(database.root / "generations.log"),
        **extra,
    }


def pregenerate(database: Database, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_script(*arguments(database, *extra), env=environment(database, **env))


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["pregenerate", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for text in ("--store STORE", "--dry-run", "--enqueue", "--celery MODULE:APP", "--jobs N",
                 "130  interrupted", ":attribute"):  # fmt: skip
        assert text in out
    main_help = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True).stdout
    assert "pregenerate" in main_help


def test_dry_run_lists_and_writes_nothing(database: Database) -> None:
    before = sorted(p for p in Path(database.store.path).rglob("*") if p.is_file())
    result = pregenerate(database, "--dry-run")
    assert result.returncode == EXIT_OK, result.stderr
    total = ORIGINALS * PER_ORIGINAL
    assert summary(result) == (
        f"dry run finished: {ORIGINALS} of {ORIGINALS} originals, would generate {total}, "
        "skipped 0, failed 0"
    )
    listed = {line.removeprefix("would generate ") for line in result.stderr.splitlines()
              if line.startswith("would generate ")}  # fmt: skip
    assert listed == database.expected() and len(listed) == total
    assert sorted(p for p in Path(database.store.path).rglob("*") if p.is_file()) == before


def test_a_run_generates_and_a_rerun_skips(database: Database) -> None:
    total = ORIGINALS * PER_ORIGINAL
    first = pregenerate(database, "--jobs", "3")
    assert first.returncode == EXIT_OK, first.stderr
    assert summary(first) == (
        f"finished: {ORIGINALS} of {ORIGINALS} originals, generated {total}, skipped 0, failed 0"
    )
    assert database.present() == database.expected()
    again = pregenerate(database)
    assert summary(again) == (
        f"finished: {ORIGINALS} of {ORIGINALS} originals, generated 0, skipped {total}, failed 0"
    )
    assert sorted(database.generations()) == sorted(database.expected())


@pytest.mark.e2e
def test_an_interrupted_run_is_resumed(database: Database) -> None:
    process = subprocess.Popen(
        [str(SCRIPT), *arguments(database)],
        cwd=TESTS,
        env=environment(database, PREGEN_DELAY="0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(lambda: database.generations(), "a first file")
        os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole group
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == EXIT_INTERRUPTED, stderr
    made = database.generations()
    # The original in progress finished: whole originals only, and counted.
    assert 0 < len(made) < ORIGINALS * PER_ORIGINAL and len(made) % PER_ORIGINAL == 0
    done = len(made) // PER_ORIGINAL
    assert stdout.strip().splitlines()[-1] == (
        f"interrupted: {done} of {ORIGINALS} originals, generated {len(made)}, skipped 0, failed 0"
    )
    resumed = pregenerate(database)
    assert resumed.returncode == EXIT_OK, resumed.stderr
    rest = ORIGINALS * PER_ORIGINAL - len(made)
    assert summary(resumed) == (
        f"finished: {ORIGINALS} of {ORIGINALS} originals, generated {rest}, "
        f"skipped {len(made)}, failed 0"
    )
    assert sorted(database.generations()) == sorted(database.expected())  # each once


def test_a_bad_original_is_reported(database: Database) -> None:
    bad = database.originals[2]
    key = (bad.object_type, bad.object_id, bad.width, bad.height, bad.mimetype)
    Path(database.store.path, database.store.key_path(*key)).write_bytes(corrupt_jpeg())
    result = pregenerate(database)
    assert result.returncode == EXIT_FAILED, result.stderr
    total = (ORIGINALS - 1) * PER_ORIGINAL
    assert summary(result) == (
        f"finished with failures: {ORIGINALS} of {ORIGINALS} originals, generated {total}, "
        f"skipped 0, failed {PER_ORIGINAL}"
    )
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == PER_ORIGINAL and all("Unprocessable" in line for line in failed)
    assert all(f"{bad.object_type} {bad.object_id} " in line for line in failed)


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (("--store", "file:///tmp/plain"), "has no on-demand resizer"),
        (("--enqueue",), "--enqueue needs --celery"),
        (("--celery", "celeryapp:app"), "--celery goes with --enqueue"),
        (("--enqueue", "--celery", "pregen_models:Base"), "has no pre-generation task"),
        (("--jobs", "0"), "argument --jobs"),
    ],
)
def test_configuration_errors(database: Database, extra: tuple[str, ...], error: str) -> None:
    result = pregenerate(database, *extra)
    assert result.returncode == EXIT_USAGE
    assert error in result.stderr
    assert database.generations() == []


def test_a_size_naming_an_unknown_preset_stops_before_any_work(database: Database) -> None:
    result = pregenerate(database, "--models", "pregen_models:BannerBase")
    assert result.returncode == EXIT_USAGE
    assert "names the preset 'banner', which" in result.stderr
    assert "declared: square, thumb" in result.stderr


@pytest.mark.e2e
def test_enqueue_to_a_real_worker(
    database: Database, amqp_url: str, service_namespace: str
) -> None:
    setup = Setup(amqp_url, service_namespace, database.root)
    broker = {"PREGEN_BROKER": amqp_url, "PREGEN_QUEUE": service_namespace}
    planned = pregenerate(database, "--enqueue", "--celery", "celeryapp:app", "--dry-run", **broker)
    assert summary(planned).startswith(f"dry run finished: {ORIGINALS} of {ORIGINALS} originals")
    assert f"would enqueue {ORIGINALS}, skipped 0" in summary(planned)
    with worker(setup, database.root / "worker.log"):
        result = pregenerate(database, "--enqueue", "--celery", "celeryapp:app", **broker)
        assert result.returncode == EXIT_OK, result.stderr
        assert f"enqueued {ORIGINALS}, skipped 0, failed 0" in summary(result)
        wait_for(lambda: database.present() == database.expected(), "the worker's files")
    assert sorted(database.generations()) == sorted(database.expected())
    # Everything exists now: nothing to enqueue.
    again = pregenerate(database, "--enqueue", "--celery", "celeryapp:app", **broker)
    assert f"enqueued 0, skipped {ORIGINALS}, failed 0" in summary(again)
