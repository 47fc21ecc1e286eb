"""Image entities: the mixin, image sets, thumbnails, URLs and HTML."""

from __future__ import annotations

import io
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from entity_models import (
    Document,
    DocumentScan,
    Manything,
    ManythingCover,
    Something,
    SomethingCover,
    User,
    UserPicture,
    path,
    sessions,
    stored,
)
from images import (
    animated_gif,
    corrupt_jpeg,
    huge_png_header,
    jpeg,
    large_jpeg,
    not_an_image,
    png,
    svg,
)
from sqlalchemy import Column, DateTime, Engine, ForeignKey, Integer, String, inspect, select
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session, declarative_base, sessionmaker

from imageattach.context import store_context
from imageattach.entity import (
    VECTOR_TYPES,
    Image,
    ImageSubset,
    MultipleImageSet,
    SingleImageSet,
    image_attachment,
)
from imageattach.exceptions import (
    ContextError,
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    NoOriginalImageError,
    UnsupportedImageError,
)
from imageattach.sizing import VECTOR_TYPES as SIZING_VECTOR_TYPES
from imageattach.stores.fs import FileSystemStore


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


def pixels(data: bytes) -> tuple[int, int]:
    from wand.image import Image as WandImage

    with WandImage(blob=data) as image:
        return image.width, image.height


# -- the mixin -------------------------------------------------------------------


def test_mixin_columns_are_the_seeds() -> None:
    table = SomethingCover.__table__
    assert [c.name for c in table.primary_key] == ["something_id", "width", "height"]
    assert table.c.mimetype.type.length == 255
    assert not table.c.mimetype.nullable
    assert not table.c.original.nullable
    assert isinstance(table.c.created_at.type, DateTime)
    assert table.c.created_at.type.timezone


def test_object_type_defaults_to_table_name_with_hyphens() -> None:
    assert SomethingCover.object_type == "ia-something-cover"
    assert SomethingCover(something_id=1).object_type == "ia-something-cover"
    assert UserPicture.object_type == "ia-user-picture"


def test_object_type_can_be_overridden() -> None:
    Base = declarative_base()

    class Named(Base, Image):  # type: ignore[valid-type,misc]
        __tablename__ = "ia_named"
        id = Column(Integer, primary_key=True)
        object_type = "custom"

    assert Named(id=1).object_type == "custom"


def test_object_id_is_the_integer_primary_key() -> None:
    assert SomethingCover(something_id=12345).object_id == 12345


def test_object_id_of_a_uuid_primary_key_is_its_integer() -> None:
    key = uuid.uuid4()
    assert DocumentScan(document_id=key).object_id == key.int


def test_object_id_can_be_overridden() -> None:
    assert ManythingCover(manything_id=3, cover_id=2).object_id == 3002


@pytest.mark.parametrize("kind", ["string", "composite"])
def test_object_id_needs_implementing_for_other_keys(kind: str) -> None:
    Base = declarative_base()

    class StringKey(Base, Image):  # type: ignore[valid-type,misc]
        __tablename__ = "ia_string_key"
        id = Column(String(10), primary_key=True)

    class CompositeKey(Base, Image):  # type: ignore[valid-type,misc]
        __tablename__ = "ia_composite_key"
        a = Column(Integer, primary_key=True)
        b = Column(Integer, primary_key=True)

    image = StringKey(id="x") if kind == "string" else CompositeKey(a=1, b=2)
    with pytest.raises(NotImplementedError, match="object_id"):
        image.object_id  # noqa: B018


def test_identity_attributes_and_map() -> None:
    assert SomethingCover.identity_attributes() == ["something_id"]
    assert ManythingCover.identity_attributes() == ["manything_id", "cover_id"]
    cover = ManythingCover(manything_id=1, cover_id=2, width=3, height=4)
    assert cover.identity_map == {"manything_id": 1, "cover_id": 2}


def test_size_hybrid(factory: sessionmaker[Session], fs_store: FileSystemStore) -> None:
    image = SomethingCover(width=3, height=4)
    assert image.size == (3, 4)
    image.size = (5, 6)
    assert (image.width, image.height) == (5, 6)
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(png(40, 30))
        thing.cover.generate_thumbnail(width=20)
        session.add(thing)
        session.commit()
        sizes = session.scalars(
            select(SomethingCover.width).where(SomethingCover.size == (20, 15))
        ).all()
        assert sizes == [20]


