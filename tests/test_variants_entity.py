"""locate() with variant options on real entities (SQLite, a real store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from entity_models import Something, sessions
from images import jpeg
from sqlalchemy import Engine, ForeignKey, String, create_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)
from storefiles import image_files

from imageattach.context import store_context
from imageattach.entity import Image, SingleImageSet, image_attachment
from imageattach.exceptions import ArgumentError
from imageattach.middleware.miss import FILE_READY
from imageattach.stores.fs import HttpExposedFileSystemStore

KEY = "test-secret-key-0123456789abcdef"
PREFIX = "http://testserver/__images__/"


class Base(DeclarativeBase):
    pass


class Member(Base):
    __tablename__ = "ia_variant_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    picture: Mapped[SingleImageSet[MemberPicture]] = image_attachment(  # type: ignore[assignment]
        "MemberPicture", back_populates="member"
    )


class MemberPicture(Base, Image):
    __tablename__ = "ia_variant_member_picture"
    member_id: Mapped[int] = mapped_column(ForeignKey(Member.id), primary_key=True)
    member: Mapped[Member] = relationship(Member, back_populates="picture")
    #: The optional column of set_focal_point().
    focal_point: Mapped[str | None] = mapped_column(String(32))

    @property
    def object_id(self) -> int:
        return self.member_id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HttpExposedFileSystemStore]:
    store = HttpExposedFileSystemStore(
        tmp_path / "images", "__images__", lambda: "http://testserver/", secret_key=KEY
    )
    yield store
    store.resizer.shutdown()


@pytest.fixture
def members(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(f"sqlite:///{tmp_path}/members.db")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


def _fetch(store: HttpExposedFileSystemStore, url: str) -> None:
    path, _, query = url[len(PREFIX) :].partition("?")
    assert store.resizer.handle(path, query) is FILE_READY


def test_plain_locate_unchanged_and_variants_distinct(
    factory: sessionmaker[Session], store: HttpExposedFileSystemStore
) -> None:
    with factory() as session, store_context(store):
        thing = Something(id=7)
        thing.cover.from_blob(jpeg(640, 480))
        session.add(thing)
        session.commit()
        plain = thing.cover.locate(width=150)
        assert plain == thing.cover.locate(width=150, fit="contain", format="jpeg", gravity="north")
        assert plain.startswith(f"{PREFIX}ia-something-cover/7/0/7.150x113.jpe?")
        cover = thing.cover.locate(width=150, height=150, fit="cover", format="webp")
        assert cover.startswith(f"{PREFIX}ia-something-cover/7/0/7.150x150.cover.webp?")
        auto = thing.cover.locate(width=150, height=150, fit="cover", format="auto", quality=70)
        assert auto.startswith(f"{PREFIX}ia-something-cover/7/0/7.150x150.cover-q70.auto.jpe?")
        # upscale=False clamps, and the URL names the clamped size.
        assert "/7.640x480.jpe?" in thing.cover.locate(width=2000)
        assert "/7.2000x1500.jpe?" in thing.cover.locate(width=2000, upscale=True)
        assert "/7.480x480.cover.webp?" in thing.cover.locate(
            width=1000, height=1000, fit="cover", format="webp"
        )
        for bad in ({"fit": "fill"}, {"format": "gif"}, {"quality": 0}, {"gravity": "up"}):
            with pytest.raises(ArgumentError):
                thing.cover.locate(width=150, height=150, **bad)  # type: ignore[arg-type]
        with pytest.raises(ArgumentError, match="set_focal_point"):
            thing.cover.locate(width=150, height=150, fit="cover", gravity="focal")
        with pytest.raises(ArgumentError, match="no focal_point column"):
            thing.cover.original.set_focal_point(0.5, 0.5)  # type: ignore[union-attr]


def test_focal_point_column(
    members: sessionmaker[Session], store: HttpExposedFileSystemStore
) -> None:
    with members() as session, store_context(store):
        member = Member(id=3)
        member.picture.from_blob(jpeg(640, 480))
        session.add(member)
        session.commit()
        original = member.picture.original
        assert original is not None
        with pytest.raises(ArgumentError):
            original.set_focal_point(1.5, 0.5)
        original.set_focal_point(0.25, 0.6)
        session.commit()
        url = member.picture.locate(width=100, height=100, fit="cover", gravity="focal")
        assert "/3.100x100.cover-focal250x600.jpe?" in url
        _fetch(store, url)


def test_deleting_the_original_removes_every_variant(
    factory: sessionmaker[Session], store: HttpExposedFileSystemStore
) -> None:
    with factory() as session, store_context(store):
        thing = Something(id=8)
        thing.cover.from_blob(jpeg(640, 480))
        session.add(thing)
        session.commit()
        for url in (
            thing.cover.locate(width=150),
            thing.cover.locate(width=150, height=150, fit="cover", format="webp"),
            thing.cover.locate(width=100, height=50, fit="cover", gravity="entropy"),
        ):
            _fetch(store, url)
        assert len(image_files(store.path)) == 4
        session.delete(thing)
        session.commit()
        assert image_files(store.path) == []


def test_replacing_the_original_removes_every_variant(
    factory: sessionmaker[Session], store: HttpExposedFileSystemStore
) -> None:
    with factory() as session, store_context(store):
        thing = Something(id=9)
        thing.cover.from_blob(jpeg(640, 480))
        session.add(thing)
        session.commit()
        _fetch(store, thing.cover.locate(width=150, height=150, fit="cover", format="avif"))
        thing.cover.from_blob(jpeg(320, 240))
        session.commit()
        assert image_files(store.path) == ["ia-something-cover/9/0/9.320x240.jpe"]
