"""Image entities: the :class:`Image` mixin, image sets and :func:`image_attachment`.

An image entity class mixes :class:`Image` into a mapped class, and its owner
attaches it with :func:`image_attachment`, a :func:`~sqlalchemy.orm.relationship`
whose value is an image set::

    class User(Base):
        __tablename__ = "user"
        id: Mapped[int] = mapped_column(primary_key=True)
        picture: Mapped[SingleImageSet[UserPicture]] = image_attachment("UserPicture")

    class UserPicture(Base, Image):
        __tablename__ = "user_picture"
        user_id: Mapped[int] = mapped_column(ForeignKey(User.id), primary_key=True)
        user: Mapped[User] = relationship(back_populates="picture")

    with store_context(store):
        user.picture.from_file(upload)
        user.picture.generate_thumbnail(width=150)
        session.commit()

An image set holds one original and its thumbnails.  Files are written when
the rows are flushed and removed when the transaction does not commit; see
:mod:`imageattach.tracking`.  Image work is done by :mod:`imageattach.imaging`.
"""

from __future__ import annotations

import datetime
import html
import inspect as inspect_module
import io
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Boolean, DateTime, Integer, String, func, inspect, select, tuple_
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import (
    AppenderQuery,
    Mapped,
    PassiveFlag,
    Relationship,
    mapped_column,
    object_session,
    with_parent,
)
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.sql.elements import ColumnElement

# Imported eagerly, as the seed imported Wand: imageattach's ImageMagick policy
# must be in force before anything else in the process starts ImageMagick.
from . import imaging, responsive, tracking
from . import pregenerate as _pregenerate
from .context import current_store, resolve_store
from .exceptions import (
    ArgumentError,
    ArgumentTypeError,
    ContextError,
    LocateError,
    NoOriginalImageError,
)
from .file import ReusableFileProxy
from .imaging import ImageInfo
from .imaging.jobs import check_filter
from .limits import DEFAULT_LIMITS, ImageLimits, check_limits
from .placeholder import Placeholder
from .sizing import VECTOR_TYPES, check_dimension, thumbnail_size
from .store import Store, check_store
from .variants import Variant, resolve

if TYPE_CHECKING:
    from markupsafe import Markup

__all__ = [
    "VECTOR_TYPES",
    "BaseImageQuery",
    "BaseImageSet",
    "Image",
    "ImageSet",
    "ImageSubset",
    "MultipleImageSet",
    "SingleImageSet",
    "image_attachment",
]


def _limits(limits: ImageLimits | None, store: Store) -> ImageLimits:
    """The limits of a call: its own, else its store's, else the defaults."""
    return check_limits("limits", limits) or store.image_limits or DEFAULT_LIMITS


def _concrete(store: object) -> Store:
    """``store`` checked, and resolved if it is the ``current_store`` proxy."""
    return resolve_store(check_store(store))


def _img_tag(url: str, width: int, height: int) -> str:
    return f'<img src="{html.escape(url, quote=True)}" width="{int(width)}" height="{int(height)}">'


_T = TypeVar("_T")


class NoopContext(Generic[_T]):
    """A context manager that gives ``object_`` and does nothing else (the
    seed's helper of this name; not in ``__all__``, as there)."""

    __slots__ = ("object_",)

    def __init__(self, object_: _T) -> None:
        self.object_ = object_

    def __enter__(self) -> _T:
        return self.object_

    def __exit__(self, *exc_info: object) -> None:
        return None


class _ObjectType:
    """The default :attr:`Image.object_type`: the table name, ``_`` → ``-``."""

    def __get__(self, instance: object, owner: type | None = None) -> str:
        cls = owner if owner is not None else type(instance)
        name = getattr(cls, "__tablename__", None)
        if name is None:
            table = getattr(cls, "__table__", None)
            name = getattr(table, "name", None)
        if not isinstance(name, str):
            raise NotImplementedError(
                f"{cls.__qualname__} has no table name: implement its object_type property"
            )
        return name.replace("_", "-")


#: MySQL/MariaDB's DATETIME keeps whole seconds unless asked for more; the
#: microseconds matter, since ``created_at`` versions the image's URLs.  The
#: seed's existing DATETIME columns keep working (values are truncated there).
_CREATED_AT_TYPE = DateTime(timezone=True).with_variant(
    mysql.DATETIME(timezone=True, fsp=6), "mysql", "mariadb"
)


