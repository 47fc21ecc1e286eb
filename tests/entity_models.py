"""Image entities shared by the entity, transaction and migration tests.

``Legacy`` is a ``declarative_base()`` with ``Column`` attributes, as seed
users wrote them; ``Modern`` a 2.0 ``DeclarativeBase`` with ``Mapped[]``.
Table names start with ``ia_`` so that they stay clear of other tests' tables
in the shared PostgreSQL and MariaDB databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Column, Engine, ForeignKey, Integer, String, Uuid, event
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declarative_base,
    mapped_column,
    relationship,
    sessionmaker,
)
from storefiles import image_files

from imageattach.entity import Image, MultipleImageSet, SingleImageSet, image_attachment
from imageattach.stores.fs import FileSystemStore

Legacy = declarative_base()


class Something(Legacy):  # type: ignore[valid-type,misc]
    __tablename__ = "ia_something"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, default="")
    cover = image_attachment("SomethingCover", back_populates="something")


class SomethingCover(Legacy, Image):  # type: ignore[valid-type,misc]
    __tablename__ = "ia_something_cover"

    something_id = Column(Integer, ForeignKey(Something.id), primary_key=True)
    something = relationship(Something, back_populates="cover")


class Manything(Legacy):  # type: ignore[valid-type,misc]
    __tablename__ = "ia_manything"

    id = Column(Integer, primary_key=True)
    covers = image_attachment("ManythingCover", uselist=True, back_populates="manything")


class ManythingCover(Legacy, Image):  # type: ignore[valid-type,misc]
    __tablename__ = "ia_manything_cover"

    manything_id = Column(Integer, ForeignKey(Manything.id), primary_key=True)
    cover_id = Column(Integer, primary_key=True)
    manything = relationship(Manything, back_populates="covers")

    @property
    def object_id(self) -> int:
        return int(self.manything_id) * 1000 + int(self.cover_id)


class Modern(DeclarativeBase):
    pass


class User(Modern):
    __tablename__ = "ia_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    picture: Mapped[SingleImageSet[UserPicture]] = image_attachment(
        "UserPicture", back_populates="user"
    )
    photos: Mapped[MultipleImageSet[UserPhoto]] = image_attachment(
        "UserPhoto", uselist=True, back_populates="user"
    )


class UserPicture(Modern, Image):
    __tablename__ = "ia_user_picture"

    user_id: Mapped[int] = mapped_column(ForeignKey(User.id), primary_key=True)
    user: Mapped[User] = relationship(back_populates="picture")


class UserPhoto(Modern, Image):
    __tablename__ = "ia_user_photo"

    user_id: Mapped[int] = mapped_column(ForeignKey(User.id), primary_key=True)
    slot: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[User] = relationship(back_populates="photos")

    @property
    def object_id(self) -> int:
        return self.user_id * 100 + self.slot


class Document(Modern):
    __tablename__ = "ia_document"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    scan: Mapped[SingleImageSet[DocumentScan]] = image_attachment(
        "DocumentScan", back_populates="document"
    )


class DocumentScan(Modern, Image):
    __tablename__ = "ia_document_scan"

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Document.id), primary_key=True)
    document: Mapped[Document] = relationship(back_populates="scan")


def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Create both bases' tables on ``engine``, yield a session factory, drop them."""
    if engine.dialect.name == "sqlite":
        _fix_sqlite_transactions(engine)
    for base in (Legacy, Modern):
        base.metadata.drop_all(engine)
        base.metadata.create_all(engine)
    try:
        yield sessionmaker(engine)
    finally:
        for base in (Legacy, Modern):
            base.metadata.drop_all(engine)


def stored(store: FileSystemStore) -> set[str]:
    """Paths of the files in ``store``, relative to its root."""
    return set(image_files(store.path))


def path(object_type: str, object_id: int, name: str) -> str:
    """Where the seed's filesystem layout keeps ``<object_id>.<name>``."""
    return f"{object_type}/{object_id % 1000}/{object_id // 1000}/{object_id}.{name}"


def _fix_sqlite_transactions(engine: Engine) -> None:
    """SQLAlchemy's recipe for SAVEPOINTs on pysqlite: let SQLAlchemy emit
    BEGIN, or a SAVEPOINT opening a transaction is committed by its RELEASE."""
    if not event.contains(engine, "begin", _sqlite_begin):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        engine.dispose()


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def pixels(data: bytes) -> tuple[int, int]:
    """The size of the image in ``data``, decoded."""
    from wand.image import Image as WandImage

    with WandImage(blob=data) as image:
        return image.width, image.height
