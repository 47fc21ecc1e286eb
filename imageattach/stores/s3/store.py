""":class:`S3Store`: images in an Amazon S3 (or S3-compatible) bucket, on boto3.

:class:`S3Store` keeps every image under the seed's key layout::

    [<prefix>/]<object_type>/<object_id>/<width>x<height><ext>

and builds public URLs from the bucket (virtual-hosted or path-style) or from
``public_base_url`` (a CDN in front of the bucket).

:class:`S3Store` can also make thumbnails on demand: :meth:`S3Store.locate_resized`
gives a signed URL of the app's resize endpoint (:meth:`S3Store.wsgi_middleware`
/ :meth:`S3Store.asgi_middleware`), which makes the thumbnail once, stores it
in the bucket and redirects to it (see docs/s3.md).

Every backend failure is raised as an :class:`~imageattach.exceptions.StoreError`
subclass; the botocore exception is chained as ``__cause__``.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any

import boto3
import boto3.s3.transfer
import botocore.config
import botocore.exceptions

from ...exceptions import ConfigurationError, FileNotFoundInStoreError
from ...filelocks import FileLocks, LocalLocks, NamedLocks, object_lock
from ...hosturl import require_host_url
from ...leases import RedisLeases, resize_leases
from ...limits import ImageLimits
from ...middleware.options import make_options
from ...store import Store, check_image, check_object_id
from ...validation import check_int
from ...variants import split_mimetype, split_suffix, suffix
from .errors import _BOTO_ERRORS, _store_error
from .options import (
    _VIRTUAL_HOST_BUCKET,
    CANNED_ACLS,
    STORAGE_CLASSES,
    _check_credentials,
    _check_seconds,
    _check_url,
)
from .responses import _etag, _ObjectStream

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from ...entity import Image
    from ...ondemand.redirect import RedirectingResizer
    from ...variants import Variant

__all__ = ["DEFAULT_MAX_AGE", "S3Store"]

logger = logging.getLogger("imageattach.stores.s3")

#: Default ``max-age`` of the ``Cache-Control`` header written with each file
#: (one year: a changed image gets a new ``_ts`` query, so URLs never go stale).
DEFAULT_MAX_AGE = 60 * 60 * 24 * 365
#: ``<w>x<h>`` and the rest: ``<ext>`` (the seed's keys) or ``.<token><ext>``
#: (variants, :mod:`imageattach.variants`).
_SIZE_NAME = re.compile(r"(?P<w>[0-9]{1,9})x(?P<h>[0-9]{1,9})(?P<rest>\..{1,60})", re.ASCII)


def _split_name(name: str) -> tuple[int, int, str] | None:
    """``(width, height, keyed mimetype)`` of a key's last segment, else ``None``."""
    match = _SIZE_NAME.fullmatch(name)
    mimetype = None if match is None else split_suffix(match["rest"])
    if match is None or mimetype is None:
        return None
    return int(match["w"]), int(match["h"]), mimetype


_MULTIPART_CHUNK = 8 * 1024 * 1024
_READ_BUFFER = 64 * 1024
_LIST_PAGE_SIZE = 1000  # the most S3 returns per ListObjectsV2 request
#: The user metadata (``x-amz-meta-...``) of an on-demand thumbnail naming
#: the version (ETag) of the original it was made from.
_SOURCE_METADATA = "imageattach-source"