class Image:
    """Mixin of image entities: one image of one size.

    Identifies its file in a store by :attr:`object_type`, :attr:`object_id`,
    :attr:`width`, :attr:`height` and :attr:`mimetype`.  Renders itself as an
    ``<img>`` tag in templates that honour ``__html__`` (Jinja2, Mako)::

        {{ user.picture.find_thumbnail(width=120) }}
    """

    #: The kind of image, used in file paths and keys.  Defaults to
    #: ``__tablename__`` with underscores replaced by hyphens; may be overridden.
    object_type: str = _ObjectType()  # type: ignore[assignment]

    #: Width in pixels, as displayed (after the EXIF orientation).
    width: Mapped[int] = mapped_column("width", Integer, primary_key=True)
    #: Height in pixels, as displayed.
    height: Mapped[int] = mapped_column("height", Integer, primary_key=True)
    #: e.g. ``'image/jpeg'``.
    mimetype: Mapped[str] = mapped_column("mimetype", String(255), nullable=False)
    #: Whether this is the original rather than a thumbnail.
    original: Mapped[bool] = mapped_column("original", Boolean, nullable=False, default=False)
    #: When the image was attached; also the cache-busting ``_ts`` of its URL.
    created_at: Mapped[datetime.datetime] = mapped_column(
        "created_at", _CREATED_AT_TYPE, nullable=False, default=func.now()
    )

    @property
    def object_id(self) -> int:
        """The number identifying the image's object in the store.

        The primary key (besides ``width`` and ``height``) when it is a single
        integer, or a UUID's integer value.  Override it for other keys.
        """
        names = self.identity_attributes()
        if len(names) == 1:
            value = getattr(self, names[0])
            if value is None:
                raise ValueError(
                    f"this {type(self).__qualname__} has no {names[0]} yet: "
                    "flush the session before storing or locating it"
                )
            if isinstance(value, uuid.UUID):
                return value.int
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        raise NotImplementedError(
            f"{type(self).__qualname__} has a non-integer or composite primary key: "
            "implement its object_id property"
        )

    @classmethod
    def identity_attributes(cls) -> list[str]:
        """Names of the primary key attributes other than ``width`` and ``height``."""
        mapper = inspect(cls)
        names = (mapper.get_property_by_column(column).key for column in mapper.primary_key)
        return [name for name in names if name not in ("width", "height")]

    @property
    def identity_map(self) -> dict[str, Any]:
        """The values of :meth:`identity_attributes`, by name."""
        return {name: getattr(self, name) for name in self.identity_attributes()}

    @hybrid_property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.width, self.height

    @size.inplace.setter
    def _size_setter(self, size: tuple[int, int]) -> None:
        self.width, self.height = size

    @size.inplace.expression
    @classmethod
    def _size_expression(cls) -> ColumnElement[Any]:
        return tuple_(cls.width, cls.height)

    def open_file(self, store: Store = current_store, use_seek: bool = False) -> Any:
        """Open the image's data as a readable context manager (seekable too
        with ``use_seek``).  An image not flushed yet reads its pending data."""
        store = check_store(store)
        pending = tracking.pending_file(self)
        if pending is not None:
            # Read from where from_raw_file() found the file, not from 0.
            return ReusableFileProxy(pending.file, start=pending.start)
        return _concrete(store).open(self, use_seek)

    def make_blob(self, store: Store = current_store) -> bytes:
        """The image's data as bytes."""
        with self.open_file(store) as file:
            data: bytes = file.read()
        return data

    def locate(self, store: Store = current_store) -> str:
        """The URL of the image in ``store``."""
        # The concrete store's own locate() (e.g. S3's presigned URLs), not
        # the proxy's generic one.
        return _concrete(store).locate(self)

    def __html__(self) -> str:
        return _img_tag(self.locate(), self.width, self.height)

    def set_focal_point(self, x: float, y: float) -> None:
        """Remember the point of interest of the image, in relative
        coordinates of its displayed (EXIF oriented) size, each in [0, 1],
        for ``locate(fit="cover", gravity="focal")``.  Kept in the optional
        ``focal_point`` column (a ``String(32)``; docs/ondemand.md has the
        Alembic migration).

        :raises ArgumentError: coordinates out of [0, 1], or a model with no
            ``focal_point`` column.
        """
        if "focal_point" not in inspect(type(self)).columns:
            raise ArgumentError(
                f"{type(self).__name__} has no focal_point column: add "
                "focal_point: Mapped[str | None] = mapped_column(String(32)) to the "
                "model (and to the table: op.add_column(<table>, "
                "sa.Column('focal_point', sa.String(32), nullable=True)))"
            )
        from .imaging.render import RenderSpec

        point = RenderSpec(width=1, focal=(x, y)).focal
        assert point is not None
        self.focal_point = f"{point[0]:.4f},{point[1]:.4f}"

    def focal_point_value(self) -> tuple[float, float] | None:
        """The focal point :meth:`set_focal_point` stored, if any (a value
        that is not two numbers in [0, 1] counts as none)."""
        if "focal_point" not in inspect(type(self)).columns:
            return None
        value = getattr(self, "focal_point", None)
        if not isinstance(value, str) or len(value) > 32:
            return None
        parts = value.split(",")
        try:
            x, y = (float(part) for part in parts)
        except ValueError:
            return None
        if not (0 <= x <= 1 and 0 <= y <= 1):  # also false for nan
            return None
        return x, y


