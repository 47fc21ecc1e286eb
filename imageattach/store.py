"""The storage backend interface.

A store implements four primitives keyed by ``(object_type, object_id,
width, height, mimetype)``: :meth:`Store.put_file`, :meth:`Store.get_file`,
:meth:`Store.delete_file` and :meth:`Store.get_url`.  Application code calls
the consumer methods (:meth:`Store.store`, :meth:`Store.open`,
:meth:`Store.locate`, :meth:`Store.delete`), which take an image entity.

A third-party store written for SQLAlchemy-ImageAttach, implementing only the
four primitives with their seed signatures, keeps working: the consumer
methods call the primitives positionally, exactly as the seed did.
"""

from __future__ import annotations

import contextlib
import datetime
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any

from . import observe
from .file import open_file_proxy
from .limits import ImageLimits

if TYPE_CHECKING:
    from .entity import Image

__all__ = ["Store", "check_store", "created_tag", "versioned_url"]


def created_tag(created_at: datetime.datetime | None) -> str:
    """The cache-busting ``_ts`` value for an image created at ``created_at``."""
    return "" if created_at is None else created_at.strftime("%Y%m%d%H%M%S%f")


def versioned_url(url: str, tag: str) -> str:
    """``url`` with the cache-busting ``_ts=<tag>`` query appended (unchanged
    when ``tag`` is empty)."""
    if not tag:
        return url
    return f"{url}{'&' if '?' in url else '?'}_ts={tag}"


def check_store(store: object) -> Store:
    """Return ``store`` if it is a :class:`Store`, else raise :exc:`TypeError`."""
    if not isinstance(store, Store):
        raise TypeError(f"store must be an imageattach.store.Store, not {store!r}")
    return store


def check_image(image: object) -> Image:
    from .entity import Image

    if not isinstance(image, Image):
        raise TypeError(f"image must be an imageattach.entity.Image instance, not {image!r}")
    return image


def check_object_id(image: Image) -> int:
    object_id = image.object_id
    if isinstance(object_id, bool) or not isinstance(object_id, int):
        raise TypeError(f"image.object_id must be an integer, not {object_id!r}")
    return object_id


class Store:
    """The interface of image storage backends."""

    #: Limits on decoding the images put in this store (see
    #: :class:`imageattach.limits.ImageLimits`); ``None``: the defaults.
    image_limits: ImageLimits | None = None

    # -- the four primitives: implemented by backends -----------------------

    def put_file(
        self,
        file: IO[bytes],
        object_type: str,
        object_id: int,
        width: int,
        height: int,
        mimetype: str,
        reproducible: bool,
    ) -> None:
        """Write ``file`` (read to its end) under the given key.

        ``reproducible`` is true for files that can be computed again from the
        original (thumbnails), which lets a backend use cheaper storage.
        """
        raise NotImplementedError("put_file() has to be implemented")

    def delete_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> None:
        """Delete the file under the given key; a missing file is not an error."""
        raise NotImplementedError("delete_file() has to be implemented")

    def get_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> IO[bytes]:
        """Open the file under the given key for reading.

        :raises OSError: (``FileNotFoundError``) when there is no such file.
        """
        raise NotImplementedError("get_file() has to be implemented")

    def get_url(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        """Return the URL of the file under the given key (no cache-busting query)."""
        raise NotImplementedError("get_url() has to be implemented")

    # -- optional extension --------------------------------------------------

    def list_files(self, object_type: str, object_id: int) -> list[tuple[int, int, str]]:
        """List ``(width, height, mimetype)`` of every file stored for the object.

        Used by migrations.  Stores that cannot list raise
        :exc:`NotImplementedError`.
        """
        raise NotImplementedError("list_files() is not supported by this store")

    def exists(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> bool | None:
        """Whether a file is stored under the given key, checked cheaply
        (e.g. an S3 ``HEAD``); ``None`` means the store cannot tell without
        reading the file.  Used by resumable migrations to skip done work.
        """
        return None

    # -- optional: consistent bookkeeping under concurrency -------------------
    #
    # On-demand thumbnails have no database row, so the store itself records
    # which original (which *version* of the file at the original's key) each
    # was made from.  With these, a transaction's cleanup removes exactly the
    # thumbnails of the originals it deleted, never a file another
    # transaction wrote, and a generation that finishes after its original
    # was deleted or replaced publishes nothing.  The defaults do nothing:
    # stores without on-demand thumbnails need none of it.

    def lock_object(self, object_type: str, object_id: int) -> AbstractContextManager[None]:
        """Hold the lock of one object's files: writes, cleanups and the
        publication of on-demand thumbnails of the object take it, in every
        process that shares the store."""
        return contextlib.nullcontext()

    def file_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str | None:
        """An opaque token that changes whenever the file under the key is
        written again (``None``: no file, or the store cannot tell)."""
        return None

    def open_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> tuple[IO[bytes], str | None]:
        """:meth:`get_file` and the :meth:`file_version` of exactly the data
        it returns."""
        return self.get_file(object_type, object_id, width, height, mimetype), None

    def put_derived(
        self,
        file: IO[bytes],
        object_type: str,
        object_id: int,
        width: int,
        height: int,
        mimetype: str,
        source_version: str,
    ) -> None:
        """Store an on-demand thumbnail made from the original whose
        :meth:`file_version` is ``source_version``.  Writing the key again
        with :meth:`put_file`, or deleting it, forgets where it came from."""
        self.put_file(file, object_type, object_id, width, height, mimetype, True)

    def derived_files(self, object_type: str, object_id: int) -> dict[tuple[int, int, str], str]:
        """The object's on-demand thumbnails: ``(width, height, mimetype)`` ->
        the version of the original each was made from."""
        return {}

    def locate_resized(self, image: Image, width: int, height: int) -> str:
        """The URL of a ``width`` x ``height`` thumbnail of the original ``image``
        that is generated on demand when first requested (see
        :meth:`imageattach.entity.BaseImageSet.locate`).  Only stores with an
        on-demand resizer implement it.
        """
        raise NotImplementedError(
            f"{type(self).__qualname__} cannot make thumbnails on demand; use "
            "HttpExposedFileSystemStore or S3Store, or generate_thumbnail()"
        )

    # -- consumer methods ----------------------------------------------------

    def store(self, image: Image, file: IO[bytes]) -> None:
        """Store the data ``file`` of ``image``."""
        image = check_image(image)
        if not callable(getattr(file, "read", None)):
            raise TypeError(f"file must be a readable file-like object, not {file!r}")
        self.put_file(
            file,
            image.object_type,
            check_object_id(image),
            image.width,
            image.height,
            image.mimetype,
            not image.original,
        )

    def delete(self, image: Image) -> None:
        """Delete the file of ``image``."""
        image = check_image(image)
        self.delete_file(
            image.object_type, check_object_id(image), image.width, image.height, image.mimetype
        )

    def open(self, image: Image, use_seek: bool = False) -> Any:
        """Open the file of ``image`` as a readable context manager.

        With ``use_seek`` the result is also seekable (buffered in memory if
        the backend's stream is not).
        """
        image = check_image(image)
        key = (image.object_type, check_object_id(image), image.width, image.height, image.mimetype)
        with observe.store_span("get_file", self, *key):
            file = self.get_file(*key)
        return open_file_proxy(file, use_seek=use_seek)

    def locate(self, image: Image) -> str:
        """Return the URL of ``image`` with a ``_ts`` cache-busting query."""
        image = check_image(image)
        url = self.get_url(
            image.object_type, check_object_id(image), image.width, image.height, image.mimetype
        )
        return versioned_url(url, created_tag(image.created_at))
