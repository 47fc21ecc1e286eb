"""Image sets: the original, bool(), URLs, HTML, and multiple image sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from entity_models import Manything, Something, path, pixels, sessions, stored
from images import jpeg, png
from sqlalchemy import Column, Engine, ForeignKey, Integer, inspect
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, declarative_base, sessionmaker

from imageattach.context import store_context
from imageattach.entity import Image, ImageSubset, SingleImageSet, image_attachment
from imageattach.exceptions import NoOriginalImageError
from imageattach.stores.fs import FileSystemStore


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


# -- the original, bool, URLs and HTML ------------------------------------------


def test_regression_bool_is_false_without_an_original(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        assert not thing.cover
        assert thing.cover.original is None
        session.add(thing)
        session.commit()
        assert not thing.cover
        thing.cover.from_blob(png(4, 4))
        assert thing.cover
        session.commit()
        assert thing.cover


def test_regression_transient_parent_does_not_see_other_images(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """The seed answered ``original`` of a parent outside any session from a
    process-global set, so it saw images attached to other parents."""
    with factory() as session, store_context(fs_store):
        first = Something()
        image = first.cover.from_blob(png(4, 4))
        session.add(first)
        session.flush()
        second = Something()
        assert second.cover.original is None
        assert not second.cover
        assert list(second.cover) == []
        assert first.cover.original is image
        session.commit()
        assert Something().cover.original is None


def test_require_original(fs_store: FileSystemStore) -> None:
    with store_context(fs_store):
        thing = Something()
        with pytest.raises(NoOriginalImageError, match="no original"):
            thing.cover.require_original()
        image = thing.cover.from_blob(png(4, 4))
        assert thing.cover.require_original() is image


def test_locate_the_original(factory: sessionmaker[Session], fs_store: FileSystemStore) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        image = thing.cover.from_blob(png(4, 4))
        session.add(thing)
        session.commit()
        url = thing.cover.locate()
        assert url.startswith(
            f"http://static.example.com/ia-something-cover/{thing.id}/0/{thing.id}.4x4.png?_ts="
        )
        assert url == image.locate() == fs_store.locate(image)
        other = FileSystemStore(fs_store.path, "https://cdn.example.com/")
        assert thing.cover.locate(other).startswith("https://cdn.example.com/")


def test_locate_uses_the_concrete_stores_own_locate(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """Through the current_store proxy, a store's override of locate() (e.g.
    presigned S3 URLs) is the one called, not the generic Store.locate()."""

    class Presigning(FileSystemStore):
        def locate(self, image: Image) -> str:
            return f"https://signed.example.com/{image.object_id}?signature=abc"

    store = Presigning(fs_store.path, "http://static.example.com/")
    with factory() as session, store_context(store):
        thing = Something()
        image = thing.cover.from_blob(png(4, 4))
        session.add(thing)
        session.commit()
        expected = f"https://signed.example.com/{thing.id}?signature=abc"
        assert image.locate() == thing.cover.locate() == expected
        assert f'src="{expected}"' in thing.cover.__html__()


def test_locate_before_flush_explains(fs_store: FileSystemStore) -> None:
    with store_context(fs_store):
        image = Something().cover.from_blob(png(4, 4))
        with pytest.raises(ValueError, match="flush"):
            image.locate()


class RecordingStore(FileSystemStore):
    """A filesystem store that makes on-demand URLs of its own."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "http://static.example.com/")
        self.calls: list[tuple[Image, int, int]] = []

    def locate_resized(self, image: Image, width: int, height: int) -> str:
        self.calls.append((image, width, height))
        return f"http://resize.example.com/{width}x{height}?a=1&b=<2>"


def test_locate_a_size_asks_the_store_for_an_on_demand_url(fs_store: FileSystemStore) -> None:
    store = RecordingStore(fs_store.path)
    with store_context(store):
        thing = Something()
        original = thing.cover.from_blob(jpeg(400, 300))
        assert thing.cover.locate(width=150) == "http://resize.example.com/150x113?a=1&b=<2>"
        assert thing.cover.locate(height=100) == "http://resize.example.com/133x100?a=1&b=<2>"
        assert thing.cover.locate(store, ratio=0.5).startswith("http://resize.example.com/200x150")
        assert store.calls == [(original, 150, 113), (original, 133, 100), (original, 200, 150)]
        assert thing.cover.count() == 1  # locating a size makes no row
        with pytest.raises(ValueError):
            thing.cover.locate(ratio=-1)
        with pytest.raises(TypeError):
            thing.cover.locate(width=10, height=10)
        assert len(store.calls) == 3
        thing.cover.generate_thumbnail(width=150)
        assert thing.cover.count() == 2


def test_locate_a_size_needs_an_on_demand_store(fs_store: FileSystemStore) -> None:
    with store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(40, 30))
        with pytest.raises(NotImplementedError, match="cannot make thumbnails on demand"):
            thing.cover.locate(width=10)