def _preset_options(store: Store, name: str) -> Mapping[str, Any]:
    """The options of the store's preset ``name``."""
    presets: Mapping[str, Mapping[str, Any]] = getattr(store, "presets", None) or {}
    if not isinstance(name, str) or name not in presets:
        raise ArgumentError(
            f"no preset {name!r} in {store!r}; declared: {', '.join(sorted(presets)) or 'none'}"
        )
    return presets[name]


def _variant_of(
    original: Image,
    width: int | None,
    height: int | None,
    ratio: float | None,
    fit: str,
    gravity: str,
    format: str | None,
    quality: int | None,
    upscale: bool,
) -> tuple[tuple[int, int], Variant | None, str | None]:
    """The size, the variant (``None``: a plain resize) and the output
    mimetype or ``"auto"`` (``None``: the source's) of a ``locate()`` call
    (:func:`imageattach.variants.resolve`)."""
    resolved = resolve(
        original.width,
        original.height,
        original.mimetype,
        width=width,
        height=height,
        ratio=ratio,
        fit=fit,
        gravity=gravity,
        focal=original.focal_point_value() if gravity == "focal" else None,
        format=format,
        quality=quality,
        upscale=upscale,
    )
    return (resolved.width, resolved.height), resolved.variant, resolved.format


_I = TypeVar("_I", bound=Image)


def _matches(image: Image, criteria: Mapping[str, Any]) -> bool:
    return all(getattr(image, name) == value for name, value in criteria.items())


def _collection_members(collection: AppenderQuery[_I], criteria: Mapping[str, Any]) -> list[_I]:
    """The images of ``collection`` matching ``criteria``, counting changes
    not flushed yet.  A parent that is not persistent only has the images
    attached to it in memory."""
    parent = collection.instance
    key = collection.attr.key
    session = object_session(parent)
    found: list[_I] = []
    if session is not None and inspect(parent).has_identity:
        cls = collection.attr.target_mapper.class_
        query = (
            select(cls).where(with_parent(parent, getattr(type(parent), key))).filter_by(**criteria)
        )
        deleted = session.deleted
        found.extend(image for image in session.scalars(query) if image not in deleted)
    history = get_history(parent, key, passive=PassiveFlag.PASSIVE_NO_INITIALIZE)
    removed = {id(image) for image in history.deleted}
    found = [image for image in found if id(image) not in removed]
    known = {id(image) for image in found}
    found.extend(
        image for image in history.added if id(image) not in known and _matches(image, criteria)
    )
    return found


