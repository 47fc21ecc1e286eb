"""Image sets: generate_thumbnail() and find_thumbnail()."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from entity_models import Something, pixels, sessions
from images import animated_gif, jpeg, png, svg
from sqlalchemy import Engine
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session, sessionmaker

from imageattach.context import store_context
from imageattach.exceptions import NoOriginalImageError
from imageattach.stores.fs import FileSystemStore


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


# -- thumbnails ---------------------------------------------------------------------


def test_generate_thumbnail_by_width_height_and_ratio(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(400, 300))
        by_width = thing.cover.generate_thumbnail(width=100)
        by_height = thing.cover.generate_thumbnail(height=60)
        double = thing.cover.generate_thumbnail(ratio=2)
        session.add(thing)
        session.commit()
        assert by_width.size == (100, 75)
        assert by_height.size == (80, 60)
        assert double.size == (800, 600)
        for image in (by_width, by_height, double):
            assert not image.original
            assert image.mimetype == "image/jpeg"
            assert pixels(image.make_blob()) == image.size
        assert thing.cover.count() == 4


def test_regression_thumbnail_sizes_rounded_not_truncated(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """400x300 at width 150 is 150x112.5: the seed made 150x112."""
    with store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(400, 300))
        assert thing.cover.generate_thumbnail(width=150).size == (150, 113)
        assert thing.cover.generate_thumbnail(ratio=0.333).size == (133, 100)


@pytest.mark.parametrize("ratio", [0, -0.5, float("nan"), float("inf")])
def test_regression_ratio_must_be_positive(fs_store: FileSystemStore, ratio: float) -> None:
    with store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(40, 30))
        with pytest.raises(ValueError, match="ratio"):
            thing.cover.generate_thumbnail(ratio=ratio)
        assert thing.cover.count() == 1


def test_generate_thumbnail_argument_errors(fs_store: FileSystemStore) -> None:
    with store_context(fs_store):
        thing = Something()
        with pytest.raises(NoOriginalImageError):
            thing.cover.generate_thumbnail(width=10)
        with pytest.raises(OSError):  # the seed raised IOError
            thing.cover.generate_thumbnail(width=10)
        thing.cover.from_blob(png(40, 30))
        with pytest.raises(TypeError):
            thing.cover.generate_thumbnail()
        with pytest.raises(TypeError):
            thing.cover.generate_thumbnail(width=10, height=10)
        with pytest.raises(ValueError):
            thing.cover.generate_thumbnail(width=0)


def test_generate_thumbnail_returns_the_existing_size(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        original = thing.cover.from_blob(jpeg(400, 300))
        half = thing.cover.generate_thumbnail(ratio=0.5)
        assert thing.cover.generate_thumbnail(width=200) is half
        assert thing.cover.generate_thumbnail(height=150) is half
        assert thing.cover.generate_thumbnail(width=400) is original
        session.add(thing)
        session.commit()
        assert thing.cover.generate_thumbnail(ratio=0.5) is half
        assert thing.cover.count() == 2


def test_generate_thumbnail_accepts_a_seed_made_thumbnail_of_that_width(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """The seed truncated 400x300 at width 150 to 150x112; asking for width
    150 again returns that thumbnail rather than adding a 150x113 one."""
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(400, 300))
        seed_made = thing.cover.from_raw_file(
            io.BytesIO(jpeg(150, 112)), size=(150, 112), mimetype="image/jpeg", original=False
        )
        session.add(thing)
        session.commit()
        assert thing.cover.generate_thumbnail(width=150) is seed_made


def test_thumbnail_of_a_vector_image_is_png(fs_store: FileSystemStore) -> None:
    with store_context(fs_store):
        thing = Something()
        original = thing.cover.from_blob(svg(200, 100))
        assert original.mimetype == "image/svg+xml"
        thumbnail = thing.cover.generate_thumbnail(width=50)
        assert (thumbnail.mimetype, thumbnail.size) == ("image/png", (50, 25))
        assert pixels(thumbnail.make_blob()) == (50, 25)


def test_thumbnail_of_an_animation_is_its_first_frame(fs_store: FileSystemStore) -> None:
    with store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(animated_gif(frames=3, width=40, height=30))
        thumbnail = thing.cover.generate_thumbnail(width=20)
        from wand.image import Image as WandImage

        with WandImage(blob=thumbnail.make_blob()) as image:
            assert len(image.sequence) == 1
            assert image.size == (20, 15)


def test_find_thumbnail(factory: sessionmaker[Session], fs_store: FileSystemStore) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(400, 300))
        small = thing.cover.generate_thumbnail(width=100)
        session.add(thing)
        session.commit()
        assert thing.cover.find_thumbnail(width=100) is small
        assert thing.cover.find_thumbnail(height=75) is small
        assert thing.cover.find_thumbnail(100, 75) is small
        assert thing.cover.find_thumbnail(width=400) is thing.cover.original
        with pytest.raises(NoResultFound):
            thing.cover.find_thumbnail(width=270)
        with pytest.raises(NoResultFound):
            thing.cover.find_thumbnail(100, 76)
        with pytest.raises(TypeError):
            thing.cover.find_thumbnail()


def test_find_thumbnail_reports_ambiguity(fs_store: FileSystemStore) -> None:
    with store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(400, 300))
        for height in (112, 113):
            thing.cover.from_raw_file(
                io.BytesIO(b"x"), size=(150, height), mimetype="image/jpeg", original=False
            )
        with pytest.raises(MultipleResultsFound):
            thing.cover.find_thumbnail(width=150)
