"""Copy the image files of a database from one store to another.

Nothing happens until the plan is carried out::

    migrate(session, Base, source, destination).execute()

    for image in migrate(session, Base, source, destination):
        print("copied", image.object_type, image.object_id, image.size)

Files are copied, never deleted from ``source``.  The image classes come from
the declarative base's registry (the seed read ``_decl_class_registry``,
which SQLAlchemy 1.4 removed); a class hierarchy is read once, through its
topmost image class, so no row is copied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, inspect, select, tuple_
from sqlalchemy.orm import Mapper, Session, registry, with_polymorphic

from .entity import Image
from .store import Store

__all__ = [
    "MigrationPlan",
    "count_images",
    "image_classes",
    "iter_images",
    "migrate",
    "migrate_class",
]

#: Rows read per query.
BATCH_SIZE = 200


class MigrationPlan:
    """A migration not carried out yet: iterate it, or :meth:`execute` it.
    Iterating yields each image right after its file was copied."""

    def __init__(self, function: Callable[[], Iterator[Image]]) -> None:
        if not callable(function):
            raise TypeError(f"function must be callable, not {function!r}")
        self.function = function

    def __iter__(self) -> Iterator[Image]:
        return self.function()

    def execute(self, callback: Callable[[Image], object] | None = None) -> None:
        """Copy every file, calling ``callback(image)`` after each one."""
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        for image in self:
            if callback is not None:
                callback(image)


def _check(session: object, source: object, destination: object) -> None:
    if not isinstance(session, Session):
        raise TypeError(f"session must be a sqlalchemy.orm.Session, not {session!r}")
    for name, store in (("source", source), ("destination", destination)):
        if not isinstance(store, Store):
            raise TypeError(f"{name} must be an imageattach.store.Store, not {store!r}")


def _registry(declarative_base: object) -> registry:
    found = getattr(declarative_base, "registry", declarative_base)
    if not isinstance(found, registry):
        raise TypeError(
            "declarative_base must be a declarative base class (declarative_base() or "
            f"DeclarativeBase) or an sqlalchemy.orm.registry, not {declarative_base!r}"
        )
    return found


def _image_mapper(cls: object) -> Mapper[Any]:
    if not (isinstance(cls, type) and issubclass(cls, Image)):
        raise TypeError(f"cls must be a mapped subclass of imageattach.entity.Image, not {cls!r}")
    mapper: Mapper[Any] | None = inspect(cls, raiseerr=False)
    if mapper is None:
        raise TypeError(f"{cls!r} is not mapped")
    return mapper


def image_classes(declarative_base: object) -> list[type[Image]]:
    """The mapped :class:`~imageattach.entity.Image` classes of a declarative
    base whose rows no other of them reads: for an inheritance hierarchy,
    only its topmost image class (concrete-table classes stand alone)."""
    mappers = [m for m in _registry(declarative_base).mappers if issubclass(m.class_, Image)]

    def inherits_an_image(mapper: Mapper[Any]) -> bool:
        if mapper.concrete:
            return False
        ancestors = list(mapper.iterate_to_root())[1:]
        return any(issubclass(ancestor.class_, Image) for ancestor in ancestors)

    roots = [mapper.class_ for mapper in mappers if not inherits_an_image(mapper)]
    return sorted(roots, key=lambda cls: (cls.__module__, cls.__qualname__))


def _rows(session: Session, cls: type[Image], batch_size: int) -> Iterator[Image]:
    """Every ``cls`` row (subclasses included), ``batch_size`` at a time.

    Batches are read by primary key ranges (keyset pagination) rather than
    through one server-side cursor (``yield_per``): no cursor stays open while
    files are copied, so other queries on the connection (lazy loads in a
    callback; MySQL cannot run them during an unbuffered read) keep working.
    """
    mapper = _image_mapper(cls)
    entity: Any = with_polymorphic(cls, "*") if mapper.polymorphic_map else cls
    key = list(mapper.primary_key)
    last: tuple[Any, ...] | None = None
    while True:
        query = select(entity).order_by(*key).limit(batch_size)
        if last is not None:
            query = query.where(tuple_(*key) > tuple_(*last))
        batch = session.scalars(query).all()
        yield from batch
        if len(batch) < batch_size:
            return
        last = mapper.primary_key_from_instance(batch[-1])


def iter_images(
    session: Session, declarative_base: object, *, batch_size: int = BATCH_SIZE
) -> Iterator[Image]:
    """Every image row of every class of :func:`image_classes`, streamed."""
    for cls in image_classes(declarative_base):
        yield from _rows(session, cls, batch_size)


def count_images(session: Session, declarative_base: object) -> int:
    """How many images :func:`iter_images` yields (for progress bars)."""
    return sum(
        session.scalar(select(func.count()).select_from(cls)) or 0
        for cls in image_classes(declarative_base)
    )


def _copy(images: Iterator[Image], source: Store, destination: Store) -> Iterator[Image]:
    for image in images:
        with source.open(image) as file:
            destination.store(image, file)
        yield image


def migrate(
    session: Session, declarative_base: object, source: Store, destination: Store
) -> MigrationPlan:
    """A plan copying the file of every image of ``declarative_base``'s
    classes from ``source`` to ``destination``."""
    _check(session, source, destination)
    image_classes(declarative_base)  # fail now on a bad base, not when run
    return MigrationPlan(lambda: _copy(iter_images(session, declarative_base), source, destination))


def migrate_class(
    session: Session, cls: type[Image], source: Store, destination: Store
) -> MigrationPlan:
    """A plan copying the file of every ``cls`` image (subclasses included)
    from ``source`` to ``destination``."""
    _check(session, source, destination)
    _image_mapper(cls)
    return MigrationPlan(lambda: _copy(_rows(session, cls, BATCH_SIZE), source, destination))