class BaseImageSet(Generic[_I]):
    """One original image and its thumbnails, all looking the same.

    ``bool(image_set)`` is false while there is no original.  Renders itself as
    an ``<img>`` tag of the original in templates that honour ``__html__``.
    """

    #: The values of the extra primary key columns of the set's images.
    identity_map: Mapping[str, Any]

    # -- implemented by the concrete sets ------------------------------------

    def _members(self, **criteria: Any) -> list[_I]:
        raise NotImplementedError

    def _image_class(self) -> type[_I]:
        raise NotImplementedError

    def _collection(self) -> AppenderQuery[_I]:
        raise NotImplementedError

    # -- attaching -------------------------------------------------------------

    def from_raw_file(
        self,
        raw_file: IO[bytes],
        store: Store = current_store,
        size: tuple[int, int] | None = None,
        mimetype: str | None = None,
        original: bool = True,
        extra_args: Sequence[Any] | None = None,
        extra_kwargs: Mapping[str, Any] | None = None,
        *,
        limits: ImageLimits | None = None,
    ) -> _I:
        """Attach the image in the seekable ``raw_file`` without copying it:
        it is read when the row is flushed, so keep it open until then.

        ``size`` and ``mimetype`` are read from the file's header unless both
        are given.  An original replaces the set's images.  The header is
        read in a decoding worker under ``limits`` (default: the store's
        ``image_limits``, else :data:`imageattach.limits.DEFAULT_LIMITS`).

        :raises imageattach.exceptions.ImageError: the data is corrupt,
            unsupported or too large; nothing is attached.
        """
        if not callable(getattr(raw_file, "seek", None)):
            raise TypeError(f"raw_file must be seekable; use from_file() for {raw_file!r}")
        return self._attach(
            tracking.PendingFile(raw_file, raw_file.tell(), _concrete(store), owned=False),
            size=size,
            mimetype=mimetype,
            original=original,
            extra_args=extra_args,
            extra_kwargs=extra_kwargs,
            limits=limits,
        )

    def from_blob(
        self,
        blob: bytes,
        store: Store = current_store,
        extra_args: Sequence[Any] | None = None,
        extra_kwargs: Mapping[str, Any] | None = None,
        *,
        limits: ImageLimits | None = None,
    ) -> _I:
        """Attach the image in ``blob`` as the original.

        :raises imageattach.exceptions.ImageError: see :meth:`from_raw_file`.
        """
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise TypeError(f"blob must be bytes, not {blob!r}")
        return self._attach(
            tracking.PendingFile(io.BytesIO(blob), 0, _concrete(store), owned=True),
            extra_args=extra_args,
            extra_kwargs=extra_kwargs,
            limits=limits,
        )

    def from_file(
        self,
        file: IO[bytes],
        store: Store = current_store,
        extra_args: Sequence[Any] | None = None,
        extra_kwargs: Mapping[str, Any] | None = None,
        *,
        limits: ImageLimits | None = None,
    ) -> _I:
        """Attach the image read from ``file`` (any readable object, read from
        its current position; of an upload object with a ``file`` attribute
        and an async ``read()``, such as Starlette's ``UploadFile``, its
        ``file``) as the original.

        The data is copied into a temporary file (kept in memory only when
        small), so ``file`` may be closed right away.

        :raises imageattach.exceptions.ImageError: see :meth:`from_raw_file`.
        """
        read = getattr(file, "read", None)
        if inspect_module.iscoroutinefunction(read):
            file = getattr(file, "file", file)
            read = getattr(file, "read", None)
        if not callable(read) or inspect_module.iscoroutinefunction(read):
            raise TypeError(f"file must be readable (synchronously), not {file!r}")
        store = _concrete(store)
        copy = tracking.run_blocking(lambda: tracking.spool(file))
        try:
            return self._attach(
                tracking.PendingFile(copy, 0, store, owned=True),
                extra_args=extra_args,
                extra_kwargs=extra_kwargs,
                limits=limits,
            )
        except BaseException:
            copy.close()
            raise

    def _attach(
        self,
        pending: tracking.PendingFile,
        *,
        size: tuple[int, int] | None = None,
        mimetype: str | None = None,
        original: bool = True,
        extra_args: Sequence[Any] | None = None,
        extra_kwargs: Mapping[str, Any] | None = None,
        limits: ImageLimits | None = None,
    ) -> _I:
        if size is None or mimetype is None:
            bounds = _limits(limits, pending.store)
            info: ImageInfo = tracking.run_blocking(
                lambda: imaging.probe(pending.rewind(), limits=bounds)
            )
            size = size or (info.width, info.height)
            mimetype = mimetype or info.mimetype
        if mimetype.startswith("image/x-"):
            mimetype = "image/" + mimetype[len("image/x-") :]
        if original:
            self._clear(pending.store)
        image = self._image_class()(
            *(extra_args or ()), **{**(extra_kwargs or {}), **self.identity_map}
        )
        image.width, image.height = size
        image.mimetype = mimetype
        image.original = original
        image.created_at = datetime.datetime.now(datetime.UTC)
        tracking.attach_file(image, pending)
        self._collection().append(image)
        return image

    def _clear(self, store: Store) -> None:
        """Remove the set's images (before a new original is attached); their
        files go when the transaction commits."""
        collection = self._collection()
        members = self._members()
        for image in members:
            tracking.remember_store(image, store)
            collection.remove(image)
        session = object_session(collection.instance)
        if members and session is not None and inspect(collection.instance).has_identity:
            session.flush()

    # -- thumbnails ------------------------------------------------------------

    def generate_thumbnail(
        self,
        ratio: float | None = None,
        width: int | None = None,
        height: int | None = None,
        filter: str = "undefined",
        store: Store = current_store,
        *,
        limits: ImageLimits | None = None,
    ) -> _I:
        """Make, attach and return a thumbnail of the original, or return the
        set's existing image of that size.

        Pass exactly one of ``ratio`` (> 0; above 1 enlarges), ``width`` or
        ``height``; the other dimension keeps the aspect ratio, rounded.
        ``filter`` is an ImageMagick filter name (``wand.image.FILTER_TYPES``).
        The original is decoded in a worker under ``limits`` (as in
        :meth:`from_raw_file`).

        :raises NoOriginalImageError: the set has no original.
        :raises imageattach.exceptions.ArgumentError: bad size or ``filter``
            arguments (:exc:`~imageattach.exceptions.ArgumentTypeError`, also
            a :exc:`TypeError`, for wrong types or combinations).
        """
        check_filter(filter)
        original = self.require_original()
        size = thumbnail_size(
            original.width, original.height, width=width, height=height, ratio=ratio
        )
        existing = self._existing_thumbnail(size, width=width, height=height)
        if existing is not None:
            return existing
        store = _concrete(store)
        bounds = _limits(limits, store)
        with original.open_file(store) as source:
            data, mimetype = tracking.run_blocking(
                lambda: imaging.make_thumbnail(
                    source, width=size[0], height=size[1], filter=filter, limits=bounds
                )
            )
        return self._attach(
            tracking.PendingFile(io.BytesIO(data), 0, store, owned=True),
            size=size,
            mimetype=mimetype,
            original=False,
        )

    def _existing_thumbnail(
        self, size: tuple[int, int], *, width: int | None, height: int | None
    ) -> _I | None:
        # Asked for a width (or height) only, an image of that width is
        # accepted as the seed did: thumbnails the seed made have their other
        # dimension truncated, not rounded.
        candidates = self._members()
        for image in candidates:
            if (image.width, image.height) == size:
                return image
        for image in candidates:
            if (width is not None and image.width == width) or (
                height is not None and image.height == height
            ):
                return image
        return None

    def find_thumbnail(self, width: int | None = None, height: int | None = None) -> _I:
        """The set's image (original included) of the given width and/or height.

        :raises sqlalchemy.orm.exc.NoResultFound: there is none.
        :raises imageattach.exceptions.ArgumentError: a width or height that
            is not a positive integer, or neither given
            (:exc:`~imageattach.exceptions.ArgumentTypeError`).
        """
        if width is None and height is None:
            raise ArgumentTypeError("pass width and/or height")
        for name, value in (("width", width), ("height", height)):
            if value is not None:
                check_dimension(name, value)
        criteria = {
            name: value
            for name, value in (("width", width), ("height", height))
            if value is not None
        }
        found = self._members(**criteria)
        if not found:
            described = ", ".join(f"{name}={value!r}" for name, value in criteria.items())
            raise NoResultFound(f"no image of {described} in the set")
        if len(found) > 1:
            raise MultipleResultsFound(f"{len(found)} images match {criteria!r}")
        return found[0]

    # -- the original ------------------------------------------------------------

    @property
    def original(self) -> _I | None:
        """The original image, or ``None`` if there is none yet."""
        found = self._members(original=True)
        return found[0] if found else None

    def require_original(self) -> _I:
        """The original image.

        :raises NoOriginalImageError: there is none yet (an ``OSError``, as
            the seed's ``IOError``).
        """
        image = self.original
        if image is None:
            raise NoOriginalImageError("the image set has no original image yet")
        return image

    def open_file(self, store: Store = current_store, use_seek: bool = False) -> Any:
        """:meth:`Image.open_file` of the original."""
        return self.require_original().open_file(store, use_seek)

    def make_blob(self, store: Store = current_store) -> bytes:
        """:meth:`Image.make_blob` of the original."""
        return self.require_original().make_blob(store)

    def locate(
        self,
        store: Store = current_store,
        *,
        width: int | None = None,
        height: int | None = None,
        ratio: float | None = None,
        fit: str = "contain",
        gravity: str = "center",
        format: str | None = None,
        quality: int | None = None,
        preset: str | None = None,
        upscale: bool = False,
    ) -> str:
        """The URL of the original, or with a size, the URL of that size made
        on demand when first requested (see
        :meth:`imageattach.store.Store.locate_resized`); no image work here.

        ``fit="cover"`` fills the ``width`` x ``height`` box, cropping by
        ``gravity`` (``"focal"``: around the original's focal point, see
        :meth:`Image.set_focal_point`); ``format`` is ``None`` (the source's
        thumbnail format), ``"jpeg"``, ``"png"``, ``"webp"``, ``"avif"`` or
        ``"auto"`` (chosen per request from ``Accept``); ``quality`` 1-100;
        ``preset`` names options declared on the store; without ``upscale``
        the size never exceeds the original's (the URL names the clamped
        size).  A plain proportional resize has the seed's URL; anything else
        is a signed variant (docs/ondemand.md).

        :raises imageattach.exceptions.ArgumentError: bad size arguments, an
            unknown option value or preset, or ``gravity="focal"`` without a
            focal point.
        """
        original = self.require_original()
        concrete = _concrete(store)
        if preset is not None:
            given = (width, height, ratio, fit, gravity, format, quality, upscale)
            if given != (None, None, None, "contain", "center", None, None, False):
                raise ArgumentTypeError("preset= goes alone: the preset gives every option")
            options = _preset_options(concrete, preset)
            width, height, ratio = options.get("width"), options.get("height"), None
            fit = options.get("fit", "contain")
            gravity = options.get("gravity", "center")
            format = options.get("format")
            quality = options.get("quality")
            upscale = options.get("upscale", False)
        if width is None and height is None and ratio is None:
            return original.locate(store)
        size, variant, mimetype = _variant_of(
            original, width, height, ratio, fit, gravity, format, quality, upscale
        )
        if variant is None and mimetype is None and preset is None:
            return concrete.locate_resized(original, *size)
        return concrete.locate_resized(  # type: ignore[call-arg]
            original, *size, variant=variant, format=mimetype, preset=preset
        )

    def __bool__(self) -> bool:
        return self.original is not None

    def __html__(self) -> str:
        original = self.original
        if original is None:
            return ""
        return _img_tag(original.locate(), original.width, original.height)

    def __str__(self) -> str:
        # The same <img> tag as __html__, so that ``{{ user.picture }}``
        # renders alike in Jinja2 with or without autoescaping and in Mako
        # (which calls str()); an image set that is also a Query would
        # otherwise print its SQL.  str() must not raise (logging, debuggers):
        # without a store context or base URL it is the repr.
        try:
            return self.__html__()
        except (ContextError, LocateError):
            return repr(self)

    # -- responsive images (imageattach.responsive) -------------------------------

    def srcset(
        self,
        widths: Iterable[int] | None = None,
        *,
        densities: Iterable[float] | None = None,
        width: int | None = None,
        height: int | None = None,
        **options: Any,
    ) -> str:
        """A ``srcset`` value: ``"url 320w, url 640w, ..."`` of the original
        at ``widths`` (default :data:`~imageattach.responsive.DEFAULT_WIDTHS`;
        ``width`` and ``height`` then only give the box's shape, as
        ``fit="cover"`` needs), or with ``densities=(1, 2, 3)``,
        ``"url 1x, url 2x, ..."`` of the ``width`` x ``height`` box.  The
        ``options`` (``fit=``, ``format=``, ``upscale=``, ``store=``...) go to
        :meth:`locate` unchanged.  Without ``upscale=True``, sizes above the
        original's are dropped and the original's own size is the largest
        candidate (the original itself when the options keep its pixels).

        :raises NoOriginalImageError: the set has no original.
        :raises imageattach.exceptions.ArgumentError: bad widths, densities
            or options (:exc:`~imageattach.exceptions.ArgumentTypeError`
            for wrong types, or both widths and densities).
        """
        candidates = self._srcset_candidates(widths, densities, width, height, options)
        return responsive.srcset_text(candidates, lambda c: self._candidate_url(c, options))

    def img(
        self,
        width: int | None = None,
        height: int | None = None,
        *,
        sizes: str | None = None,
        alt: str = "",
        placeholder: bool = False,
        loading: str | None = "lazy",
        decoding: str | None = "async",
        widths: Iterable[int] | None = None,
        densities: Iterable[float] | None = None,
        attributes: Mapping[str, object] | None = None,
        **options: Any,
    ) -> Markup:
        """An ``<img>`` of the original at the ``width`` x ``height`` box
        (sized as :meth:`locate` sizes it; neither: the original), as
        :class:`markupsafe.Markup`: ``src``, ``srcset``, ``sizes``, the real
        ``width`` and ``height`` of the ``src`` image, ``alt``, ``loading``,
        ``decoding`` (``None`` leaves one out), every value escaped.

        ``srcset`` has ``x`` descriptors (``densities``, default 1 and 2) for
        a box and no ``sizes``, else ``w`` descriptors (``widths``; ``sizes``
        defaults to ``100vw``); it is left out when it would only repeat
        ``src``.  ``placeholder=True`` adds :meth:`placeholder`'s ``style``;
        ``attributes`` adds others (``class``, ``id``...).  The ``options``
        go to :meth:`locate`; with ``preset=``, the preset gives the size
        and there is no ``srcset``.

        :raises NoOriginalImageError: the set has no original.
        :raises imageattach.exceptions.ArgumentError: bad arguments.
        :raises imageattach.exceptions.ImageError: ``placeholder=True`` and
            the original cannot be decoded (see :meth:`placeholder`).
        """
        responsive.check_img_arguments(alt, sizes, loading, decoding)
        original = self.require_original()
        size = (original.width, original.height)
        style = None
        if placeholder:
            style = self.placeholder(store=options.get("store", current_store)).style
        src_url = None
        if options.get("preset") is not None:
            # A preset names one variant, its size included: no srcset.
            if any(v is not None for v in (width, height, sizes, widths, densities)):
                raise ArgumentTypeError(
                    "a preset gives the size: no width, height, sizes, widths or densities"
                )
            src_url = self.locate(**options)
            preset = responsive.preset_options(
                _concrete(options.get("store", current_store)), options["preset"]
            )
            src = responsive.density_candidates(
                size, (1,), preset, width=preset.get("width"), height=preset.get("height")
            )[0]
            candidates = [src]
        elif sizes is not None or widths is not None or (width is None and height is None):
            if densities is not None:
                raise ArgumentTypeError("pass densities, or sizes and widths, not both")
            candidates = self._srcset_candidates(
                responsive.DEFAULT_WIDTHS if widths is None else widths,
                None,
                width,
                height,
                options,
            )
            if width is None and height is None:
                src = candidates[-1]
            else:
                src = responsive.density_candidates(
                    size, (1,), options, width=width, height=height
                )[0]
            sizes = "100vw" if sizes is None else sizes
        else:
            candidates = self._srcset_candidates(
                None,
                responsive.DEFAULT_DENSITIES if densities is None else densities,
                width,
                height,
                options,
            )
            src = candidates[0]
        if src_url is None:
            src_url = self._candidate_url(src, options)
        srcset = None
        if len(candidates) > 1:
            srcset = responsive.srcset_text(candidates, lambda c: self._candidate_url(c, options))
        else:
            sizes = None
        return responsive.img_tag(
            [
                ("src", src_url),
                ("srcset", srcset),
                ("sizes", sizes),
                ("width", src.width),
                ("height", src.height),
                ("alt", alt),
                ("loading", loading),
                ("decoding", decoding),
                ("style", style),
                *(attributes or {}).items(),
            ]
        )

    def placeholder(
        self,
        store: Store = current_store,
        *,
        save: bool = True,
        limits: ImageLimits | None = None,
    ) -> Placeholder:
        """The original's :class:`~imageattach.placeholder.Placeholder`,
        computed once per original from a preview made in a decoding worker
        (under ``limits``, as in :meth:`from_raw_file`) and kept: in the
        image class's optional ``placeholder`` column (``String(64)``) if it
        has one (set unless ``save`` is false, written when the session
        flushes), and in a bounded process-local cache
        (:data:`imageattach.responsive.placeholder_cache`).

        :raises NoOriginalImageError: the set has no original.
        :raises imageattach.exceptions.ImageError: the original cannot be
            decoded (e.g. :exc:`~imageattach.exceptions.ImageTooLargeError`);
            nothing is kept.
        :raises imageattach.exceptions.ArgumentError: the column holds
            something that is not a placeholder (set it to ``NULL`` to have
            it computed again).
        """
        original = self.require_original()
        resolved = _concrete(store)
        return responsive.original_placeholder(
            original, resolved, save=save, limits=_limits(limits, resolved)
        )

    def _srcset_candidates(
        self,
        widths: Iterable[int] | None,
        densities: Iterable[float] | None,
        width: int | None,
        height: int | None,
        options: Mapping[str, Any],
    ) -> list[responsive.Candidate]:
        original = self.require_original()
        size = (original.width, original.height)
        if options.get("preset") is not None:
            raise ArgumentTypeError(
                "a preset names one size: use img(preset=...) or locate(preset=...)"
            )
        if densities is not None:
            if widths is not None:
                raise ArgumentTypeError("pass widths or densities, not both")
            return responsive.density_candidates(
                size, densities, options, width=width, height=height
            )
        return responsive.width_candidates(
            size,
            responsive.DEFAULT_WIDTHS if widths is None else widths,
            options,
            width=width,
            height=height,
        )

    def _candidate_url(self, candidate: responsive.Candidate, options: Mapping[str, Any]) -> str:
        if candidate.size is None:
            store = options.get("store")
            return self.locate() if store is None else self.locate(store=store)
        return self.locate(**{**options, **candidate.size})


