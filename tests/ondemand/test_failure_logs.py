"""Every failed on-demand generation is logged with the image key
(``extra={"image_key": ...}``) and counted by its reason, on a real store
made to fail for real: a bad or missing original, a full pool, a lock held
too long, an unusable lock directory, a directory where the original should
be."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from images import jpeg, not_an_image
from observed import logged, metrics_registry, value
from originals import Original
from prometheus_client import CollectorRegistry

from imageattach.filelocks import LocalLocks
from imageattach.middleware.miss import FILE_READY, MissResponse
from imageattach.ondemand.resizer import Resizer
from imageattach.stores.bookkeeping import LOCK_DIRECTORY

from .conftest import AddOriginal, CountingStore, split

MakeResizer = Callable[..., Resizer]
KEY_PATH = "user-picture/234/1/1234.32x24.jpe"


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    with metrics_registry() as registry:
        yield registry


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return logged(caplog, "imageattach.ondemand", logging.WARNING)


def failed(registry: CollectorRegistry, reason: str) -> float:
    return value(registry, "imageattach_generations_failed_total", reason=reason)


def ask(resizer: Resizer, original: Original) -> object:
    return resizer.handle(*split(resizer.url(original, 32, 24)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [(not_an_image(), 422, "unprocessable"), (None, 404, "not_found")],
    ids=["undecodable", "no-original"],
)
def test_a_bad_or_missing_original(
    add_original: AddOriginal,
    make_resizer: MakeResizer,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
    data: bytes | None,
    status: int,
    reason: str,
) -> None:
    original = (
        Original("user-picture", 1234, 64, 48, "image/jpeg")
        if data is None
        else add_original(data, size=(64, 48), mimetype="image/jpeg")
    )
    answer = ask(make_resizer(), original)
    assert isinstance(answer, MissResponse) and answer.status == status
    [record] = failures(caplog)
    assert record.levelno == logging.WARNING
    assert record.image_key == KEY_PATH  # type: ignore[attr-defined]
    assert failed(registry, reason) == 1


def test_a_full_pool(
    add_original: AddOriginal, make_resizer: MakeResizer, caplog: pytest.LogCaptureFixture
) -> None:
    original = add_original(jpeg(64, 48))
    resizer = make_resizer(resize_workers=1, resize_queue=0)
    release = threading.Event()
    blocker = resizer.pool.submit(release.wait, 30)
    answer = ask(resizer, original)
    release.set()
    assert blocker is not None and blocker.result(10)
    assert isinstance(answer, MissResponse) and answer.status == 503
    [record] = failures(caplog)
    assert record.image_key == KEY_PATH  # type: ignore[attr-defined]
    assert "queue_full" in record.getMessage()


def test_a_lock_held_too_long(
    add_original: AddOriginal,
    make_resizer: MakeResizer,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    original = add_original(jpeg(64, 48))
    resizer = make_resizer(wait_timeout=0.2)
    assert resizer.locks is not None
    with resizer.locks.hold(KEY_PATH, timeout=5):
        answer = ask(resizer, original)
        resizer.shutdown()  # the job gives up on the lock too
    assert isinstance(answer, MissResponse) and answer.status == 503
    records = failures(caplog)
    # The request's 503, and its job's failure (in either order).
    reasons = sorted(r.getMessage().partition("(")[2].partition(")")[0] for r in records)
    assert reasons == ["busy", "wait_timeout"]
    assert {record.image_key for record in records} == {KEY_PATH}  # type: ignore[attr-defined]
    assert failed(registry, "busy") == 1


def test_an_unusable_store(
    store: CountingStore,
    add_original: AddOriginal,
    make_resizer: MakeResizer,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    original = add_original(jpeg(64, 48))
    # The object locks' directory cannot be made: a file is in the way.
    Path(store.path, LOCK_DIRECTORY).mkdir(exist_ok=True)
    Path(store.path, LOCK_DIRECTORY, "objects").write_bytes(b"")
    answer = ask(make_resizer(locks=LocalLocks()), original)
    assert isinstance(answer, MissResponse) and answer.status == 503
    [record] = failures(caplog)
    assert record.image_key == KEY_PATH  # type: ignore[attr-defined]
    assert failed(registry, "store_unavailable") == 1


def test_an_unexpected_error_is_logged_with_its_traceback(
    store: CountingStore,
    make_resizer: MakeResizer,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    original = Original("user-picture", 1234, 64, 48, "image/jpeg")
    # A directory where the original's file should be.
    os.makedirs(Path(store.path, store.key_path("user-picture", 1234, 64, 48, "image/jpeg")))
    answer = ask(make_resizer(), original)
    assert isinstance(answer, MissResponse) and answer.status == 500
    assert "Traceback" not in answer.text
    [record] = failures(caplog)
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.image_key == KEY_PATH  # type: ignore[attr-defined]
    assert failed(registry, "error") == 1


def test_a_generation_is_logged_with_its_key(
    add_original: AddOriginal, make_resizer: MakeResizer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "imageattach.ondemand")
    assert ask(make_resizer(), add_original(jpeg(64, 48))) is FILE_READY
    [record] = logged(caplog, "imageattach.ondemand")
    assert record.levelno == logging.INFO and record.image_key == KEY_PATH  # type: ignore[attr-defined]
