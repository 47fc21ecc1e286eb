"""Copying every image file of a database from one store to another."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

import pytest
from entity_models import (
    Legacy,
    Manything,
    ManythingCover,
    Something,
    SomethingCover,
    sessions,
)
from images import jpeg, png
from sqlalchemy import Engine, ForeignKey, ForeignKeyConstraint, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

import imageattach.migration
from imageattach.context import store_context
from imageattach.entity import Image, SingleImageSet, image_attachment
from imageattach.migration import (
    MigrationPlan,
    count_images,
    image_classes,
    iter_images,
    migrate,
    migrate_class,
)
from imageattach.store import Store
from imageattach.stores.fs import FileSystemStore


class DictStore(Store):
    """A third-party store as the seed's tests wrote one: two primitives only."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, int, int, int, str], tuple[bytes, bool]] = {}

    def put_file(
        self,
        file: IO[bytes],
        object_type: str,
        object_id: int,
        width: int,
        height: int,
        mimetype: str,
        reproducible: bool,
    ) -> None:
        self.files[object_type, object_id, width, height, mimetype] = file.read(), reproducible

    def get_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> IO[bytes]:
        return io.BytesIO(self.files[object_type, object_id, width, height, mimetype][0])

    def delete_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> None:
        self.files.pop((object_type, object_id, width, height, mimetype), None)


# An inheritance hierarchy: one single-table and one joined-table subclass.


class Shelf(DeclarativeBase):
    pass


class Album(Shelf):
    __tablename__ = "ia_album"

    id: Mapped[int] = mapped_column(primary_key=True)
    front: Mapped[SingleImageSet[FrontArt]] = image_attachment("FrontArt", overlaps="back")
    back: Mapped[SingleImageSet[BackArt]] = image_attachment("BackArt", overlaps="front")


class AlbumArt(Shelf, Image):
    __tablename__ = "ia_album_art"
    __mapper_args__ = {"polymorphic_on": "side", "polymorphic_identity": "any"}

    album_id: Mapped[int] = mapped_column(ForeignKey(Album.id), primary_key=True)
    side: Mapped[str] = mapped_column(String(10), primary_key=True)

    @property
    def object_id(self) -> int:
        return self.album_id * 10 + ("front", "back").index(self.side)


class FrontArt(AlbumArt):
    __mapper_args__ = {"polymorphic_identity": "front"}


class BackArt(AlbumArt):
    __tablename__ = "ia_back_art"
    __mapper_args__ = {"polymorphic_identity": "back"}
    __table_args__ = (
        ForeignKeyConstraint(
            ["album_id", "side", "width", "height"],
            [AlbumArt.album_id, AlbumArt.side, AlbumArt.width, AlbumArt.height],
        ),
    )

    album_id: Mapped[int] = mapped_column(primary_key=True)
    side: Mapped[str] = mapped_column(String(10), primary_key=True)
    width: Mapped[int] = mapped_column(primary_key=True)
    height: Mapped[int] = mapped_column(primary_key=True)
    printed: Mapped[str] = mapped_column(String(20), default="matte")


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    Shelf.metadata.drop_all(engine)
    Shelf.metadata.create_all(engine)
    try:
        yield from sessions(engine)
    finally:
        Shelf.metadata.drop_all(engine)


@pytest.fixture
def source() -> DictStore:
    return DictStore()


@pytest.fixture
def populated(factory: sessionmaker[Session], source: DictStore) -> sessionmaker[Session]:
    """Five covers (two with thumbnails), a multiple-set image, and album art
    of both subclasses, all in ``source``."""
    with factory() as session, store_context(source):
        for index in range(5):
            thing = Something(name=f"thing {index}")
            thing.cover.from_blob(jpeg(40 + index, 30))
            if index % 2:
                thing.cover.generate_thumbnail(width=20)
                thing.cover.generate_thumbnail(width=10)
            session.add(thing)
        many = Manything()
        many.covers.get_image_set(cover_id=1).from_blob(png(8, 8))
        session.add(many)
        for index in range(2):
            album = Album()
            album.front.from_blob(png(30 + index, 30))
            album.front.generate_thumbnail(width=15)
            album.back.from_blob(jpeg(20, 20 + index))
            session.add(album)
        session.commit()
    return factory


