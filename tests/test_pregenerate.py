"""imageattach.pregenerate: what an original should have ahead of time, made
by the store's resizer, in this process (the Celery task and the command
line are tested in test_tasks.py and test_cli_pregenerate.py)."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celeryapp import PRESETS, SECRET_KEY, CountingStore
from images import (
    corrupt_jpeg,
    huge_png_header,
    jpeg,
    msl_payload,
    mvg_payload,
    not_an_image,
    text_payload,
)
from pregen_models import Base, User, UserPicture
from pregen_uploads import sqlite_session, uncommitted_uploads, upload
from sqlalchemy.orm import Session
from stores.s3server import MotoServer

from imageattach import tracking
from imageattach.context import store_context
from imageattach.entity import image_attachment
from imageattach.exceptions import ArgumentError, ConfigurationError, StoreUnavailableError
from imageattach.pregenerate import (
    Original,
    check_sizes,
    pregenerate,
    requests_for,
    sizes_of,
)
from imageattach.stores.fs import FileSystemStore
from imageattach.variants import negotiate


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "images")


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with sqlite_session(tmp_path) as session:
        yield session


def stored(store: CountingStore) -> set[str]:
    root = Path(store.path)
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and not path.relative_to(root).parts[0].startswith(".")
    }


def test_the_files_are_those_the_urls_name(session: Session, store: CountingStore) -> None:
    picture = upload(session, store, 1, jpeg(80, 60))
    original = Original.of(picture)
    made = pregenerate(store, original)
    assert made.failed == made.busy == [] and not made.gone
    # Every preset's URL (and, for format="auto", each negotiated format)
    # and the attachment's own size name a file made ahead of time.
    with store_context(store):
        user = session.get(User, 1)
        assert user is not None
        urls = [user.picture.locate(preset=name) for name in PRESETS]
        urls.append(user.picture.locate(width=24, format="webp"))
    prefix = "/__images__/"
    paths = set()
    for url in urls:
        path = urllib.parse.urlsplit(url).path.removeprefix(prefix)
        for accept in ("image/avif", "image/webp", "image/jpeg"):
            paths.add(negotiate(path, accept) or path)
    assert paths == set(made.generated)
    assert len(paths) == 5  # thumb, square in AVIF, WebP and JPEG, the attachment's WebP
    assert paths <= stored(store)


def test_what_exists_is_skipped(session: Session, store: CountingStore) -> None:
    original = Original.of(upload(session, store, 1, jpeg(80, 60)))
    first = pregenerate(store, original)
    generations = store.resizer.generations
    again = pregenerate(store, original)
    assert again.generated == [] and sorted(again.existing) == sorted(first.generated)
    assert store.resizer.generations == generations


def test_dry_run_writes_nothing(session: Session, store: CountingStore) -> None:
    original = Original.of(upload(session, store, 1, jpeg(80, 60)))
    before = stored(store)
    planned = pregenerate(store, original, dry_run=True)
    assert len(planned.generated) == 5
    assert stored(store) == before
    assert pregenerate(store, original).generated == planned.generated


def test_a_store_without_a_resizer_has_nothing_to_make(session: Session, tmp_path: Path) -> None:
    plain = FileSystemStore(tmp_path / "plain", "http://static.example.com/")
    original = Original.of(upload(session, plain, 1, jpeg(80, 60)))
    assert requests_for(plain, original) == []
    assert pregenerate(plain, original).generated == []


@pytest.mark.parametrize(
    "payload",
    [corrupt_jpeg, huge_png_header, not_an_image, mvg_payload, msl_payload, text_payload],
)
def test_a_bad_original_is_reported_and_logged_with_its_key(
    session: Session,
    store: CountingStore,
    caplog: pytest.LogCaptureFixture,
    payload: Callable[[], bytes],
) -> None:
    picture = upload(session, store, 1, jpeg(80, 60))
    original = Original.of(picture)
    # The stored original is overwritten by hostile bytes: undecodable, a
    # decompression bomb, ImageMagick scripts.  They cost a job, not the process.
    Path(store.path, store.key_path(*tracking.image_key(picture))).write_bytes(payload())
    with caplog.at_level(logging.ERROR, "imageattach.pregenerate"):
        report = pregenerate(store, original)
    assert report.generated == [] and report.busy == []
    assert len(report.failed) == 5
    assert all("Unprocessable" in reason for _, reason in report.failed)
    keys = {getattr(record, "image_key", None) for record in caplog.records}
    assert keys == {path for path, _ in report.failed}
    assert stored(store) == {store.key_path(*tracking.image_key(picture))}  # nothing partial


def test_an_original_gone_since_is_skipped(session: Session, store: CountingStore) -> None:
    original = Original.of(upload(session, store, 1, jpeg(80, 60)))
    with store_context(store):
        user = session.get(User, 1)
        assert user is not None
        session.delete(user)
        session.commit()
    report = pregenerate(store, original)
    assert report.gone and report.generated == [] and report.failed == []
    assert stored(store) == set()


def test_a_focal_preset_needs_a_focal_point(session: Session, tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "images")
    store.presets["face"] = {"width": 20, "height": 20, "fit": "cover", "gravity": "focal"}
    picture = upload(session, store, 1, jpeg(80, 60))
    without = [name for name, _ in requests_for(store, Original.of(picture))]
    assert "preset face" not in without
    with store_context(store):
        picture.set_focal_point(0.25, 0.5)
        session.commit()
        expected = urllib.parse.urlsplit(picture.user.picture.locate(preset="face")).path
    made = pregenerate(store, Original.of(picture))
    assert expected.removeprefix("/__images__/") in made.generated


def test_an_unknown_preset_is_named(store: CountingStore) -> None:
    original = Original("thing", 1, 80, 60, "image/jpeg", sizes=({"preset": "avatar"},))
    with pytest.raises(ConfigurationError, match=r"'avatar'.*declared: square, thumb"):
        requests_for(store, original)


def test_the_message_is_small_json_and_round_trips(session: Session, store: CountingStore) -> None:
    picture = upload(session, store, 1, jpeg(80, 60))
    with store_context(store):
        picture.set_focal_point(0.25, 0.75)
        session.commit()
    original = Original.of(picture)
    message = original.to_message()
    import json

    assert Original.from_message(json.loads(json.dumps(message))) == original
    assert message["sizes"] == [{"width": 24, "format": "webp"}]
    assert message["focal"] == [0.25, 0.75]


@pytest.mark.parametrize(
    "message",
    [
        None,
        [],
        {"object_type": "x"},
        {"object_type": "x", "object_id": "1", "width": 1, "height": 1, "mimetype": "image/png"},
        {
            "object_type": "x",
            "object_id": 1,
            "width": 1,
            "height": 1,
            "mimetype": "image/png",
            "focal": [2, 0],
        },
        {
            "object_type": "x",
            "object_id": 1,
            "width": 1,
            "height": 1,
            "mimetype": "image/png",
            "sizes": [{"size": 3}],
        },
    ],
)
def test_a_malformed_message_is_refused(message: object) -> None:
    with pytest.raises((ArgumentError, ConfigurationError)):
        Original.from_message(message)


@pytest.mark.parametrize(
    ("sizes", "error"),
    [
        ({"width": 10}, "a list of locate"),
        ("width=10", "a list of locate"),
        ([{}], r"pregenerate\[0\] must be a non-empty mapping"),
        ([{"width": 10}, {"widht": 10}], r"pregenerate\[1\]: unknown option 'widht'.*'width'"),
        ([{"preset": "a", "width": 3}], "preset goes alone"),
        ([{"fit": "cover"}], "needs a width, a height or a ratio"),
        ([{"width": 10, "format": "gif"}], r"pregenerate\[0\]: format must be"),
        ([{"width": 10, "quality": 0}], r"pregenerate\[0\]: quality must be 1\.\.100"),
        ([{"width": 10, "height": 10}], "takes one of width, height and ratio"),
    ],
)
def test_sizes_are_checked_when_the_attachment_is_declared(sizes: object, error: str) -> None:
    with pytest.raises(ConfigurationError, match=error):
        image_attachment("UserPicture", pregenerate=sizes)


def test_sizes_belong_to_the_attachments_image_class() -> None:
    assert check_sizes([{"preset": "a"}, {"ratio": 0.5}]) == ({"preset": "a"}, {"ratio": 0.5})
    Base.registry.configure()
    assert sizes_of(UserPicture) == ({"width": 24, "format": "webp"},)
    assert sizes_of(User) == ()


def test_the_commit_hook_hears_only_committed_originals(
    session: Session, store: CountingStore
) -> None:
    heard: list[tuple[int, int]] = []
    hook = tracking.CommitHook(
        snapshot=Original.of,
        committed=lambda pairs: heard.extend(
            (original.object_id, original.width)  # type: ignore[attr-defined]
            for _, original in pairs
        ),
    )

    def nothing_heard() -> None:
        assert heard == []

    previous = tracking.set_commit_hook(hook)
    try:
        with store_context(store):
            user = uncommitted_uploads(session, jpeg(80, 60), nothing_heard)
            with session.begin_nested():  # released: the outer commit counts
                user.picture.from_blob(jpeg(40, 30))
            assert heard == []
            session.commit()
            assert heard == [(2, 40)]

            user.picture.from_blob(jpeg(60, 45))  # a replacement
            user.picture.generate_thumbnail(width=10)  # not an original
            session.commit()
            assert heard == [(2, 40), (2, 60)]

            user.picture.from_blob(jpeg(70, 50))
            session.flush()
            session.delete(user)  # stored, then deleted in the same transaction
            session.commit()
            assert heard == [(2, 40), (2, 60)]
    finally:
        tracking.set_commit_hook(previous)


def test_an_unavailable_store_stops_the_original_for_a_retry(
    session: Session, store: CountingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Original.of(upload(session, store, 1, jpeg(80, 60)))
    unavailable = tmp_path / "unavailable"
    unavailable.write_text("1")
    monkeypatch.setenv("PREGEN_UNAVAILABLE", str(unavailable))
    first = pregenerate(store, original)
    assert first.generated == [] and len(first.busy) == 5 and first.failed == []
    second = pregenerate(store, original)
    assert sorted(second.generated) == sorted(first.busy)


def test_an_s3_store_gets_its_presets(session: Session, moto_server: MotoServer) -> None:
    from stores.s3server import s3_options

    from imageattach.stores.s3 import S3Store

    bucket = moto_server.new_bucket()
    store = S3Store(bucket, **s3_options(moto_server.url, resize_secret_key=SECRET_KEY,
                                         presets=PRESETS))  # fmt: skip
    original = Original.of(upload(session, store, 1, jpeg(80, 60)))
    made = pregenerate(store, original)
    assert len(made.generated) == 5 and made.failed == made.busy == []
    listed = moto_server.client().list_objects_v2(Bucket=bucket)  # type: ignore[attr-defined]
    keys = {entry["Key"] for entry in listed["Contents"]}
    assert set(made.generated) <= keys
    assert pregenerate(store, original).existing == made.generated


class UnreachableOnce(CountingStore):
    """Its first existence check fails as an S3 store's does in an outage."""

    failed = False

    def exists(self, *key: Any) -> bool | None:
        if not self.failed:
            self.failed = True
            raise StoreUnavailableError("the store cannot be reached")
        return super().exists(*key)