class BaseImageQuery(AppenderQuery[_I]):
    """The common base of :class:`SingleImageSet` and :class:`MultipleImageSet`,
    the values of :func:`image_attachment`: a dynamic relationship's query of
    the owner's images.

    It is the seed's name for that base class, kept for code that checks
    ``isinstance(value, BaseImageQuery)`` or passes a subclass of it as
    ``query_class=``.  (The seed's transaction bookkeeping lived on it as
    class-level sets; here it is per session, in :mod:`imageattach.tracking`.)
    :class:`ImageSubset` is an image set but not a query, as in the seed.
    """

    def __str__(self) -> str:
        # Query.__str__ is the SQL; templates that call str() must not print it.
        return repr(self)

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} of {self.instance!r}>"


class SingleImageSet(BaseImageSet[_I], BaseImageQuery[_I]):  # type: ignore[misc]
    """The value of an ``image_attachment(..., uselist=False)`` (the default):
    one image set.  It is also a query of the set's images::

        for image in user.picture: ...
        user.picture.count()
    """

    @property
    def identity_map(self) -> Mapping[str, Any]:  # type: ignore[override]
        return {}

    @property
    def query(self) -> SingleImageSet[_I]:
        return self

    def _members(self, **criteria: Any) -> list[_I]:
        return _collection_members(self, criteria)

    def _image_class(self) -> type[_I]:
        cls: type[_I] = self.attr.target_mapper.class_
        return cls

    def _collection(self) -> AppenderQuery[_I]:
        return self


