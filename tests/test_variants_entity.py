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
from imageattach.exceptions import ArgumentError, ConfigurationError, SigningNotConfiguredError
from imageattach.middleware.miss import FILE_READY, MissResponse
from imageattach.stores.fs import HttpExposedFileSystemStore
from imageattach.variants import negotiate

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
        # A value the column holds that is no point counts as none.
        for stored in ("nan,nan", "1e999,0", "0.5", "x,y", "0.5,0.5," + "9" * 40, "-0.1,0.5"):
            original.focal_point = stored
            with pytest.raises(ArgumentError, match="set_focal_point"):
                member.picture.locate(width=100, height=100, fit="cover", gravity="focal")


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


# -- presets ---------------------------------------------------------------------------------

AVATAR = {"width": 150, "height": 150, "fit": "cover", "format": "auto"}
PRESETS = {
    "avatar": AVATAR,
    "wide": {"width": 300},
    "card": {"width": 80, "height": 60, "fit": "cover", "format": "webp", "quality": 70},
}


@pytest.mark.parametrize(
    ("presets", "message"),
    [
        ({"a": {"wdth": 150}}, "unknown option 'wdth' .*did you mean 'width'"),
        ({"a": {"width": 150, "fit": "fill"}}, "preset 'a': fit must be"),
        ({"a": {"width": 150, "height": 100}}, "takes one of width, height"),
        ({"a": {"width": 0}}, "preset 'a'"),
        ({"a": {"width": 100, "format": "gif"}}, "format must be"),
        ({"a": {"width": 100, "quality": 101}}, "quality"),
        ({"a": {"fit": "cover"}}, "needs a width or a height"),
        ({"a b": {"width": 100}}, "preset names"),
        ({"a": {}}, "non-empty"),
        (["avatar"], "mapping"),
    ],
)
def test_presets_are_checked_at_construction(tmp_path: Path, presets: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        HttpExposedFileSystemStore(tmp_path, secret_key=KEY, presets=presets)  # type: ignore[arg-type]


def test_presets_only_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs presets"):
        HttpExposedFileSystemStore(tmp_path, presets_only=True)
    with pytest.raises(ConfigurationError, match="drop resize_allowlist"):
        HttpExposedFileSystemStore(
            tmp_path, presets=PRESETS, presets_only=True, resize_allowlist=[1]
        )
    with pytest.raises(ConfigurationError, match="True or False"):
        HttpExposedFileSystemStore(tmp_path, presets=PRESETS, presets_only="yes")  # type: ignore[arg-type]


def test_preset_is_its_options(
    factory: sessionmaker[Session], store: HttpExposedFileSystemStore, tmp_path: Path
) -> None:
    with_presets = HttpExposedFileSystemStore(
        store.path, "__images__", lambda: "http://testserver/", secret_key=KEY, presets=PRESETS
    )
    with factory() as session, store_context(with_presets):
        thing = Something(id=11)
        thing.cover.from_blob(jpeg(640, 480))
        session.add(thing)
        session.commit()
        assert thing.cover.locate(preset="avatar") == thing.cover.locate(**AVATAR)  # type: ignore[arg-type]
        assert thing.cover.locate(preset="wide") == thing.cover.locate(width=300)
        with pytest.raises(ArgumentError, match=r"no preset 'nope'.*avatar, card, wide"):
            thing.cover.locate(preset="nope")
        with pytest.raises(TypeError, match="preset= goes alone"):
            thing.cover.locate(preset="avatar", width=100)
    with_presets.resizer.shutdown()


def test_presets_only_serves_presets_unsigned_and_refuses_the_rest(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    only = HttpExposedFileSystemStore(
        tmp_path / "only",
        "__images__",
        lambda: "http://testserver/",
        presets=PRESETS,
        presets_only=True,
    )
    signing = HttpExposedFileSystemStore(
        tmp_path / "only", "__images__", lambda: "http://testserver/", secret_key=KEY
    )
    try:
        with factory() as session, store_context(only):
            thing = Something(id=12)
            thing.cover.from_blob(jpeg(640, 480))
            session.add(thing)
            session.commit()
            avatar = thing.cover.locate(preset="avatar")
            assert "/12.150x150.cover.auto.jpe?" in avatar and "sig=" not in avatar
            card = thing.cover.locate(preset="card")
            assert "/12.80x60.cover-q70.webp?" in card and "sig=" not in card
            wide = thing.cover.locate(preset="wide")
            assert "/12.300x225.jpe?" in wide and "sig=" not in wide
            with pytest.raises(SigningNotConfiguredError, match="presets_only"):
                thing.cover.locate(width=150)
            # Served unsigned; auto through its negotiated names.
            path, _, query = avatar[len(PREFIX) :].partition("?")
            for accept in ("image/avif", "image/webp", "*/*"):
                concrete = negotiate(path, accept)
                assert concrete is not None
                assert only.resizer.handle(concrete, query) is FILE_READY
            for url in (card, wide):
                _fetch(only, url)
            # Anything else is refused, signed or not, and costs nothing.
            with store_context(signing):
                others = [
                    thing.cover.locate(width=151),
                    thing.cover.locate(width=80, height=60, fit="cover", format="webp"),
                    thing.cover.locate(width=150, height=150, fit="cover", format="png"),
                ]
            others.append(card.replace("cover-q70", "cover-q90"))
            others.append(card.replace("80x60", "160x120"))
            for url in others:
                path, _, query = url[len(PREFIX) :].partition("?")
                answer = only.resizer.handle(path, query)
                assert isinstance(answer, MissResponse) and answer.status == 403, url
            assert only.resizer.generations == 5
    finally:
        only.resizer.shutdown()
        signing.resizer.shutdown()