def test_a_failing_existence_check_is_busy_not_raised(session: Session, tmp_path: Path) -> None:
    store = UnreachableOnce(tmp_path / "images")
    original = Original.of(upload(session, store, 1, jpeg(80, 60)))
    store.failed = False
    first = pregenerate(store, original)
    assert first.generated == [] and len(first.busy) == 5
    assert len(pregenerate(store, original).generated) == 5


def test_the_commit_hook_runs_off_the_event_loop_under_async_session(
    store: CountingStore, tmp_path: Path
) -> None:
    import asyncio
    import threading

    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    heard: list[tuple[int, int]] = []  # (object_id, thread)
    hook = tracking.CommitHook(
        snapshot=Original.of,
        committed=lambda pairs: heard.extend(
            (original.object_id, threading.get_ident())  # type: ignore[attr-defined]
            for _, original in pairs
        ),
    )

    async def main() -> int:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'async.sqlite'}")
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            async with AsyncSession(engine) as session:
                with store_context(store):
                    user = User(id=5)
                    user.picture.from_blob(jpeg(80, 60))
                    session.add(user)
                    await session.commit()
            return threading.get_ident()
        finally:
            await engine.dispose()

    previous = tracking.set_commit_hook(hook)
    try:
        loop_thread = asyncio.run(main())
    finally:
        tracking.set_commit_hook(previous)
    assert [object_id for object_id, _ in heard] == [5]
    assert heard[0][1] != loop_thread
