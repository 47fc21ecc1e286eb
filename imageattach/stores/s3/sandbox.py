""":class:`S3SandboxStore`: reads through a writable *overriding* bucket to a
read-only *underlying* one, so a development copy of an app can run against
production images without changing them.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import IO, TYPE_CHECKING, Any

from ...exceptions import ConfigurationError, FileNotFoundInStoreError, StoreError
from ...limits import ImageLimits
from ...store import Store, check_image, check_object_id
from ...validation import check_int
from .errors import _BOTO_ERRORS, _store_error
from .store import S3Store

if TYPE_CHECKING:
    from ...entity import Image

__all__ = ["DELETED_MARK_MIMETYPE", "S3SandboxStore"]

# The package's name, as before the split into modules.
logger = logging.getLogger("imageattach.stores.s3")

#: ``Content-Type`` of the empty object :class:`S3SandboxStore` writes to mark
#: an underlying file as deleted (the seed's value, kept for compatibility).
DELETED_MARK_MIMETYPE = "application/x-sqlalchemy-imageattach-sandbox-deleted"


class S3SandboxStore(Store):
    """Two buckets that look like one store: reads come from ``overriding``
    when it has the key and fall through to the read-only ``underlying``
    bucket when it answers 404; writes and deletes go to ``overriding`` only.

    A delete writes an empty *tombstone* object with ``Content-Type``
    :data:`DELETED_MARK_MIMETYPE` to ``overriding``, hiding the underlying
    file.  Useful for a staging or development app run against a copy of the
    production database without touching production images.

    :param underlying: the read-only bucket name (or an :class:`S3Store`).
    :param overriding: the writable bucket name (or an :class:`S3Store`).
    :param access_key: / :param secret_key: / :param max_age: /
        :param max_retry: as for :class:`S3Store`, for both buckets.
    :param underlying_prefix: / :param overriding_prefix: key prefixes of
        the two buckets when they are given by name.
    :param underlying_region: / :param overriding_region: the regions of
        the two buckets when they are given by name (``region`` among
        ``options`` sets both).  The arguments up to ``max_retry`` may be
        passed positionally, in the seed's order.
    :param url_cache_size: how many keys' "which bucket has it" answers
        :meth:`get_url` keeps, so that rendering a page makes no request
        per image.  Each key is looked up once (a ``HEAD`` on
        ``overriding``); this process's own writes update the cache, another
        process's writes are seen for keys not looked up yet.
    :param options: every other :class:`S3Store` option, applied to both
        buckets when they are given by name.
    """

    #: The seed's name of :data:`DELETED_MARK_MIMETYPE`.
    DELETED_MARK_MIMETYPE = DELETED_MARK_MIMETYPE

    def __init__(
        self,
        underlying: str | S3Store,
        overriding: str | S3Store,
        # The seed's positional order:
        access_key: str | None = None,
        secret_key: str | None = None,
        max_age: int | None = None,
        underlying_prefix: str = "",
        overriding_prefix: str = "",
        underlying_region: str | None = None,
        overriding_region: str | None = None,
        max_retry: int | None = None,
        *,
        url_cache_size: int = 65536,
        **options: Any,
    ) -> None:
        seed_options = {
            "access_key": access_key,
            "secret_key": secret_key,
            "max_age": max_age,
            "max_retry": max_retry,
        }
        options.update((name, value) for name, value in seed_options.items() if value is not None)
        regions = {"underlying": underlying_region, "overriding": overriding_region}
        if "region" in options and any(value is not None for value in regions.values()):
            raise ConfigurationError(
                "pass either region (both buckets) or underlying_region/overriding_region"
            )
        self.underlying = self._bucket_store(
            underlying, underlying_prefix, self._with_region(options, underlying_region)
        )
        self.overriding = self._bucket_store(
            overriding, overriding_prefix, self._with_region(options, overriding_region)
        )
        self.url_cache_size = check_int("url_cache_size", url_cache_size, minimum=0)
        # key in overriding -> whether overriding has it (a file or a tombstone)
        self._overridden: OrderedDict[str, bool] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def image_limits(self) -> ImageLimits | None:  # type: ignore[override]
        """The writable bucket's limits (where uploads go)."""
        return self.overriding.image_limits

    @staticmethod
    def _with_region(options: dict[str, Any], region: str | None) -> dict[str, Any]:
        return options if region is None else {**options, "region": region}

    @staticmethod
    def _bucket_store(bucket: str | S3Store, prefix: str, options: dict[str, Any]) -> S3Store:
        if isinstance(bucket, S3Store):
            if prefix or options:
                raise ConfigurationError(
                    "pass prefixes and options to the S3Store instances, not to S3SandboxStore"
                )
            return bucket
        return S3Store(bucket, prefix=prefix, **options)

    def _remember(self, key: str, overridden: bool) -> None:
        with self._cache_lock:
            self._overridden[key] = overridden
            self._overridden.move_to_end(key)
            while len(self._overridden) > self.url_cache_size:
                self._overridden.popitem(last=False)

    def _is_overridden(self, key: str) -> bool:
        with self._cache_lock:
            known = self._overridden.get(key)
        if known is not None:
            return known
        try:
            overridden = self.overriding._head(key) is not None
        except StoreError:
            logger.warning("cannot tell whether %s is overridden", key, exc_info=True)
            return True  # not cached: asked again next time
        self._remember(key, overridden)
        return overridden

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
        key = self.overriding.get_key(object_type, object_id, width, height, mimetype)
        self.overriding.put_file(
            file, object_type, object_id, width, height, mimetype, reproducible
        )
        self._remember(key, True)

    def delete_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> None:
        """Hide the file: write the tombstone over it in ``overriding``."""
        key = self.overriding.get_key(object_type, object_id, width, height, mimetype)
        extra: dict[str, Any] = {}
        if self.overriding.acl is not None:
            extra["ACL"] = "private"
        try:
            self.overriding.client.put_object(
                Bucket=self.overriding.bucket,
                Key=key,
                Body=b"",
                ContentType=DELETED_MARK_MIMETYPE,
                CacheControl="no-store",
                **extra,
            )
        except _BOTO_ERRORS as error:
            raise _store_error(error, "tombstone write to", self.overriding._where(key)) from error
        self._remember(key, True)

    def get_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> IO[bytes]:
        """Read from ``overriding``; on 404 only, from ``underlying``.

        :raises FileNotFoundInStoreError: when neither has the file, or it
            was deleted in the sandbox (a tombstone).
        """
        key = self.overriding.get_key(object_type, object_id, width, height, mimetype)
        try:
            stream, content_type = self.overriding._open(key)
        except FileNotFoundInStoreError:
            return self.underlying.get_file(object_type, object_id, width, height, mimetype)
        if content_type == DELETED_MARK_MIMETYPE:
            stream.close()
            raise FileNotFoundInStoreError(f"deleted in the sandbox: {self.overriding._where(key)}")
        return stream

    def get_url(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        key = self.overriding.get_key(object_type, object_id, width, height, mimetype)
        store = self.overriding if self._is_overridden(key) else self.underlying
        return store.get_url(object_type, object_id, width, height, mimetype)

    def locate(self, image: Image) -> str:
        image = check_image(image)
        key = self.overriding.get_key(
            image.object_type, check_object_id(image), image.width, image.height, image.mimetype
        )
        store = self.overriding if self._is_overridden(key) else self.underlying
        return store.locate(image)

    def list_files(self, object_type: str, object_id: int) -> list[tuple[int, int, str]]:
        """The sizes visible through the sandbox.  A tombstone is recognised
        by its empty body (no image is zero bytes long), which spares a
        ``HEAD`` per listed key."""
        overriding = self.overriding._list_sizes(object_type, object_id)
        visible = set(self.underlying._list_sizes(object_type, object_id))
        for size, length in overriding.items():
            if length:
                visible.add(size)
            else:
                visible.discard(size)
        return sorted(visible)

    def exists(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> bool:
        key = self.overriding.get_key(object_type, object_id, width, height, mimetype)
        content_type = self.overriding._head(key)
        if content_type is None:
            return self.underlying.exists(object_type, object_id, width, height, mimetype)
        return content_type != DELETED_MARK_MIMETYPE

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({self.underlying!r}, {self.overriding!r})"