def test_regression_html_escapes_the_url(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """The seed's __html__ called the removed cgi.escape and left quotes as they were."""
    store = FileSystemStore(fs_store.path, 'http://static.example.com/a"b&c<d>/')
    with factory() as session, store_context(store):
        thing = Something()
        session.add(thing)
        assert thing.cover.__html__() == ""
        image = thing.cover.from_blob(jpeg(400, 300, orientation=6))
        session.commit()
        html = thing.cover.__html__()
        assert html.startswith('<img src="http://static.example.com/a&quot;b&amp;c&lt;d&gt;/')
        assert html.endswith('" width="300" height="400">')
        assert '"b&c' not in html
        assert image.__html__() == html
        thumbnail = thing.cover.generate_thumbnail(width=30)
        session.commit()
        assert thumbnail.__html__().endswith('width="30" height="40">')


def test_html_in_a_jinja_template(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    jinja2 = pytest.importorskip("jinja2")
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(4, 2))
        session.add(thing)
        session.commit()
        rendered = (
            jinja2.Environment(autoescape=True).from_string("{{ cover }}").render(cover=thing.cover)
        )
    assert rendered.startswith('<img src="http://static.example.com/')
    assert rendered.endswith('width="4" height="2">')


def test_open_file_with_use_seek(factory: sessionmaker[Session], fs_store: FileSystemStore) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(4, 4))
        session.add(thing)
        session.commit()
        with thing.cover.open_file(use_seek=True) as f:
            first = f.read()
            f.seek(0)
            assert f.read() == first


def test_store_argument_must_be_a_store(fs_store: FileSystemStore) -> None:
    with store_context(fs_store):
        thing = Something()
        image = thing.cover.from_blob(png(4, 4))
    with pytest.raises(TypeError, match="Store"):
        image.locate("not a store")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Store"):
        thing.cover.from_blob(png(4, 4), store=object())  # type: ignore[arg-type]


# -- multiple image sets --------------------------------------------------------------


def test_multiple_image_sets(factory: sessionmaker[Session], fs_store: FileSystemStore) -> None:
    with factory() as session, store_context(fs_store):
        thing = Manything()
        assert not thing.covers
        first = thing.covers.get_image_set(cover_id=1)
        assert isinstance(first, ImageSubset)
        first.from_blob(jpeg(40, 30, color="red"))
        first.generate_thumbnail(width=20)
        second = thing.covers.get_image_set(cover_id=2)
        second.from_blob(png(60, 30, color="blue"))
        session.add(thing)
        session.commit()
        assert thing.covers
        assert thing.covers.count() == 3
        assert (first.count(), second.count()) == (2, 1)
        sets = sorted(thing.covers.image_sets, key=lambda s: s.identity_map["cover_id"])
        assert [s.identity_map["cover_id"] for s in sets] == [1, 2]
        assert sets[1].original is second.original
        assert second.original is not None and second.original.mimetype == "image/png"
        assert stored(fs_store) == {
            path("ia-manything-cover", thing.id * 1000 + 1, "40x30.jpe"),
            path("ia-manything-cover", thing.id * 1000 + 1, "20x15.jpe"),
            path("ia-manything-cover", thing.id * 1000 + 2, "60x30.png"),
        }
        # replacing one set's original leaves the other set alone
        first.from_blob(png(10, 10))
        session.commit()
        assert (first.count(), second.count()) == (1, 1)


def test_regression_subset_find_thumbnail(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """The seed's ImageSubset.find_thumbnail crashed (it called Query methods
    an ImageSubset does not have)."""
    with factory() as session, store_context(fs_store):
        thing = Manything()
        subset = thing.covers.get_image_set(cover_id=1)
        subset.from_blob(jpeg(40, 30))
        small = subset.generate_thumbnail(width=20)
        assert subset.find_thumbnail(width=20) is small
        session.add(thing)
        session.commit()
        assert subset.find_thumbnail(height=15) is small
        with pytest.raises(NoResultFound):
            thing.covers.get_image_set(cover_id=2).find_thumbnail(width=20)


def test_regression_subset_generate_thumbnail_not_other_subsets(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """Upstream issue 44: generate_thumbnail on one subset returned another
    subset's thumbnail of the same width."""
    with factory() as session, store_context(fs_store):
        thing = Manything()
        first = thing.covers.get_image_set(cover_id=1)
        first.from_blob(jpeg(40, 30, color="red"))
        first_small = first.generate_thumbnail(width=20)
        second = thing.covers.get_image_set(cover_id=2)
        second.from_blob(jpeg(40, 20, color="blue"))
        second_small = second.generate_thumbnail(width=20)
        assert second_small is not first_small
        assert (second_small.cover_id, second_small.size) == (2, (20, 10))
        session.add(thing)
        session.commit()
        assert second.generate_thumbnail(width=20) is second_small
        assert first.find_thumbnail(width=20) is first_small
        assert pixels(second_small.make_blob()) == (20, 10)


def test_get_image_set_rejects_unknown_keys() -> None:
    with pytest.raises(TypeError, match="colour"):
        Manything().covers.get_image_set(colour=1)


def test_image_attachment_keeps_relationship_options() -> None:
    Base = declarative_base()

    class Owner(Base):  # type: ignore[valid-type,misc]
        __tablename__ = "ia_owner"
        id = Column(Integer, primary_key=True)
        pictures = image_attachment("OwnerPicture", order_by="OwnerPicture.width")

    class OwnerPicture(Base, Image):  # type: ignore[valid-type,misc]
        __tablename__ = "ia_owner_picture"
        owner_id = Column(Integer, ForeignKey(Owner.id), primary_key=True)

    prop = inspect(Owner).relationships["pictures"]
    assert prop.lazy == "dynamic"
    assert prop.uselist
    assert "delete-orphan" in prop.cascade
    assert [c.name for c in prop.order_by] == ["width"]
    assert isinstance(Owner().pictures, SingleImageSet)
