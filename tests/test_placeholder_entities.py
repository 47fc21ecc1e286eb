"""image_set.placeholder(): computed once per original in a decoding worker,
kept in the optional ``placeholder`` column or the process-local cache
(docs/placeholders.md), on the filesystem and S3 stores."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from images import corrupt_jpeg, jpeg, not_an_image, png
from imaging.hostile import case
from sqlalchemy import Engine, ForeignKey, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from stores.s3server import MotoServer, s3_options

from imageattach.context import store_context
from imageattach.entity import Image, SingleImageSet, image_attachment
from imageattach.exceptions import (
    ArgumentError,
    ImageError,
    ImageTooLargeError,
    NoOriginalImageError,
)
from imageattach.placeholder import Placeholder
from imageattach.responsive import PlaceholderCache, placeholder_cache, placeholder_computations
from imageattach.stores.fs import FileSystemStore
from imageattach.stores.s3 import S3Store


class Base(DeclarativeBase):
    pass


class Shop(Base):
    __tablename__ = "ia_ph_shop"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The image class has the placeholder column.
    logo: Mapped[SingleImageSet[ShopLogo]] = image_attachment("ShopLogo", back_populates="shop")
    #: The seed's schema: no placeholder column.
    banner: Mapped[SingleImageSet[ShopBanner]] = image_attachment(
        "ShopBanner", back_populates="shop"
    )


class ShopLogo(Base, Image):
    __tablename__ = "ia_ph_shop_logo"

    shop_id: Mapped[int] = mapped_column(ForeignKey(Shop.id), primary_key=True)
    shop: Mapped[Shop] = relationship(back_populates="logo")
    placeholder: Mapped[str | None] = mapped_column(String(64))


class ShopBanner(Base, Image):
    __tablename__ = "ia_ph_shop_banner"

    shop_id: Mapped[int] = mapped_column(ForeignKey(Shop.id), primary_key=True)
    shop: Mapped[Shop] = relationship(back_populates="banner")


@pytest.fixture
def engine_with_tables(engine: Engine) -> Iterator[Engine]:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    placeholder_cache.clear()
    try:
        yield engine
    finally:
        Base.metadata.drop_all(engine)
        placeholder_cache.clear()


@pytest.fixture
def store(fs_store: FileSystemStore) -> Iterator[FileSystemStore]:
    with store_context(fs_store):
        yield fs_store


def new_shop(engine: Engine, logo: bytes, banner: bytes) -> int:
    with Session(engine) as session:
        shop = Shop()
        shop.logo.from_blob(logo)
        shop.banner.from_blob(banner)
        session.add(shop)
        session.commit()
        return shop.id


def logo_column(engine: Engine, shop_id: int) -> str | None:
    with Session(engine) as session:
        return session.scalar(select(ShopLogo.placeholder).filter_by(shop_id=shop_id))


def test_with_the_column_it_is_computed_once_and_kept_in_the_row(
    engine_with_tables: Engine, store: FileSystemStore
) -> None:
    engine = engine_with_tables
    shop_id = new_shop(engine, jpeg(400, 300, color="blue"), png(64, 64))
    assert logo_column(engine, shop_id) is None
    before = placeholder_computations()
    with Session(engine) as session:
        shop = session.get_one(Shop, shop_id)
        first = shop.logo.placeholder()
        assert shop.logo.placeholder() == first
        assert placeholder_computations() == before + 1
        assert shop.logo.require_original().placeholder == first.to_text()
        session.commit()
    assert logo_column(engine, shop_id) == first.to_text()
    assert (first.width, first.height) == (100, 75)
    # Another process: no cache, the row has it.
    placeholder_cache.clear()
    with Session(engine) as session:
        assert session.get_one(Shop, shop_id).logo.placeholder() == first
    assert placeholder_computations() == before + 1


def test_a_read_only_session_loses_the_column_but_not_the_cache(
    engine_with_tables: Engine, store: FileSystemStore
) -> None:
    engine = engine_with_tables
    shop_id = new_shop(engine, jpeg(400, 300), png(64, 64))
    before = placeholder_computations()
    with Session(engine) as session:
        first = session.get_one(Shop, shop_id).logo.placeholder()
        session.rollback()
    assert logo_column(engine, shop_id) is None
    with Session(engine) as session:
        logo = session.get_one(Shop, shop_id).logo
        assert logo.placeholder(save=False) == first
        assert not session.dirty
    assert placeholder_computations() == before + 1


def test_without_the_column_the_process_cache_keeps_it(
    engine_with_tables: Engine, store: FileSystemStore
) -> None:
    engine = engine_with_tables
    shop_id = new_shop(engine, png(64, 64), jpeg(300, 400, color="green"))
    before = placeholder_computations()
    with Session(engine) as session:
        first = session.get_one(Shop, shop_id).banner.placeholder()
    with Session(engine) as session:
        assert session.get_one(Shop, shop_id).banner.placeholder() == first
    assert placeholder_computations() == before + 1
    assert (first.width, first.height) == (75, 100)
    placeholder_cache.clear()
    with Session(engine) as session:
        assert session.get_one(Shop, shop_id).banner.placeholder() == first
    assert placeholder_computations() == before + 2


@pytest.mark.parametrize("attribute", ["logo", "banner"])
def test_a_new_original_has_a_new_placeholder(
    engine_with_tables: Engine, store: FileSystemStore, attribute: str
) -> None:
    engine = engine_with_tables
    shop_id = new_shop(engine, png(200, 100, color="red"), png(200, 100, color="red"))
    with Session(engine) as session:
        image_set = getattr(session.get_one(Shop, shop_id), attribute)
        red = image_set.placeholder()
        session.commit()
        before = placeholder_computations()
        image_set.from_blob(png(200, 100, color="blue"))
        session.commit()
        blue = image_set.placeholder()
        assert placeholder_computations() == before + 1
        session.commit()
    assert blue != red
    assert red.average_rgba[0] > red.average_rgba[2]
    assert blue.average_rgba[2] > blue.average_rgba[0]


def test_a_pending_original_is_read_from_its_pending_data(
    engine_with_tables: Engine, store: FileSystemStore
) -> None:
    with Session(engine_with_tables) as session:
        shop = Shop()
        session.add(shop)
        shop.logo.from_blob(jpeg(400, 300))
        computed = shop.logo.placeholder()
        session.commit()
        shop_id = shop.id
    assert logo_column(engine_with_tables, shop_id) == computed.to_text()


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (lambda: case("png_flood_20000x20000").data, ImageTooLargeError),
        (lambda: case("gif_100000_frames").data, ImageTooLargeError),
        (corrupt_jpeg, ImageError),
        (not_an_image, ImageError),
    ],
    ids=["decompression-bomb", "gif-frames", "truncated", "text"],
)
def test_a_hostile_original_gets_the_documented_error_and_nothing_is_kept(
    engine_with_tables: Engine,
    store: FileSystemStore,
    source: Callable[[], bytes],
    error: type[Exception],
) -> None:
    bomb = source()
    with Session(engine_with_tables) as session:
        shop = Shop()
        session.add(shop)
        # Its size and type given, so nothing reads it when it is attached.
        for image_set in (shop.logo, shop.banner):
            image_set.from_raw_file(io.BytesIO(bomb), size=(640, 480), mimetype="image/png")
        session.commit()
        before = placeholder_computations()
        for image_set in (shop.logo, shop.banner):
            with pytest.raises(error):
                image_set.placeholder()
            with pytest.raises(error):
                image_set.img(100, placeholder=True)
        assert shop.logo.require_original().placeholder is None
        assert not session.dirty
    assert placeholder_computations() == before
    assert len(placeholder_cache) == 0


def test_a_damaged_column_is_an_error(engine_with_tables: Engine, store: FileSystemStore) -> None:
    shop_id = new_shop(engine_with_tables, jpeg(40, 30), jpeg(40, 30))
    with Session(engine_with_tables) as session:
        shop = session.get_one(Shop, shop_id)
        shop.logo.require_original().placeholder = "thumbhash:100x75:garbage"
        with pytest.raises(ArgumentError):
            shop.logo.placeholder()


def test_no_original(engine_with_tables: Engine, store: FileSystemStore) -> None:
    with pytest.raises(NoOriginalImageError):
        Shop().logo.placeholder()


def test_on_s3_it_is_the_same_placeholder(
    engine_with_tables: Engine, tmp_path: Path, moto_server: MotoServer
) -> None:
    data = jpeg(400, 300, color="purple")
    s3 = S3Store(moto_server.new_bucket(), **s3_options(moto_server.url))
    fs = FileSystemStore(tmp_path / "fs", "http://static.example.com/")
    found: list[Placeholder] = []
    for store in (s3, fs):
        placeholder_cache.clear()
        with store_context(store):
            shop_id = new_shop(engine_with_tables, data, data)
            with Session(engine_with_tables) as session:
                shop = session.get_one(Shop, shop_id)
                found += [shop.logo.placeholder(), shop.banner.placeholder()]
                session.commit()
            assert logo_column(engine_with_tables, shop_id) == found[-2].to_text()
    assert len(set(found)) == 1


def test_the_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    cache = PlaceholderCache(maxsize=2)
    values = [Placeholder.from_rgba(1, 1, bytes([n, 0, 0, 255])) for n in (0, 128, 255)]
    cache.put("a", values[0])
    cache.put("b", values[1])
    assert cache.get("a") == values[0]  # now the most recently used
    cache.put("c", values[2])
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") == values[0] and cache.get("c") == values[2]
