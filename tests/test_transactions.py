"""Files follow transactions: written on flush, removed on rollback or close,
deleted only after the outermost commit, per session (SPEC section 3)."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from entity_models import Something, SomethingCover, User, path, sessions, stored
from images import jpeg, png
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from imageattach.context import store_context
from imageattach.exceptions import ContextError
from imageattach.stores.fs import FileSystemStore


class Boom(Exception):
    """Raised by a test to abort a transaction."""


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


def cover_path(thing: Something, name: str) -> str:
    return path("ia-something-cover", thing.id, name)


def content(store: FileSystemStore, relative: str) -> bytes:
    return (Path(store.path) / relative).read_bytes()


# -- writes -----------------------------------------------------------------------


def test_rollback_removes_the_files_written_by_a_flush(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(10, 10))
        thing.cover.generate_thumbnail(width=5)
        session.add(thing)
        session.flush()
        assert stored(fs_store) == {cover_path(thing, "10x10.png"), cover_path(thing, "5x5.png")}
        session.rollback()
        assert stored(fs_store) == set()


def test_regression_close_without_commit_removes_files(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    session = factory()
    with store_context(fs_store):
        kept = Something()
        kept.cover.from_blob(png(10, 10))
        session.add(kept)
        session.commit()
        kept_path = cover_path(kept, "10x10.png")
        thing = Something()
        thing.cover.from_blob(png(20, 20))
        session.add(thing)
        session.flush()
        assert len(stored(fs_store)) == 2
    session.close()
    assert stored(fs_store) == {kept_path}


def test_storage_errors_while_undoing_are_logged_not_raised(
    factory: sessionmaker[Session], fs_store: FileSystemStore, caplog: pytest.LogCaptureFixture
) -> None:
    class Undeletable(FileSystemStore):
        def delete_file(self, *key: object) -> None:  # type: ignore[override]
            raise PermissionError("read-only file system")

    store = Undeletable(fs_store.path, "http://static.example.com/")
    with factory() as session, store_context(store):
        thing = Something()
        thing.cover.from_blob(png(10, 10))
        session.add(thing)
        session.flush()
        with caplog.at_level(logging.ERROR, logger="imageattach"):
            session.rollback()  # does not raise
    (record,) = [r for r in caplog.records if r.name == "imageattach"]
    assert "remove the uncommitted file" in record.getMessage()
    assert record.image_key == cover_path(thing, "10x10.png")  # type: ignore[attr-defined]


def test_a_failed_flush_leaves_no_file(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    class ThumbnailsFail(FileSystemStore):
        def put_file(self, file: IO[bytes], *key: object) -> None:  # type: ignore[override]
            if key[-1]:  # reproducible: a thumbnail
                raise OSError("disk full")
            super().put_file(file, *key)  # type: ignore[arg-type]

    store = ThumbnailsFail(fs_store.path, "http://static.example.com/")
    with factory() as session, store_context(store):
        thing = Something()
        thing.cover.from_blob(png(10, 10))
        thing.cover.generate_thumbnail(width=5)
        session.add(thing)
        with pytest.raises(OSError, match="disk full"):
            session.flush()
        session.rollback()
        assert stored(fs_store) == set()
        assert session.scalars(select(SomethingCover)).all() == []


def test_rolled_back_images_are_stored_when_added_again(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        image = thing.cover.from_blob(png(10, 10))
        session.add(thing)
        session.flush()
        session.rollback()
        assert stored(fs_store) == set()
        session.add_all([thing, image])
        session.commit()
        assert stored(fs_store) == {cover_path(thing, "10x10.png")}
        assert thing.cover.make_blob() == png(10, 10)


# -- savepoints -------------------------------------------------------------------


def test_regression_savepoint_rollback_keeps_outer_file(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """The seed's savepoint rollback deleted every file of the transaction."""
    with factory() as session, store_context(fs_store):
        outer = Something()
        outer.cover.from_blob(png(10, 10))
        session.add(outer)
        session.flush()
        with pytest.raises(Boom), session.begin_nested():
            inner = Something()
            inner.cover.from_blob(png(20, 20))
            session.add(inner)
            session.flush()
            assert len(stored(fs_store)) == 2
            raise Boom
        assert stored(fs_store) == {cover_path(outer, "10x10.png")}
        session.commit()
        assert stored(fs_store) == {cover_path(outer, "10x10.png")}