class S3Store(Store):
    """Images in an S3 bucket (or an S3-compatible service through ``endpoint_url``).

    :param bucket: the bucket name.
    :param access_key: / :param secret_key: the seed's names of
        ``aws_access_key_id`` / ``aws_secret_access_key`` (see below).
        ``bucket``, ``access_key``, ``secret_key``, ``max_age``, ``prefix``,
        ``public_base_url``, ``region`` and ``max_retry`` may be passed
        positionally, in this order, as to the seed's ``S3Store``; every
        other option is keyword-only.
    :param prefix: a key prefix, to share one bucket between several stores.
    :param public_base_url: the URL the bucket is served at (e.g. a CloudFront
        distribution); it must forward query strings, as :meth:`locate`
        appends the cache-busting ``_ts`` query.  Default: the bucket's own
        S3 URL.
    :param region: the bucket's region (default: the credential chain's).
    :param endpoint_url: the API endpoint of an S3-compatible service
        (MinIO, Ceph, R2, ...).
    :param addressing_style: ``'virtual'`` (``bucket.host/key``), ``'path'``
        (``host/bucket/key``) or ``'auto'``: path-style with ``endpoint_url``
        or a bucket name that cannot be a TLS host name label, else virtual.
        Used for both API calls and public URLs.
    :param max_age: ``Cache-Control: max-age`` seconds written with each file.
    :param max_retry: retries of a failed request (5xx, throttling, network
        errors) with exponential backoff; ``0`` disables retrying.
    :param connect_timeout: seconds to wait for a connection.
    :param read_timeout: seconds to wait for each read from the socket.
    :param acl: a canned ACL written with each file (e.g. ``'public-read'``);
        default none, leaving access to the bucket policy (buckets with
        ACLs disabled, the AWS default since 2023, reject any ACL).
    :param reproducible_storage_class: the storage class of thumbnails,
        which can be made again from the original (e.g. ``'STANDARD_IA'``).
        Originals are always ``STANDARD``.
    :param presigned: return presigned ``GetObject`` URLs (for private
        buckets) instead of public ones; they expire after
        ``presigned_expires`` seconds and carry no ``_ts`` query.
    :param multipart_threshold: files larger than this many bytes are
        uploaded in parts (streamed; nothing is read whole into memory).
    :param client: a ready boto3 S3 client; ``session``, ``region``,
        ``endpoint_url``, credentials, ``max_retry`` and the timeouts are then
        the client's own.
    :param session: a :class:`boto3.session.Session` to make the client from.
    :param aws_access_key_id: explicit credentials; by default the standard
        chain is used (environment, shared config, instance/task role, ...).
        ``access_key`` / ``secret_key`` are the seed's names for them.
    :param resize_secret_key: signs on-demand resize URLs (see
        :meth:`locate_resized`): as ``secret_key`` of
        :class:`~imageattach.stores.fs.HttpExposedFileSystemStore` (named
        apart from the seed's ``secret_key``, the AWS secret).
    :param resize_allowlist: widths/heights whose resize URLs need no signature.
    :param resize_prefix: the URL path the middlewares answer resize URLs under.
    :param resize_url_base: the app's base URL (``'https://example.com/'``),
        or a callable returning it, for resize URLs made outside a request;
        default: the current request's.
    :param resize_lock_dir: a directory for cross-process lock files, so that
        processes sharing it make each thumbnail once (default: once per
        process; a race between processes only makes the same bytes twice).
    :param resize_lock: ``"redis://host:6379/0"`` or a ``redis.Redis``
        client: servers sharing the bucket make each thumbnail once, under
        a lease in Redis, and take the objects' locks there too
        (:mod:`imageattach.leases`, docs/scaling.md); not with
        ``resize_lock_dir``.
    :param resize_lock_ttl: seconds a lease outlives a crashed holder (30).
    :param resize_lock_prefix: the start of the lease keys (default
        ``imageattach:s3:<bucket>/<prefix>``).
    :param resize_lock_fallback: while Redis is down, ``"local"`` (the
        default: this process's locks, with a logged warning) or
        ``"refuse"`` (503).
    :param conditional_writes: publish on-demand thumbnails with
        ``If-None-Match: *``, so that a thumbnail another server has just
        published is not written again (default ``True``; a service that
        answers it with 501 Not Implemented gets plain writes, after one
        warning).
    :param resize_serve_options: further options of the middlewares, by name
        (``cors``, ``cache_control``, ``versioned_cache_control``,
        ``trusted_proxy_headers``...; see docs/serving.md).
    :param max_resize_dimension: / :param max_source_pixels: /
        :param image_limits: / :param resize_workers: / :param resize_queue:
        the decoding and on-demand limits, as for
        :class:`~imageattach.stores.fs.HttpExposedFileSystemStore`.
    :param presets: / :param presets_only: named ``locate()`` options, and
        whether only they are served (unsigned), as for
        :class:`~imageattach.stores.fs.HttpExposedFileSystemStore`.
    """

    def __init__(
        self,
        bucket: str,
        # The seed's positional order (S3Store('bucket', key, secret)):
        access_key: str | None = None,
        secret_key: str | None = None,
        max_age: int = DEFAULT_MAX_AGE,
        prefix: str = "",
        public_base_url: str | None = None,
        region: str | None = None,
        max_retry: int = 5,
        *,
        endpoint_url: str | None = None,
        addressing_style: str = "auto",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        acl: str | None = None,
        reproducible_storage_class: str = "STANDARD",
        presigned: bool = False,
        presigned_expires: int = 3600,
        multipart_threshold: int = _MULTIPART_CHUNK,
        client: S3Client | None = None,
        session: boto3.session.Session | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        resize_secret_key: str | bytes | Sequence[str | bytes] | None = None,
        resize_allowlist: Iterable[int] | None = None,
        resize_prefix: str = "__images__",
        resize_url_base: str | Callable[[], str] | None = None,
        resize_lock_dir: str | os.PathLike[str] | None = None,
        resize_lock: str | Any | None = None,
        resize_lock_ttl: float | None = None,
        resize_lock_prefix: str | None = None,
        resize_lock_fallback: str | None = None,
        conditional_writes: bool = True,
        resize_serve_options: Mapping[str, Any] | None = None,
        max_resize_dimension: int = 4096,
        max_source_pixels: int | None = None,
        image_limits: ImageLimits | None = None,
        resize_workers: int | None = None,
        resize_queue: int = 32,
        presets: Mapping[str, Mapping[str, Any]] | None = None,
        presets_only: bool = False,
    ) -> None:
        if not isinstance(bucket, str) or not bucket or "/" in bucket:
            raise ConfigurationError(f"bucket must be a bucket name, not {bucket!r}")
        if not isinstance(prefix, str):
            raise ConfigurationError(f"prefix must be a string, not {prefix!r}")
        if region is not None and (not isinstance(region, str) or not region):
            raise ConfigurationError(f"region must be a region name, not {region!r}")
        if addressing_style not in {"auto", "virtual", "path"}:
            raise ConfigurationError(
                f"addressing_style must be 'auto', 'virtual' or 'path', not {addressing_style!r}"
            )
        if acl is not None and acl not in CANNED_ACLS:
            raise ConfigurationError(
                f"acl must be None or one of {', '.join(sorted(CANNED_ACLS))}; not {acl!r}"
            )
        if reproducible_storage_class not in STORAGE_CLASSES:
            raise ConfigurationError(
                "reproducible_storage_class must be one of "
                f"{', '.join(sorted(STORAGE_CLASSES))}; not {reproducible_storage_class!r}"
            )
        if not isinstance(presigned, bool):
            raise ConfigurationError(f"presigned must be True or False, not {presigned!r}")
        if presigned and public_base_url is not None:
            raise ConfigurationError(
                "presigned URLs are signed for the S3 endpoint; "
                "they cannot be combined with public_base_url"
            )
        credentials = _check_credentials(
            aws_access_key_id, aws_secret_access_key, aws_session_token, access_key, secret_key
        )
        if client is not None and (
            session is not None
            or region is not None
            or endpoint_url is not None
            or credentials[0] is not None
        ):
            raise ConfigurationError(
                "client already has its session, region, endpoint and credentials; "
                "do not pass them too"
            )
        if session is not None and credentials[0] is not None:
            raise ConfigurationError("pass either session or credentials, not both")

        self.bucket = bucket
        self.prefix = prefix.strip().strip("/")
        if client is not None:
            region = client.meta.region_name
            host = urllib.parse.urlsplit(client.meta.endpoint_url).hostname or ""
            if not host.endswith(".amazonaws.com"):
                endpoint_url = client.meta.endpoint_url
        self.endpoint_url = _check_url("endpoint_url", endpoint_url)
        self.region = region
        if addressing_style == "auto":
            bucket_fits_host = _VIRTUAL_HOST_BUCKET.match(bucket) is not None
            addressing_style = "path" if endpoint_url or not bucket_fits_host else "virtual"
        self.addressing_style = addressing_style
        self.max_age = check_int("max_age", max_age, minimum=0)
        self.max_retry = check_int("max_retry", max_retry, minimum=0)
        self.connect_timeout = _check_seconds("connect_timeout", connect_timeout)
        self.read_timeout = _check_seconds("read_timeout", read_timeout)
        self.acl = acl
        self.reproducible_storage_class = reproducible_storage_class
        self.presigned = presigned
        self.presigned_expires = check_int("presigned_expires", presigned_expires, minimum=1)
        if self.presigned_expires > 7 * 24 * 3600:
            raise ConfigurationError("presigned_expires cannot exceed 604800 s (7 days, SigV4)")
        self.multipart_threshold = check_int(
            "multipart_threshold", multipart_threshold, minimum=5 * 1024 * 1024
        )
        self.public_base_url = _check_url("public_base_url", public_base_url) or self._s3_base_url()
        self._given_client = client
        self._session = session
        self._credentials = credentials
        # One client per process: a client made before a fork (gunicorn
        # --preload) would share its pooled sockets with the children.
        self._client: tuple[int, S3Client] | None = None
        self._client_lock = threading.Lock()
        self._transfer_config = boto3.s3.transfer.TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=max(_MULTIPART_CHUNK, self.multipart_threshold),
            max_concurrency=4,
        )
        if not isinstance(conditional_writes, bool):
            raise ConfigurationError(
                f"conditional_writes must be True or False, not {conditional_writes!r}"
            )
        #: Whether thumbnails are published with ``If-None-Match: *`` (turned
        #: off when the service answers it with 501).
        self.conditional_writes = conditional_writes
        leases = resize_leases(
            resize_lock,
            where=f"s3:{bucket}/{self.prefix}",
            ttl=resize_lock_ttl,
            prefix=resize_lock_prefix,
            fallback=resize_lock_fallback,
        )
        if leases is not None and resize_lock_dir is not None:
            raise ConfigurationError("give resize_lock or resize_lock_dir, not both")
        #: Object locks (see lock_object): shared through resize_lock or
        #: resize_lock_dir.
        self._object_locks: NamedLocks = (
            LocalLocks()
            if resize_lock_dir is None
            else FileLocks(os.path.join(os.fspath(resize_lock_dir), "objects"))
        )
        #: The leases on-demand generations take (``None``: resize_lock_dir's
        #: lock files, or this process's single flight).
        self.resize_lock: RedisLeases | None = None
        if leases is not None:
            self.resize_lock = leases.namespace("resize")
            self._object_locks = leases.namespace("object", local=self._object_locks)
        self._init_resizer(
            resize_prefix,
            resize_url_base,
            resize_lock_dir,
            resize_serve_options,
            locks=self.resize_lock,
            secret_key=resize_secret_key,
            resize_allowlist=resize_allowlist,
            max_resize_dimension=max_resize_dimension,
            max_source_pixels=max_source_pixels,
            image_limits=image_limits,
            resize_workers=resize_workers,
            resize_queue=resize_queue,
            presets=presets,
            presets_only=presets_only,
        )
        #: The limits uploads and on-demand thumbnails are decoded under.
        self.image_limits = self.resizer.limits
        #: Named ``locate()`` options, for ``locate(preset=...)``.
        self.presets = self.resizer.presets

    def _init_resizer(
        self,
        prefix: str,
        url_base: str | Callable[[], str] | None,
        lock_dir: str | os.PathLike[str] | None,
        serve_options: Mapping[str, Any] | None,
        **options: Any,
    ) -> None:
        from ...ondemand.redirect import RedirectingResizer

        if not isinstance(prefix, str) or not prefix.strip("/"):
            raise ConfigurationError(f"resize_prefix must be a non-empty path, not {prefix!r}")
        self.resize_prefix = prefix.strip("/")
        if isinstance(url_base, str):
            fixed = _check_url("resize_url_base", url_base)
            self.resize_url_getter: Callable[[], str] | None = lambda: f"{fixed}/"
        elif url_base is None or callable(url_base):
            self.resize_url_getter = url_base
        else:
            raise ConfigurationError("resize_url_base must be a URL, a callable or None")
        if serve_options is not None and not isinstance(serve_options, Mapping):
            raise ConfigurationError("resize_serve_options must be a mapping of option names")
        serve_options = dict(serve_options or {})
        if "on_miss" in serve_options:
            raise ConfigurationError("on_miss cannot be given: the resizer is the on_miss hook")
        #: The options of :meth:`wsgi_middleware` and :meth:`asgi_middleware`.
        self.resize_serve_options = make_options(None, serve_options)
        #: Builds resize URLs and answers them (docs/s3.md).
        self.resizer: RedirectingResizer = RedirectingResizer(
            self,
            url_base=self._resize_url_base,
            stable_urls=not self.presigned,
            lock_dir=None if lock_dir is None else os.fspath(lock_dir),
            key_option="resize_secret_key",
            **options,
        )

    def _resize_url_base(self) -> str:
        host_url = require_host_url(
            self.resize_url_getter, type(self).__qualname__, "resize_url_base"
        )
        return f"{host_url}{self.resize_prefix}/"

    def _s3_base_url(self) -> str:
        if self.endpoint_url is not None:
            scheme, netloc, path, _, _ = urllib.parse.urlsplit(self.endpoint_url)
            if self.addressing_style == "virtual":
                return f"{scheme}://{self.bucket}.{netloc}{path}"
            return f"{self.endpoint_url}/{self.bucket}"
        host = "s3.amazonaws.com" if self.region is None else f"s3.{self.region}.amazonaws.com"
        if self.addressing_style == "virtual":
            return f"https://{self.bucket}.{host}"
        return f"https://{host}/{self.bucket}"

    @property
    def client(self) -> S3Client:
        """The boto3 S3 client (made on first use in each process)."""
        if self._given_client is not None:
            return self._given_client
        pid = os.getpid()
        with self._client_lock:
            if self._client is None or self._client[0] != pid:
                self._client = (pid, self._make_client())
            return self._client[1]

    def _make_client(self) -> S3Client:
        key_id, secret, token = self._credentials
        session = self._session or boto3.session.Session(
            aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token
        )
        config = botocore.config.Config(
            signature_version="s3v4",
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": self.max_retry + 1, "mode": "standard"},
            s3={"addressing_style": "virtual" if self.addressing_style == "virtual" else "path"},
        )
        return session.client(
            "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=config
        )

    # -- keys ----------------------------------------------------------------

    def get_key(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        """The S3 key of the file (the seed's layout; a variant has its
        token before the extension, see :mod:`imageattach.variants`)."""
        key = f"{self._object_prefix(object_type, object_id)}{width}x{height}"
        return key + suffix(mimetype)

    def key_path(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        """The key as the path of a resize URL (the key itself)."""
        return self.get_key(object_type, object_id, width, height, mimetype)

    def split_key_path(self, path: str) -> tuple[str, int, int, int, str] | None:
        """``(object_type, object_id, width, height, keyed mimetype)`` of a
        key-shaped path."""
        prefix = f"{self.prefix}/" if self.prefix else ""
        if not path.startswith(prefix):
            return None
        segments = path[len(prefix) :].split("/")
        if len(segments) != 3 or segments[0][:1] in ("", "."):
            return None
        object_id, name = segments[1], _split_name(segments[2])
        if name is None or not object_id.isascii() or not object_id.isdigit():
            return None
        if len(object_id) > 40:
            return None
        return segments[0], int(object_id), *name

    def _object_prefix(self, object_type: str, object_id: int) -> str:
        key = f"{object_type}/{object_id}/"
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # -- the primitives ------------------------------------------------------

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
        """Upload ``file``, streamed (in parts above ``multipart_threshold``).

        A failed upload leaves nothing behind: a single ``PutObject`` is
        atomic and a failed multipart upload is aborted.
        """
        key = self.get_key(object_type, object_id, width, height, mimetype)
        self._upload(file, key, mimetype, reproducible, {})

    def _upload(
        self, file: IO[bytes], key: str, mimetype: str, reproducible: bool, metadata: dict[str, str]
    ) -> None:
        extra = self._upload_arguments(mimetype, reproducible, metadata)
        try:
            self.client.upload_fileobj(
                file, self.bucket, key, ExtraArgs=extra, Config=self._transfer_config
            )
        except _BOTO_ERRORS as error:
            raise _store_error(error, "upload to", self._where(key)) from error

    def _upload_arguments(
        self, mimetype: str, reproducible: bool, metadata: dict[str, str]
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "ContentType": split_mimetype(mimetype)[0],  # a variant's is keyed
            "CacheControl": f"max-age={self.max_age}",
            "StorageClass": self.reproducible_storage_class if reproducible else "STANDARD",
        }
        if self.acl is not None:
            extra["ACL"] = self.acl
        if metadata:
            extra["Metadata"] = metadata
        return extra

    def get_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> IO[bytes]:
        """Open the file as a buffered stream over the HTTP response; closing
        it releases the connection.

        :raises FileNotFoundInStoreError: when there is no such key.
        """
        return self._open(self.get_key(object_type, object_id, width, height, mimetype))[0]

    def _open(self, key: str) -> tuple[IO[bytes], str]:
        """Open ``key``; return the stream and its ``Content-Type``."""
        stream, response = self._get(key)
        return stream, response.get("ContentType", "")

    def _get(self, key: str) -> tuple[IO[bytes], Mapping[str, Any]]:
        """Open ``key``; return the stream and the ``GetObject`` response."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except _BOTO_ERRORS as error:
            raise _store_error(error, "download of", self._where(key)) from error
        stream = io.BufferedReader(_ObjectStream(response["Body"], self._where(key)), _READ_BUFFER)
        return stream, response

    def delete_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> None:
        """Delete the file; a missing key is not an error, a missing bucket,
        a refused permission or an unreachable endpoint is."""
        key = self.get_key(object_type, object_id, width, height, mimetype)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except _BOTO_ERRORS as error:
            failure = _store_error(error, "delete of", self._where(key))
            if not isinstance(failure, FileNotFoundInStoreError):
                raise failure from error

    def get_url(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        """The public URL (or a presigned one); no network round trip."""
        key = self.get_key(object_type, object_id, width, height, mimetype)
        if self.presigned:
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=self.presigned_expires,
            )
        return f"{self.public_base_url}/{urllib.parse.quote(key)}"

    # -- optional extensions -------------------------------------------------

    def list_files(self, object_type: str, object_id: int) -> list[tuple[int, int, str]]:
        return sorted(self._list_sizes(object_type, object_id))

    def _list_sizes(self, object_type: str, object_id: int) -> dict[tuple[int, int, str], int]:
        """Map each stored ``(width, height, mimetype)`` of the object to its byte size."""
        prefix = self._object_prefix(object_type, object_id)
        sizes = {}
        for key, size in self._list_keys(prefix):
            name = _split_name(key[len(prefix) :])
            if name is not None:
                sizes[name] = size
        return sizes

    def _list_keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            pages = paginator.paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": _LIST_PAGE_SIZE}
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], item["Size"]
        except _BOTO_ERRORS as error:
            raise _store_error(error, "listing of", self._where(prefix)) from error

    def exists(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> bool:
        """Whether the key exists, by a ``HeadObject`` request."""
        return self._head(self.get_key(object_type, object_id, width, height, mimetype)) is not None

    def _head(self, key: str) -> str | None:
        """The ``Content-Type`` of ``key``, or ``None`` if there is no such key."""
        response = self._head_response(key)
        return None if response is None else response.get("ContentType", "")

    def _head_response(self, key: str) -> Mapping[str, Any] | None:
        """The ``HeadObject`` response of ``key``, or ``None`` if there is no such key."""
        try:
            response: Mapping[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except _BOTO_ERRORS as error:
            failure = _store_error(error, "HEAD of", self._where(key))
            if isinstance(failure, FileNotFoundInStoreError):
                return None
            raise failure from error
        return response

    # -- consistent bookkeeping (see Store) ------------------------------------
    #
    # The version of a file is its ETag; an on-demand thumbnail carries the
    # ETag of its original in its metadata (``x-amz-meta-imageattach-source``),
    # which a later put_file() of the key drops.

    def lock_object(self, object_type: str, object_id: int) -> AbstractContextManager[None]:
        """A lease in Redis with ``resize_lock`` (shared by the servers), a
        lock file in ``resize_lock_dir`` (shared by the processes that share
        it), else a lock of this process only."""
        return object_lock(self._object_locks, f"{object_type}/{object_id}", self._where(""))

    def file_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str | None:
        response = self._head_response(
            self.get_key(object_type, object_id, width, height, mimetype)
        )
        return None if response is None else _etag(response)

    def open_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> tuple[IO[bytes], str | None]:
        stream, response = self._get(self.get_key(object_type, object_id, width, height, mimetype))
        return stream, _etag(response)

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
        """Upload an on-demand thumbnail (under the object's lock).

        With :attr:`conditional_writes`, it is sent with ``If-None-Match:
        *``: if another server published the key meanwhile (its lease was
        taken over), the answer is 412 and the thumbnail there, made of the
        same original, is kept as it is.  A thumbnail there of another
        original (stale: the replacing transaction's cleanup has yet to
        delete it) is overwritten, as without the condition.
        """
        key = self.get_key(object_type, object_id, width, height, mimetype)
        metadata = {_SOURCE_METADATA: source_version}
        if self.conditional_writes:
            # Thumbnails are in memory already (the resizer made them there);
            # PutObject is what takes a condition (the transfer manager's
            # multipart uploads do not).
            data = file.read()
            small = len(data) <= self.multipart_threshold
            if small and self._put_if_absent(data, key, mimetype, metadata, source_version):
                return
            file = io.BytesIO(data)
        self._upload(file, key, mimetype, True, metadata)

    def _put_if_absent(
        self, data: bytes, key: str, mimetype: str, metadata: dict[str, str], source: str
    ) -> bool:
        """``PutObject`` with ``If-None-Match: *``; whether the key now holds
        a thumbnail of ``source`` (``False``: write it unconditionally)."""
        arguments = self._upload_arguments(mimetype, True, metadata)
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*", **arguments
            )
        except botocore.exceptions.ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = str(error.response.get("Error", {}).get("Code", ""))
            if status == 412 or code == "PreconditionFailed":
                existing = self._head_response(key)
                found = None if existing is None else existing.get("Metadata", {})
                published = found is not None and found.get(_SOURCE_METADATA) == source
                if published:
                    logger.info(
                        "%s was published meanwhile (412): kept",
                        self._where(key),
                        extra={"image_key": key},
                    )
                return published
            if status == 501 or code == "NotImplemented":
                self.conditional_writes = False
                logger.warning(
                    "%s does not support conditional writes (If-None-Match); "
                    "thumbnails are written without them from now on",
                    self.endpoint_url or "S3",
                    extra={"image_key": key},
                )
                return False
            raise _store_error(error, "upload to", self._where(key)) from error
        except _BOTO_ERRORS as error:
            raise _store_error(error, "upload to", self._where(key)) from error
        return True

    def derived_files(self, object_type: str, object_id: int) -> dict[tuple[int, int, str], str]:
        """One ``LIST`` of the object's keys and a ``HEAD`` of each (only
        cleanups of deleted originals ask)."""
        derived = {}
        for size in self._list_sizes(object_type, object_id):
            source = self.derived_source(object_type, object_id, *size)
            if source is not None:
                derived[size] = source
        return derived

    def derived_source(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str | None:
        """The version (ETag) of the original the on-demand thumbnail under
        the key was made from, by a ``HEAD`` (its metadata); ``None`` for a
        file :meth:`put_file` wrote (a thumbnail row's) or no file."""
        response = self._head_response(
            self.get_key(object_type, object_id, width, height, mimetype)
        )
        source = None if response is None else response.get("Metadata", {}).get(_SOURCE_METADATA)
        return str(source) if source else None

    def locate(self, image: Image) -> str:
        if not self.presigned:
            return super().locate(image)
        # A presigned URL's whole query string is covered by its signature,
        # so the _ts query cannot be appended (and is not needed: the URL
        # changes with every call anyway).
        image = check_image(image)
        return self.get_url(
            image.object_type, check_object_id(image), image.width, image.height, image.mimetype
        )

    # -- on-demand thumbnails --------------------------------------------------

    def locate_resized(
        self,
        image: Image,
        width: int,
        height: int,
        *,
        variant: Variant | None = None,
        format: str | None = None,
        preset: str | None = None,
    ) -> str:
        """The signed (or allowlisted) URL of a ``width`` x ``height``
        thumbnail of the original ``image``, on the app's resize endpoint
        (``<base URL>/<resize_prefix>/<key>?...``).  No I/O.

        ``variant`` (fit, gravity, focal point, quality) and ``format`` (an
        output mimetype, or ``"auto"``) make it a variant's URL, which
        needs the key (:mod:`imageattach.variants`); ``preset`` names the
        store's preset the URL is of (with ``presets_only``, unsigned).

        :raises SigningNotConfiguredError: neither ``resize_secret_key`` nor
            a ``resize_allowlist`` covering the size.
        :raises ImageTooLargeError: above ``max_resize_dimension``.
        :raises LocateError: outside a request and without ``resize_url_base``.
        """
        return self.resizer.url(image, width, height, variant=variant, format=format, preset=preset)

    def wsgi_middleware(self, app: Any) -> Any:
        """Wrap the WSGI ``app``: answer resize URLs under ``/<resize_prefix>/``
        (make the thumbnail if needed, then redirect to it in the bucket), and
        make each request's base URL current for :meth:`locate_resized`.

        Without ``resize_secret_key`` or ``resize_allowlist`` there is
        nothing to answer, and ``app`` is returned as it is (so the framework
        adapters can wrap any store).
        """
        if not self.resizer.enabled:
            return app
        from ...middleware.wsgi import StaticServerMiddleware

        options = self.resizer.serve_options(self.resize_serve_options, asynchronous=False)
        return StaticServerMiddleware(app, "/" + self.resize_prefix, None, options=options)

    def asgi_middleware(self, app: Any) -> Any:
        """:meth:`wsgi_middleware` for ASGI; generation runs off the event loop."""
        if not self.resizer.enabled:
            return app
        from ...middleware.asgi import StaticFilesMiddleware

        options = self.resizer.serve_options(self.resize_serve_options, asynchronous=True)
        return StaticFilesMiddleware(app, "/" + self.resize_prefix, None, options=options)

    def __repr__(self) -> str:
        where = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        return f"{type(self).__qualname__}({where!r}, public_base_url={self.public_base_url!r})"
