"""Image entities: the mixin, both declarative styles, attaching images, bad input."""

from __future__ import annotations

import io
import re
import sys
import tracemalloc
import types
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
    pixels,
    sessions,
    stored,
)
from images import corrupt_jpeg, huge_png_header, jpeg, large_jpeg, not_an_image, png
from sqlalchemy import Column, DateTime, Engine, Integer, String, create_engine, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, declarative_base, sessionmaker

from imageattach.context import store_context
from imageattach.entity import VECTOR_TYPES, Image, MultipleImageSet, SingleImageSet
from imageattach.exceptions import (
    ContextError,
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from imageattach.sizing import VECTOR_TYPES as SIZING_VECTOR_TYPES
from imageattach.stores.fs import FileSystemStore


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


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


# -- the documentation ----------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "entities.md"


def documented(*markers: str) -> str:
    """The Python blocks of docs/entities.md that contain one of ``markers``."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    return "\n".join(block for block in blocks if any(m in block for m in markers))


def test_documented_declarations_work(tmp_path: Path, fs_store: FileSystemStore) -> None:
    """The model code of docs/entities.md, run as written (on a private
    SQLite file: its table names are generic)."""
    module = types.ModuleType("documented_models")
    sys.modules[module.__name__] = module
    try:
        exec(documented("class Base(DeclarativeBase)", "class Post(Base)"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    engine = create_engine(f"sqlite:///{tmp_path / 'docs.sqlite'}")
    User, Post = module.__dict__["User"], module.__dict__["Post"]
    module.__dict__["Base"].metadata.create_all(engine)
    with Session(engine) as session, store_context(fs_store):
        user, post = User(), Post()
        user.picture.from_blob(png(20, 10))
        post.photos.get_image_set(order_index=1).from_blob(jpeg(40, 30))
        post.photos.get_image_set(order_index=2).from_blob(png(8, 8))
        session.add_all([user, post])
        session.commit()
        assert user.picture.find_thumbnail(width=20).object_type == "user-picture"
        assert sorted(s.original.object_id for s in post.photos.image_sets) == [101, 102]
    engine.dispose()


def test_documented_bulk_delete_recipe_deletes_rows_and_files(
    tmp_path: Path, fs_store: FileSystemStore
) -> None:
    module = types.ModuleType("documented_bulk_models")
    sys.modules[module.__name__] = module
    try:
        exec(documented("class Base(DeclarativeBase)"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    namespace: dict[str, Any] = module.__dict__
    engine = create_engine(f"sqlite:///{tmp_path / 'docs.sqlite'}")
    namespace["Base"].metadata.create_all(engine)
    User = namespace["User"]
    with Session(engine) as session, store_context(fs_store):
        for user_id in (1, 1001, 1002):
            user = User(id=user_id)
            user.picture.from_blob(png(8, 8))
            session.add(user)
        session.commit()
    assert len(stored(fs_store)) == 3
    namespace.update(engine=engine, store=fs_store, Session=Session, store_context=store_context)
    exec(documented("for picture in session.scalars("), namespace)
    assert [path.split("/")[-1] for path in stored(fs_store)] == ["1.8x8.png"]
    engine.dispose()