def test_regression_image_classes_come_from_the_registry_once_per_hierarchy() -> None:
    """The seed read ``Base._decl_class_registry``, gone since SQLAlchemy 1.4,
    and listed every class of a hierarchy (copying rows twice)."""
    assert image_classes(Legacy) == [ManythingCover, SomethingCover]
    assert image_classes(Shelf) == [AlbumArt]
    assert image_classes(Shelf.registry) == [AlbumArt]


def test_migrate_class_copies_every_file_of_the_class(
    populated: sessionmaker[Session], source: DictStore
) -> None:
    destination = DictStore()
    with populated() as session:
        plan = migrate_class(session, SomethingCover, source, destination)
        assert isinstance(plan, MigrationPlan)
        assert destination.files == {}  # nothing happens before the plan runs
        plan.execute()
    expected = {k: v for k, v in source.files.items() if k[0] == "ia-something-cover"}
    assert len(expected) == 5 + 2 * 2
    assert destination.files == expected


def test_regression_migrate_copies_every_row_of_an_inheritance_hierarchy_once(
    populated: sessionmaker[Session], source: DictStore, tmp_path: Any
) -> None:
    destination = FileSystemStore(tmp_path / "copy", "http://copy.example.com/")
    with populated() as session:
        copied = list(migrate(session, Shelf, source, destination))
        copied += list(migrate(session, Legacy, source, destination))
    keys = [(i.object_type, i.object_id, i.width, i.height, i.mimetype) for i in copied]
    assert len(keys) == len(set(keys)) == len(source.files)
    assert set(keys) == set(source.files)
    for key, (data, _) in source.files.items():
        with destination.get_file(*key) as f:
            assert f.read() == data
    assert {type(i) for i in copied if isinstance(i, AlbumArt)} == {FrontArt, BackArt}
    assert {i.object_type for i in copied if isinstance(i, BackArt)} == {"ia-back-art"}


def test_migration_keeps_reproducible_flags(
    populated: sessionmaker[Session], source: DictStore
) -> None:
    destination = DictStore()
    with populated() as session:
        migrate(session, Legacy, source, destination).execute()
    assert destination.files == {
        k: v for k, v in source.files.items() if k[0].startswith(("ia-something", "ia-many"))
    }
    assert {reproducible for _, reproducible in destination.files.values()} == {True, False}


def test_execute_calls_back_for_each_image(
    populated: sessionmaker[Session], source: DictStore
) -> None:
    seen: list[Image] = []
    with populated() as session:
        migrate(session, Shelf, source, DictStore()).execute(seen.append)
        with pytest.raises(TypeError):
            migrate(session, Shelf, source, DictStore()).execute("not callable")  # type: ignore[arg-type]
    assert sorted((i.side, i.width) for i in seen) == sorted(
        [("front", 30), ("front", 15), ("back", 20), ("front", 31), ("front", 15), ("back", 20)]
    )


def test_regression_rows_are_streamed_in_batches(
    populated: sessionmaker[Session], source: DictStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imageattach.migration, "BATCH_SIZE", 2)
    destination = DictStore()
    with populated() as session:
        plan = iter(migrate_class(session, SomethingCover, source, destination))
        first = next(plan)
        assert len(destination.files) == 1  # copied as it is yielded
        rest = list(plan)
    keys = {(i.object_id, i.width, i.height) for i in [first, *rest]}
    assert len(keys) == len(rest) + 1 == 9
    with populated() as session:
        assert len(list(iter_images(session, Legacy, batch_size=2))) == 10
        assert count_images(session, Legacy) == 10
        assert count_images(session, Shelf) == 6


def test_bad_arguments(populated: sessionmaker[Session], source: DictStore) -> None:
    with populated() as session:
        with pytest.raises(TypeError, match="session"):
            migrate(object(), Legacy, source, source)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="declarative"):
            migrate(session, object(), source, source)
        with pytest.raises(TypeError, match="destination"):
            migrate(session, Legacy, source, "s3://nowhere")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="Image"):
            migrate_class(session, Something, source, source)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            MigrationPlan(None)  # type: ignore[arg-type]


def test_missing_source_file_stops_the_plan(
    populated: sessionmaker[Session], source: DictStore
) -> None:
    source.files.pop(next(iter(source.files)))
    with populated() as session, pytest.raises(KeyError):
        migrate(session, Legacy, source, DictStore()).execute()
