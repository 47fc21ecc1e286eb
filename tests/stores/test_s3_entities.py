"""S3 stores under real image entities: transactions, thumbnails, migration,
and an endpoint that goes away."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from entity_models import Something, SomethingCover, User, UserPicture, sessions
from images import jpeg, png
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from stores.s3server import FaultProxy, MotoServer, S3StoreFactory, s3_options

from imageattach.context import store_context
from imageattach.exceptions import StoreUnavailableError
from imageattach.migration import migrate
from imageattach.stores.fs import FileSystemStore
from imageattach.stores.s3 import S3SandboxStore, S3Store


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


def keys(store: S3Store) -> set[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    return {item["Key"] for item in listed}


def test_commit_stores_and_locates(
    factory: sessionmaker[Session], make_s3_store: S3StoreFactory
) -> None:
    store = make_s3_store(prefix="media")
    data = jpeg(40, 30)
    with factory() as session, store_context(store):
        thing = Something()
        thing.cover.from_blob(data)
        session.add(thing)
        session.commit()
        assert keys(store) == {f"media/ia-something-cover/{thing.id}/40x30.jpe"}
        assert thing.cover.make_blob() == data
        url = thing.cover.locate()
        assert url.startswith(f"{store.public_base_url}/media/ia-something-cover/{thing.id}/")
        assert "?_ts=" in url


def test_rollback_removes_the_file(factory: sessionmaker[Session], s3_store: S3Store) -> None:
    with factory() as session, store_context(s3_store):
        thing = Something()
        thing.cover.from_blob(jpeg(40, 30))
        session.add(thing)
        session.flush()
        assert len(keys(s3_store)) == 1
        session.rollback()
    assert keys(s3_store) == set()


def test_deletes_happen_after_commit_with_every_size(
    factory: sessionmaker[Session], make_s3_store: S3StoreFactory
) -> None:
    store = make_s3_store(reproducible_storage_class="STANDARD_IA")
    with factory() as session, store_context(store):
        thing = Something()
        thing.cover.from_blob(jpeg(40, 30))
        session.add(thing)
        session.commit()
        thumbnail = thing.cover.generate_thumbnail(width=20)
        session.commit()
        key = store.get_key(*(thumbnail.object_type, thumbnail.object_id, 20, 15, "image/jpeg"))
        assert store.client.head_object(Bucket=store.bucket, Key=key)["StorageClass"] == (
            "STANDARD_IA"
        )
        # an on-demand size: a file with no row, made of the original
        source = store.file_version("ia-something-cover", thing.id, 40, 30, "image/jpeg")
        assert source is not None
        store.put_derived(io.BytesIO(jpeg(10, 8)), "ia-something-cover", thing.id, 10, 8,
                          "image/jpeg", source)  # fmt: skip
        assert len(keys(store)) == 3

        session.delete(thing.cover.original)
        session.flush()
        session.rollback()
        assert len(keys(store)) == 3  # a rolled-back delete keeps the files

        for image in thing.cover:
            session.delete(image)
        session.flush()
        assert len(keys(store)) == 3  # not before the commit
        session.commit()
        assert keys(store) == set()


def test_migrate_between_filesystem_and_s3(
    factory: sessionmaker[Session], s3_store: S3Store, tmp_path: Path
) -> None:
    fs = FileSystemStore(tmp_path / "fs", "http://fs.example/")
    back = FileSystemStore(tmp_path / "back", "http://back.example/")
    with factory() as session, store_context(fs):
        things = [Something() for _ in range(3)]
        for number, thing in enumerate(things):
            thing.cover.from_blob(png(10 + number, 10))
        user = User(id=7)
        user.picture.from_blob(jpeg(30, 20))
        session.add_all([*things, user])
        session.commit()
        user.picture.generate_thumbnail(width=15)
        session.commit()

        copied = list(migrate(session, SomethingCover.registry, fs, s3_store))
        assert len(copied) == 3
        migrate(session, UserPicture.registry, fs, s3_store).execute()
        assert len(keys(s3_store)) == 5
        with store_context(s3_store):
            assert user.picture.find_thumbnail(width=15).make_blob() == (
                user.picture.find_thumbnail(width=15).make_blob(fs)
            )

        migrate(session, SomethingCover.registry, s3_store, back).execute()
        migrate(session, UserPicture.registry, s3_store, back).execute()
        for image in session.scalars(select(SomethingCover)):
            assert image.make_blob(back) == image.make_blob(fs)
        for picture in session.scalars(select(UserPicture)):
            assert picture.make_blob(back) == picture.make_blob(fs)


def _presigned_image(session: Session, store: S3Store) -> SomethingCover:
    with store_context(store):
        thing = Something()
        thing.cover.from_blob(png(4, 3))
        session.add(thing)
        session.commit()
        image: SomethingCover = thing.cover.require_original()
        return image


def test_presigned_locate_has_no_ts(
    factory: sessionmaker[Session], make_s3_store: S3StoreFactory
) -> None:
    store = make_s3_store(presigned=True)
    with factory() as session:
        url = _presigned_image(session, store).locate(store)
    assert "X-Amz-Signature=" in url
    assert "_ts=" not in url  # it would break the signature


def test_presigned_locate_through_the_store_context(
    factory: sessionmaker[Session], make_s3_store: S3StoreFactory
) -> None:
    store = make_s3_store(presigned=True)
    with factory() as session, store_context(store):
        url = _presigned_image(session, store).locate()
    assert "X-Amz-Signature=" in url  # the proxy reached S3Store's presigning locate
    assert "_ts=" not in url


def test_sandbox_under_entities(factory: sessionmaker[Session], moto_server: MotoServer) -> None:
    sandbox = S3SandboxStore(
        moto_server.new_bucket(), moto_server.new_bucket(), **s3_options(moto_server.url)
    )
    production = jpeg(40, 30, color="blue")
    with factory() as session:
        with store_context(sandbox.underlying):
            thing = Something()
            thing.cover.from_blob(production)
            session.add(thing)
            session.commit()
        with store_context(sandbox):
            assert thing.cover.make_blob() == production
            thing.cover.from_blob(jpeg(20, 10))  # replaces the original
            session.commit()
            assert thing.cover.make_blob() == jpeg(20, 10)
        assert keys(sandbox.underlying) == {f"ia-something-cover/{thing.id}/40x30.jpe"}


# -- the endpoint goes away ------------------------------------------------------


def test_stopped_endpoint_loses_nothing(
    factory: sessionmaker[Session],
    moto_server: MotoServer,
    bucket: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    direct = S3Store(bucket, **s3_options(moto_server.url))
    proxy = FaultProxy(moto_server.url)
    store = S3Store(bucket, max_retry=1, **s3_options(proxy.url))
    original = jpeg(40, 30)
    with factory() as session, store_context(store):
        thing = Something()
        thing.cover.from_blob(original)
        session.add(thing)
        session.commit()
        thing_id = thing.id

        proxy.close()  # the endpoint stops
        thing.cover.from_blob(jpeg(20, 10))
        with pytest.raises(StoreUnavailableError):
            session.commit()
        session.rollback()

    with factory() as session:
        (row,) = session.scalars(select(SomethingCover)).all()
        assert (row.something_id, row.width, row.height) == (thing_id, 40, 30)
        assert row.make_blob(direct) == original

        # A delete committed while the endpoint is down: the row goes, the
        # storage error is logged rather than raised out of commit().
        with store_context(store), caplog.at_level(logging.ERROR, logger="imageattach"):
            session.delete(row)
            session.commit()
        assert "could not" in caplog.text
        assert session.scalars(select(SomethingCover)).all() == []