#: The seed's deprecated alias of :class:`SingleImageSet`.
ImageSet = SingleImageSet


class MultipleImageSet(BaseImageQuery[_I]):
    """The value of an ``image_attachment(..., uselist=True)``: a set of
    image sets, told apart by extra primary key columns of the image entity
    (e.g. ``order_index``).  Pick one with :meth:`get_image_set`.
    """

    def get_image_set(self, **pk: Any) -> ImageSubset[_I]:
        """The image set whose extra primary key columns have these values;
        it may be empty, to attach a new image set::

            post.photos.get_image_set(order_index=2).from_file(f)
        """
        return ImageSubset(self, **pk)

    @property
    def image_sets(self) -> Iterator[ImageSubset[_I]]:
        """Each image set that has an original."""
        for image in _collection_members(self, {"original": True}):
            yield ImageSubset(self, **image.identity_map)

    def __bool__(self) -> bool:
        return bool(_collection_members(self, {"original": True}))


class ImageSubset(BaseImageSet[_I]):
    """One image set of a :class:`MultipleImageSet`."""

    def __init__(self, _query: MultipleImageSet[_I], **identity_map: Any) -> None:
        cls: type[Image] = _query.attr.target_mapper.class_
        unknown = set(identity_map) - set(cls.identity_attributes())
        if unknown:
            raise TypeError(
                f"unexpected keys {sorted(unknown)!r}: an image set is chosen by the "
                f"primary key columns {cls.identity_attributes()!r}"
            )
        self.query = _query
        self.identity_map = identity_map

    def _members(self, **criteria: Any) -> list[_I]:
        return _collection_members(self.query, {**self.identity_map, **criteria})

    def _image_class(self) -> type[_I]:
        cls: type[_I] = self.query.attr.target_mapper.class_
        return cls

    def _collection(self) -> AppenderQuery[_I]:
        return self.query

    def count(self) -> int:
        """The number of images in this set."""
        return len(self._members())

    def __iter__(self) -> Iterator[_I]:
        return iter(self._members())

    def __repr__(self) -> str:
        return f"<ImageSubset {dict(self.identity_map)!r} of {self.query.instance!r}>"