def test_released_savepoint_files_follow_the_outer_transaction(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        with session.begin_nested():
            thing = Something()
            thing.cover.from_blob(png(10, 10))
            session.add(thing)
        assert len(stored(fs_store)) == 1
        session.rollback()
        assert stored(fs_store) == set()
        with session.begin_nested():
            thing = Something()
            thing.cover.from_blob(png(10, 10))
            session.add(thing)
        session.commit()
        assert stored(fs_store) == {cover_path(thing, "10x10.png")}


def test_delete_in_a_released_savepoint_waits_for_the_outer_commit(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(10, 10))
        session.add(thing)
        session.commit()
        files = stored(fs_store)
        with session.begin_nested():
            session.delete(thing)
        assert stored(fs_store) == files
        session.rollback()
        assert stored(fs_store) == files
        with session.begin_nested():
            session.delete(thing)
        assert stored(fs_store) == files
        session.commit()
        assert stored(fs_store) == set()


def test_delete_in_a_rolled_back_savepoint_keeps_the_file(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(10, 10))
        session.add(thing)
        session.commit()
        files = stored(fs_store)
        with pytest.raises(Boom), session.begin_nested():
            session.delete(thing)
            session.flush()
            raise Boom
        session.commit()
        assert stored(fs_store) == files


# -- sessions are independent --------------------------------------------------


@pytest.fixture
def concurrent(
    engine: Engine, factory: sessionmaker[Session], tmp_path: Path
) -> Iterator[tuple[sessionmaker[Session], sessionmaker[Session]]]:
    """Session factories for two concurrent writers.  SQLite locks the whole
    file for a writer, so there the second one writes to another file;
    InnoDB's gap locks would make them wait for each other, so on MariaDB
    both read committed."""
    if engine.dialect.name == "sqlite":
        other = create_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
        yield from ((factory, second) for second in sessions(other))
        other.dispose()
    elif engine.dialect.name in ("mysql", "mariadb"):
        committed = sessionmaker(engine.execution_options(isolation_level="READ COMMITTED"))
        yield committed, committed
    else:
        yield factory, factory


def test_regression_one_sessions_rollback_keeps_anothers_files(
    concurrent: tuple[sessionmaker[Session], sessionmaker[Session]],
    fs_store: FileSystemStore,
) -> None:
    factory, other_factory = concurrent
    """The seed's rollback removed every session's uncommitted files."""
    with factory() as first, other_factory() as second, store_context(fs_store):
        mine = Something(id=1)
        mine.cover.from_blob(png(10, 10))
        first.add(mine)
        first.flush()
        theirs = Something(id=2)
        theirs.cover.from_blob(png(20, 20))
        second.add(theirs)
        second.flush()
        second.rollback()
        assert stored(fs_store) == {cover_path(mine, "10x10.png")}
        first.commit()
        assert stored(fs_store) == {cover_path(mine, "10x10.png")}


def test_regression_one_sessions_commit_keeps_anothers_undo(
    concurrent: tuple[sessionmaker[Session], sessionmaker[Session]],
    fs_store: FileSystemStore,
) -> None:
    factory, other_factory = concurrent
    """The seed's commit forgot every session's uncommitted files, so a later
    rollback of another session left them behind as orphans."""
    with factory() as first, other_factory() as second, store_context(fs_store):
        mine = Something(id=1)
        mine.cover.from_blob(png(10, 10))
        first.add(mine)
        first.flush()
        theirs = Something(id=2)
        theirs.cover.from_blob(png(20, 20))
        second.add(theirs)
        second.commit()
        first.rollback()
        assert stored(fs_store) == {path("ia-something-cover", 2, "20x20.png")}


def test_regression_one_sessions_commit_does_not_carry_out_anothers_deletes(
    concurrent: tuple[sessionmaker[Session], sessionmaker[Session]],
    fs_store: FileSystemStore,
) -> None:
    factory, other_factory = concurrent
    with factory() as first, store_context(fs_store):
        thing = Something(id=1)
        thing.cover.from_blob(png(10, 10))
        first.add(thing)
        first.commit()
        files = stored(fs_store)
        first.delete(thing)
        first.flush()
        with other_factory() as second:
            other = Something(id=5)
            other.cover.from_blob(png(20, 20))
            second.add(other)
            second.commit()
        assert files <= stored(fs_store)
        first.rollback()
        assert files <= stored(fs_store)


# -- deletes ------------------------------------------------------------------------


def test_deleted_image_files_go_after_the_commit_only(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(10, 10))
        small = thing.cover.generate_thumbnail(width=5)
        session.add(thing)
        session.commit()
        session.delete(small)
        session.flush()
        assert cover_path(thing, "5x5.png") in stored(fs_store)
        session.commit()
        assert stored(fs_store) == {cover_path(thing, "10x10.png")}


def test_rolled_back_delete_keeps_the_files(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(10, 10))
        thing.cover.generate_thumbnail(width=5)
        session.add(thing)
        session.commit()
        files = stored(fs_store)
        session.delete(thing)
        session.flush()
        session.rollback()
        assert stored(fs_store) == files
        assert thing.cover.count() == 2
        assert thing.cover.make_blob() == png(10, 10)


def test_deleting_the_parent_removes_every_size_including_on_demand_ones(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(40, 30))
        thing.cover.generate_thumbnail(width=20)
        session.add(thing)
        session.commit()
        # a size made on demand by the serving middleware has no row
        put_on_demand(fs_store, thing, 8, 6)
        assert len(stored(fs_store)) == 3
        session.delete(thing)
        session.commit()
        assert stored(fs_store) == set()


def test_replacing_the_original_removes_every_size_of_the_set(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(40, 30))
        thing.cover.generate_thumbnail(width=20)
        other = Something()
        other.cover.from_blob(png(10, 10))
        session.add_all([thing, other])
        session.commit()
        put_on_demand(fs_store, thing, 8, 6)
        thing.cover.from_blob(png(50, 50))
        thing.cover.generate_thumbnail(width=25)
        session.flush()
        # No row's file is deleted before the commit; the on-demand size of
        # the replaced original goes at the flush (docs/ondemand.md).
        assert len(stored(fs_store)) == 5
        session.commit()
        assert stored(fs_store) == {
            cover_path(thing, "50x50.png"),
            cover_path(thing, "25x25.png"),
            cover_path(other, "10x10.png"),
        }


def test_a_cleanup_never_deletes_a_file_it_did_not_supersede(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(40, 30))
        thing.cover.generate_thumbnail(width=20)
        session.add(thing)
        session.commit()
        # written by someone else (e.g. another transaction), not made on demand
        fs_store.put_file(
            io.BytesIO(b"x"), "ia-something-cover", thing.id, 8, 6, "image/jpeg", True
        )
        session.delete(thing)
        session.commit()
        assert stored(fs_store) == {cover_path(thing, "8x6.jpe")}


def put_on_demand(store: FileSystemStore, thing: Something, width: int, height: int) -> None:
    """Store a thumbnail of ``thing``'s original as the on-demand resizer
    does: no row, and made of the original's current version."""
    original = thing.cover.require_original()
    source = (original.object_type, original.object_id, original.width, original.height,
              original.mimetype)  # fmt: skip
    version = store.file_version(*source)
    assert version is not None
    store.put_derived(io.BytesIO(b"x"), source[0], source[1], width, height, source[4], version)


def test_delete_old_and_store_new_under_the_same_key_keeps_the_new_file(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(10, 10, color="red"))
        session.add(thing)
        session.commit()
        thing.cover.from_blob(png(10, 10, color="blue"))
        session.commit()
        assert stored(fs_store) == {cover_path(thing, "10x10.png")}
        assert content(fs_store, cover_path(thing, "10x10.png")) == png(10, 10, color="blue")
        assert thing.cover.make_blob() == png(10, 10, color="blue")


def test_rolled_back_replacement_under_the_same_key_restores_the_old_file(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(10, 10, color="red"))
        session.add(thing)
        session.commit()
        thing.cover.from_blob(png(10, 10, color="blue"))
        session.flush()
        assert content(fs_store, cover_path(thing, "10x10.png")) == png(10, 10, color="blue")
        session.rollback()
        assert thing.cover.make_blob() == png(10, 10, color="red")


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_row_switch_replacing_an_image_in_one_flush(
    factory: sessionmaker[Session], fs_store: FileSystemStore, outcome: str
) -> None:
    """Deleting a row and adding one with the same primary key in one flush
    makes SQLAlchemy UPDATE the row instead; the file follows."""
    with factory(autoflush=False) as session, store_context(fs_store):
        thing = Something()
        old = thing.cover.from_blob(png(10, 10, color="red"))
        session.add(thing)
        session.commit()
        session.delete(old)
        thing.cover.from_blob(png(10, 10, color="blue"))
        session.flush()
        assert content(fs_store, cover_path(thing, "10x10.png")) == png(10, 10, color="blue")
        getattr(session, outcome)()
        expected = png(10, 10, color="blue" if outcome == "commit" else "red")
        assert stored(fs_store) == {cover_path(thing, "10x10.png")}
        assert content(fs_store, cover_path(thing, "10x10.png")) == expected
        assert thing.cover.make_blob() == expected


def test_deletes_use_the_store_the_image_was_attached_to(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session:
        thing = Something()
        thing.cover.from_blob(png(10, 10), store=fs_store)
        session.add(thing)
        session.commit()
        thing.cover.from_blob(png(20, 20), store=fs_store)  # no store context at all
        session.commit()
        assert stored(fs_store) == {cover_path(thing, "20x20.png")}


def test_deleting_an_image_loaded_outside_a_store_context_needs_one(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(10, 10))
        session.add(thing)
        session.commit()
        files, thing_id = stored(fs_store), thing.id
    with factory() as session:
        session.delete(session.get_one(Something, thing_id))
        with pytest.raises(ContextError, match="store_context"):
            session.commit()
        session.rollback()
        assert stored(fs_store) == files
        with store_context(fs_store):
            session.delete(session.get_one(Something, thing_id))
            session.commit()
        assert stored(fs_store) == set()


def test_storage_errors_after_commit_are_logged_not_raised(
    factory: sessionmaker[Session], fs_store: FileSystemStore, caplog: pytest.LogCaptureFixture
) -> None:
    class Undeletable(FileSystemStore):
        def delete_file(self, *key: object) -> None:  # type: ignore[override]
            raise PermissionError("read-only file system")

    store = Undeletable(fs_store.path, "http://static.example.com/")
    with factory() as session, store_context(store):
        thing = Something()
        thing.cover.from_blob(jpeg(40, 30))
        thing.cover.generate_thumbnail(width=20)
        session.add(thing)
        session.commit()
        with caplog.at_level(logging.ERROR, logger="imageattach"):
            session.delete(thing)
            session.commit()  # does not raise
        assert session.scalars(select(SomethingCover)).all() == []
    failures = [r for r in caplog.records if r.name == "imageattach"]
    assert len(failures) == 2
    assert all("read-only file system" in (r.exc_text or "") for r in failures)
    assert len(stored(fs_store)) == 2  # left behind, and said so


# -- AsyncSession -------------------------------------------------------------------


@pytest.fixture
def async_url(database_url: str) -> str:
    if database_url.startswith("sqlite:"):
        return database_url.replace("sqlite:", "sqlite+aiosqlite:", 1)
    if database_url.startswith("postgresql+psycopg:"):
        return database_url  # psycopg 3 is also an asyncio driver
    if database_url.startswith("mysql+pymysql:"):
        pytest.importorskip("aiomysql")
        return database_url.replace("mysql+pymysql:", "mysql+aiomysql:", 1)
    pytest.skip(f"no asyncio driver installed for {database_url.split(':')[0]}")


class ThreadRecordingStore(FileSystemStore):
    """Notes which thread each write and delete ran on."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "http://static.example.com/")
        self.threads: list[int] = []

    def put_file(self, file: IO[bytes], *key: object) -> None:  # type: ignore[override]
        self.threads.append(threading.get_ident())
        super().put_file(file, *key)  # type: ignore[arg-type]

    def delete_file(self, *key: object) -> None:  # type: ignore[override]
        self.threads.append(threading.get_ident())
        super().delete_file(*key)  # type: ignore[arg-type]


def test_async_session(
    factory: sessionmaker[Session], fs_store: FileSystemStore, async_url: str
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    store = ThreadRecordingStore(fs_store.path)

    async def main() -> int:
        loop_thread = threading.get_ident()
        engine = create_async_engine(async_url)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                with store_context(store):
                    user = User()
                    user.picture.from_blob(jpeg(40, 30))  # a new parent: no I/O
                    session.add(user)
                    await session.commit()
                    user_id = user.id
                    # a persistent parent's image set queries: run it in run_sync
                    await session.run_sync(
                        lambda _: (
                            user.picture.from_blob(png(20, 20)),
                            user.picture.generate_thumbnail(width=10),
                        )
                    )
                    await session.commit()
                    url = await session.run_sync(lambda _: user.picture.locate())
                    assert url.endswith(".20x20.png?_ts=" + url.rsplit("=", 1)[1])
                    # rolled back: the file goes
                    await session.run_sync(lambda _: user.picture.from_blob(png(30, 30)))
                    await session.flush()
                    assert len(stored(fs_store)) == 3
                    await session.rollback()
                    assert len(stored(fs_store)) == 2
            # the store context of the coroutine is seen by the flush's greenlet
            async with AsyncSession(engine) as session:
                with store_context(store):
                    await session.delete(await session.get_one(User, user_id))
                    await session.commit()
            return loop_thread
        finally:
            await engine.dispose()

    loop_thread = asyncio.run(main())
    assert stored(fs_store) == set()
    assert store.threads and loop_thread not in store.threads


def test_sync_session_inside_a_coroutine(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """A plain Session used in a coroutine has no greenlet to hand the I/O to
    a thread from: it is done in place, and no coroutine is left unawaited."""

    async def main() -> set[str]:
        with factory() as session, store_context(fs_store):
            thing = Something()
            thing.cover.from_blob(png(10, 10))
            session.add(thing)
            session.commit()
            session.delete(thing)
            session.commit()
        return stored(fs_store)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert asyncio.run(main()) == set()
        gc.collect()


# -- deleting only the original ------------------------------------------------------


def test_deleting_the_original_deletes_its_thumbnail_rows_and_files(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(40, 30))
        thing.cover.generate_thumbnail(width=20)
        thing.cover.generate_thumbnail(width=10)
        session.add(thing)
        session.commit()
        session.delete(thing.cover.original)
        session.flush()
        assert thing.cover.count() == 0  # the rows go in the same flush
        session.rollback()
        assert thing.cover.count() == 3 and len(stored(fs_store)) == 3  # ... and come back
        session.delete(thing.cover.original)
        session.commit()
        assert thing.cover.count() == 0
        assert session.scalar(select(func.count()).select_from(SomethingCover)) == 0
    assert stored(fs_store) == set()


def test_deleting_the_original_under_async_session(
    factory: sessionmaker[Session], fs_store: FileSystemStore, async_url: str
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    async def main() -> int:
        engine = create_async_engine(async_url)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                with store_context(fs_store):
                    user = User()
                    user.picture.from_blob(jpeg(40, 30))
                    session.add(user)
                    await session.commit()
                    await session.run_sync(lambda _: user.picture.generate_thumbnail(width=20))
                    await session.commit()
                    original = await session.run_sync(lambda _: user.picture.original)
                    await session.delete(original)
                    await session.commit()
                    return await session.run_sync(lambda _: user.picture.count())
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == 0
    assert stored(fs_store) == set()