def test_image_columns_compile_in_queries(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        for column in (Image.width, Image.height, Image.mimetype, Image.original):
            session.scalars(select(SomethingCover).order_by(column)).all()
        session.scalars(select(SomethingCover).order_by(SomethingCover.created_at)).all()


def test_vector_types_reexported() -> None:
    assert VECTOR_TYPES is SIZING_VECTOR_TYPES
    assert "image/svg+xml" in VECTOR_TYPES


# -- attaching ----------------------------------------------------------------------


def test_from_blob_stores_the_file_when_committed(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    data = jpeg(40, 30)
    with factory() as session, store_context(fs_store):
        thing = Something()
        image = thing.cover.from_blob(data)
        assert thing.cover.original is image
        assert (image.width, image.height, image.mimetype) == (40, 30, "image/jpeg")
        assert image.original
        assert image.make_blob() == data  # not stored yet: read from memory
        assert stored(fs_store) == set()
        session.add(thing)
        session.commit()
        assert stored(fs_store) == {f"ia-something-cover/{thing.id}/0/{thing.id}.40x30.jpe"}
        assert thing.cover.count() == 1
        assert thing.cover.original is image
        assert thing.cover.make_blob() == data
        with thing.cover.open_file() as f:
            assert f.read() == data


def test_from_file_copies_the_upload_so_it_can_be_closed_before_commit(
    factory: sessionmaker[Session], fs_store: FileSystemStore, tmp_path: Path
) -> None:
    data = png(30, 20)
    path = tmp_path / "upload.png"
    path.write_bytes(data)
    with factory() as session, store_context(fs_store):
        thing = Something()
        with path.open("rb") as upload:
            thing.cover.from_file(upload)
        session.add(thing)
        session.commit()
        assert thing.cover.make_blob() == data


def test_from_file_accepts_non_seekable_readers(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    data = png(30, 20)

    class Reader:
        def __init__(self) -> None:
            self.stream = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self.stream.read(size)

    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_file(Reader())  # type: ignore[arg-type]
        session.add(thing)
        session.commit()
        assert thing.cover.make_blob() == data


def test_from_file_takes_a_starlette_upload(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    from starlette.datastructures import UploadFile

    data = png(30, 20)
    upload = UploadFile(io.BytesIO(data), filename="picture.png")
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_file(upload)  # type: ignore[arg-type]
        session.add(thing)
        session.commit()
        assert thing.cover.make_blob() == data
    with pytest.raises(TypeError, match="readable"):
        Something().cover.from_file(b"bytes", store=fs_store)  # type: ignore[arg-type]


def test_from_raw_file_reads_the_file_from_where_it_was(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    data = png(30, 20)
    raw = io.BytesIO(b"header" + data)
    raw.seek(6)
    with factory() as session:
        thing = Something()
        image = thing.cover.from_raw_file(raw, fs_store)
        assert image.size == (30, 20)
        raw.seek(0)  # the file is read again when the row is flushed
        session.add(thing)
        session.commit()
        assert thing.cover.make_blob(fs_store) == data


def test_from_raw_file_with_size_and_mimetype_does_not_read_the_header(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session:
        thing = Something()
        image = thing.cover.from_raw_file(
            io.BytesIO(b"opaque"), fs_store, size=(7, 8), mimetype="image/x-png"
        )
        assert (image.size, image.mimetype) == ((7, 8), "image/png")
        session.add(thing)
        session.commit()
        assert thing.cover.make_blob(fs_store) == b"opaque"


def test_extra_kwargs_go_to_the_constructor(fs_store: FileSystemStore) -> None:
    thing = Manything()
    image = thing.covers.get_image_set(cover_id=1).from_blob(
        png(4, 4), fs_store, extra_kwargs={"cover_id": 99}
    )
    assert image.cover_id == 1  # the image set's identity wins, as in the seed


def test_modern_declarative_style(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        user = User()
        assert isinstance(user.picture, SingleImageSet)
        assert isinstance(user.photos, MultipleImageSet)
        user.picture.from_blob(png(20, 10))
        user.picture.generate_thumbnail(height=5)
        session.add(user)
        session.commit()
        picture = user.picture.find_thumbnail(height=5)
        assert isinstance(picture, UserPicture)
        assert picture.size == (10, 5)
        assert sorted(image.size for image in user.picture) == [(10, 5), (20, 10)]
        assert stored(fs_store) == {
            f"ia-user-picture/{user.id}/0/{user.id}.20x10.png",
            f"ia-user-picture/{user.id}/0/{user.id}.10x5.png",
        }


def test_uuid_keyed_images_are_stored_under_the_uuid_integer(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        document = Document()
        document.scan.from_blob(png(8, 8))
        session.add(document)
        session.commit()
        number = document.id.int
        assert stored(fs_store) == {
            f"ia-document-scan/{number % 1000}/{number // 1000}/{number}.8x8.png"
        }


def test_regression_commit_outside_the_store_context(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """The seed kept the current_store proxy on pending images, so a commit
    after the ``with store_context()`` block failed."""
    with factory() as session:
        with store_context(fs_store):
            thing = Something()
            thing.cover.from_blob(png(10, 10))
            thing.cover.generate_thumbnail(width=5)
            session.add(thing)
        session.commit()
        assert len(stored(fs_store)) == 2


def test_attaching_without_a_store_fails_early() -> None:
    with pytest.raises(ContextError, match="store_context"):
        Something().cover.from_blob(png(10, 10))


def test_replacing_the_original_removes_the_sets_images(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """Seed issue 13: a new original clears the old thumbnails, even of the same sizes."""
    with factory() as session, store_context(fs_store):
        thing = Something()
        thing.cover.from_blob(jpeg(40, 30, color="red"))
        old = thing.cover.generate_thumbnail(width=20).make_blob()
        session.add(thing)
        session.commit()
        thing.cover.from_blob(jpeg(40, 30, color="blue"))
        with pytest.raises(NoResultFound):
            thing.cover.find_thumbnail(width=20)
        new = thing.cover.generate_thumbnail(width=20).make_blob()
        session.commit()
        assert thing.cover.count() == 2
        assert thing.cover.find_thumbnail(width=20).make_blob() == new != old


def test_from_file_of_a_large_upload_holds_at_most_one_copy_in_memory(
    factory: sessionmaker[Session], fs_store: FileSystemStore, tmp_path: Path
) -> None:
    """The upload is spooled to a temporary file and streamed into the store;
    the one copy allowed is the header probe's (it reads the whole file)."""
    upload = tmp_path / "photo.jpg"
    upload.write_bytes(large_jpeg())
    size = upload.stat().st_size
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        session.commit()
        tracemalloc.start()
        try:
            with upload.open("rb") as f:
                thing.cover.from_file(f)
            session.commit()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert thing.cover.original is not None
        assert thing.cover.original.size == (4000, 3000)
    assert size > 4_000_000
    assert peak < 1.3 * size


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (corrupt_jpeg, CorruptImageError),
        (not_an_image, CorruptImageError),
        (huge_png_header, ImageTooLargeError),
        (lambda: b"GIF89a" + b"\x00" * 4, ImageError),
    ],
    ids=["corrupt", "text", "huge", "truncated-gif"],
)
def test_bad_upload_raises_and_stores_nothing(
    factory: sessionmaker[Session], fs_store: FileSystemStore, payload: Any, error: type
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        session.commit()
        thing.cover.from_blob(png(10, 10))
        session.commit()
        before = stored(fs_store)
        with pytest.raises(error):
            thing.cover.from_file(io.BytesIO(payload()))
        with pytest.raises(error):
            thing.cover.from_blob(payload())
        session.commit()
        assert stored(fs_store) == before
        assert thing.cover.count() == 1
        assert thing.cover.original is not None
        assert thing.cover.original.size == (10, 10)


def test_unsupported_format_raises_unsupported_image_error(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    portable_pixmap = b"P6\n2 2\n255\n" + b"\xff\x00\x00" * 4
    with store_context(fs_store), pytest.raises(UnsupportedImageError):
        Something().cover.from_blob(portable_pixmap)
    assert stored(fs_store) == set()


def test_regression_exif_orientation_recorded_as_displayed(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    """A 400x300 JPEG stored sideways (EXIF Orientation=6) is a 300x400 picture."""
    with factory() as session, store_context(fs_store):
        thing = Something()
        image = thing.cover.from_blob(jpeg(400, 300, orientation=6))
        assert image.size == (300, 400)
        thumbnail = thing.cover.generate_thumbnail(width=150)
        assert thumbnail.size == (150, 200)
        session.add(thing)
        session.commit()
        assert pixels(thumbnail.make_blob()) == (150, 200)
        assert 'width="300" height="400"' in thing.cover.__html__()


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
        with pytest.raises(ValueError):
            thing.cover.locate(ratio=-1)
        with pytest.raises(TypeError):
            thing.cover.locate(width=10, height=10)
        assert len(store.calls) == 3
        assert thing.cover.generate_thumbnail(width=150) is not None  # no rows were made
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