class _ImageAttachment(Relationship[Any]):
    """A dynamic relationship whose value is an image set, whatever its
    ``Mapped[...]`` annotation makes of it."""

    inherit_cache = True
    #: The ``pregenerate=`` sizes (:mod:`imageattach.pregenerate`).
    pregenerate_sizes: tuple[Mapping[str, Any], ...] = ()

    def declarative_scan(self, *args: Any, **kwargs: Any) -> None:
        super().declarative_scan(*args, **kwargs)
        # Mapped[SingleImageSet[X]] reads as a scalar reference to the scanner.
        self.uselist = True
        self.lazy = "dynamic"
        self.strategy_key = (("lazy", "dynamic"),)

    def do_init(self) -> None:
        super().do_init()
        if self.pregenerate_sizes:
            _pregenerate.declare(self.mapper.class_, self.pregenerate_sizes)


def image_attachment(
    *args: Any,
    uselist: bool = False,
    pregenerate: Sequence[Mapping[str, Any]] | None = None,
    **kwargs: Any,
) -> Any:
    """A :func:`~sqlalchemy.orm.relationship` to an :class:`Image` entity,
    whose value is a :class:`SingleImageSet` (or, with ``uselist=True``, a
    :class:`MultipleImageSet`).  Takes relationship()'s arguments.

    ``pregenerate`` lists sizes (``locate()`` options, e.g. ``[{"width":
    100}, {"preset": "avatar"}]``) made in the background after each new
    original is committed, besides the store's presets (docs/pregeneration.md).

    Annotate it as ``Mapped[SingleImageSet[UserPicture]]`` (or
    ``Mapped[MultipleImageSet[PostPhoto]]``) in ``DeclarativeBase`` classes.

    :raises imageattach.exceptions.ConfigurationError: a ``pregenerate`` size
        with an unknown option or a bad value, naming it.
    """
    sizes = _pregenerate.check_sizes(pregenerate)
    kwargs.setdefault("query_class", MultipleImageSet if uselist else SingleImageSet)
    kwargs.setdefault("cascade", "all, delete-orphan")
    kwargs["lazy"] = "dynamic"
    attachment = _ImageAttachment(*args, uselist=True, **kwargs)
    attachment.pregenerate_sizes = sizes
    return attachment


tracking.install(Image)
