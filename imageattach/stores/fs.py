"""Filesystem stores.

:class:`FileSystemStore` writes files under a directory and builds URLs from a
fixed ``base_url`` (nginx or a CDN serves the directory).
:class:`HttpExposedFileSystemStore` also serves the directory itself through
:meth:`~HttpExposedFileSystemStore.wsgi_middleware` /
:meth:`~HttpExposedFileSystemStore.asgi_middleware`, and builds URLs from the
current request.

The on-disk layout is the seed's, byte for byte::

    <object_type>/<object_id % 1000>/<object_id // 1000>/<object_id>.<w>x<h><ext>

Every :exc:`OSError` of the filesystem is raised as a
:exc:`~imageattach.exceptions.StoreError` (itself an :exc:`OSError`, with the
original ``errno`` and the original as ``__cause__``)::

    ENOSPC, EDQUOT, EFBIG              StoreError ("no space left ...")
    EROFS, EACCES, EPERM               StoreAccessDeniedError (PermissionError)
    ENOENT, reading                    FileNotFoundInStoreError (FileNotFoundError)
    ETIMEDOUT, ESTALE, network errnos  StoreUnavailableError (network filesystems)
    anything else (EIO, ENOTDIR...)    StoreError

A missing file is not an error for :meth:`~BaseFileSystemStore.delete_file` and
:meth:`~BaseFileSystemStore.list_files`.  Errors of the file given to
:meth:`~BaseFileSystemStore.put_file` (reading an upload) are not the store's
and are raised as they are.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any, TypeVar

from ..exceptions import (
    ConfigurationError,
    FileNotFoundInStoreError,
    StoreAccessDeniedError,
    StoreError,
    StoreUnavailableError,
)
from ..filelocks import FileLocks
from ..filetypes import EXTENSIONS, guess_extension, guess_mimetype
from ..hosturl import require_host_url
from ..limits import ImageLimits, check_limits
from ..middleware.options import ServeOptions, make_options
from ..store import Store
from ..variants import split_suffix, suffix
from .bookkeeping import (
    LOCK_DIRECTORY,
    STALE_TEMPORARY_AGE,
    TEMPORARY_DIRECTORY,
    Bookkeeping,
    version_of,
)

if TYPE_CHECKING:
    from ..entity import Image
    from ..ondemand.resizer import Resizer
    from ..variants import Variant

__all__ = [
    "EXTENSIONS",
    "BaseFileSystemStore",
    "FileSystemStore",
    "HttpExposedFileSystemStore",
    "guess_extension",
    "guess_mimetype",
]


def _errnos(*names: str) -> frozenset[int]:
    # Some names are missing on some platforms (EDQUOT, ESTALE on Windows).
    return frozenset(getattr(errno, name) for name in names if hasattr(errno, name))


_NO_SPACE = _errnos("ENOSPC", "EDQUOT", "EFBIG")
_DENIED = _errnos("EROFS", "EACCES", "EPERM")
_UNAVAILABLE = _errnos(
    "ETIMEDOUT",
    "ESTALE",
    "ENOTCONN",
    "ECONNABORTED",
    "ECONNREFUSED",
    "ECONNRESET",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "ENETDOWN",
    "ENETUNREACH",
)


@contextlib.contextmanager
def _store_errors(action: str, key: str, root: str) -> Iterator[None]:
    """Raise an :exc:`OSError` of the block as the :exc:`StoreError` subclass
    that says what happened, e.g. ``could not write thing/5/0/5.3x4.png in
    /srv/images: no space left on device``, keeping its ``errno``."""
    try:
        yield
    except StoreError:
        raise
    except OSError as error:
        code = error.errno
        text = error.strerror or str(error) or type(error).__name__
        reason = text[:1].lower() + text[1:]  # "read-only file system"
        if code == errno.ENOSPC:
            reason = "no space left on device"
        elif code in _NO_SPACE:  # "no space left (disk quota exceeded)"
            reason = f"no space left ({reason})"
        message = f"could not {action} {key} in {root}: {reason}"
        failure: StoreError
        if code == errno.ENOENT and action == "read":
            failure = FileNotFoundInStoreError(message)
        elif code in _DENIED:
            failure = StoreAccessDeniedError(message)
        elif code in _UNAVAILABLE:
            failure = StoreUnavailableError(message)
        else:  # _NO_SPACE, EIO, ENOTDIR, EISDIR, ...
            failure = StoreError(message)
        # Only errno: with strerror too, str() would become "[Errno 28] ...".
        failure.errno = code
        raise failure from error


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_COPY_CHUNK = 1024 * 1024
_T = TypeVar("_T")

#: ``<id>.<w>x<h>`` and the rest: ``<ext>`` (the seed's names) or
#: ``.<token><ext>`` (variants, :mod:`imageattach.variants`).
_FILENAME = re.compile(
    r"(?P<id>[0-9]{1,40})\.(?P<w>[0-9]{1,9})x(?P<h>[0-9]{1,9})(?P<rest>\..{1,60})", re.ASCII
)


def _split_name(name: str) -> tuple[int, int, int, str] | None:
    """``(object_id, width, height, keyed mimetype)`` of a file name this
    layout makes, else ``None``."""
    match = _FILENAME.fullmatch(name)
    if match is None:
        return None
    mimetype = split_suffix(match["rest"])
    if mimetype is None:
        return None
    return int(match["id"]), int(match["w"]), int(match["h"]), mimetype


def _sizes(named: dict[str, _T], object_id: int) -> Iterator[tuple[tuple[int, int, str], _T]]:
    """``(width, height, mimetype)`` and value of each file name of the
    object in an object directory's ``named``, variants included (their
    mimetype carries the variant: :func:`imageattach.variants.keyed_mimetype`;
    other names are skipped)."""
    for name, value in named.items():
        split = _split_name(name)
        if split is not None and split[0] == object_id:
            yield split[1:], value


class BaseFileSystemStore(Store):
    """Reads and writes the seed's directory layout under ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.bookkeeping = Bookkeeping(self.path)
        self._removed_stale = False

    def get_path(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> tuple[str, str, str, str]:
        """The key as path segments, relative to :attr:`path`; a variant's
        name has its token before the extension (:mod:`imageattach.variants`)."""
        filename = f"{object_id}.{width}x{height}{suffix(mimetype)}"
        return object_type, str(object_id % 1000), str(object_id // 1000), filename

    def key_path(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        """The key as a relative URL path (on-demand resize URLs)."""
        return "/".join(self.get_path(object_type, object_id, width, height, mimetype))

    def split_key_path(self, path: str) -> tuple[str, int, int, int, str] | None:
        """``(object_type, object_id, width, height, keyed mimetype)`` of a
        path shaped like :meth:`key_path`'s, else ``None``."""
        segments = path.split("/")
        if len(segments) != 4 or segments[0][:1] in ("", "."):
            return None
        name = _split_name(segments[3])
        if name is None:
            return None
        return segments[0], *name

    def _object_directory(self, object_type: str, object_id: int) -> tuple[str, ...]:
        """The path segments of the directory holding the object's files."""
        return self.get_path(object_type, object_id, 0, 0, "image/png")[:3]

    def _full_path(self, *key: Any) -> str:
        return os.path.join(self.path, *self.get_path(*key))

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
        """Write atomically: a temporary file in ``.imageattach-tmp/``, then
        :func:`os.replace`, so a reader never sees a partial file.  On any
        failure the temporary file is removed and an existing file is left
        as it was; a process killed meanwhile leaves it behind, and the
        first write of a later process removes it once it is an hour old.

        :raises StoreError: the disk is full (``ENOSPC``, ``EDQUOT``,
            ``EFBIG``) or another filesystem error.
        :raises StoreAccessDeniedError: the directory is read-only.
        """
        key = (object_type, object_id, width, height, mimetype)
        path = self._full_path(*key)
        directory = os.path.dirname(path)
        errors = functools.partial(_store_errors, "write", self.key_path(*key), self.path)
        with errors():
            if not self._removed_stale:
                self._removed_stale = True
                self.bookkeeping.remove_stale_temporary_files()
            os.makedirs(directory, exist_ok=True)
            fd, temp_path = self.bookkeeping.temporary_file()
        try:
            try:
                # Read outside the error translation: a failing upload is
                # the caller's error, not the store's.
                while chunk := file.read(_COPY_CHUNK):
                    with errors():
                        _write_all(fd, chunk)
            finally:
                with errors():
                    os.close(fd)
            with errors():
                os.chmod(temp_path, 0o644)
                os.replace(temp_path, path)
                self.bookkeeping.forget_derived(self.get_path(*key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_path)
            raise

    def delete_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> None:
        """Remove the file; a missing one is not an error.

        :raises StoreAccessDeniedError: the directory is read-only.
        """
        key = (object_type, object_id, width, height, mimetype)
        with _store_errors("delete", self.key_path(*key), self.path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._full_path(*key))
            self.bookkeeping.forget_derived(self.get_path(*key))

    def get_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> IO[bytes]:
        """Open the file for reading.

        :raises FileNotFoundInStoreError: there is no such file (a
            :exc:`FileNotFoundError`, as the seed raised).
        """
        key = (object_type, object_id, width, height, mimetype)
        with _store_errors("read", self.key_path(*key), self.path):
            return open(self._full_path(*key), "rb")

    def lock_object(self, object_type: str, object_id: int) -> AbstractContextManager[None]:
        """An :func:`fcntl.flock` lock in ``.imageattach-locks/objects/``."""
        return self.bookkeeping.lock(f"{object_type}/{object_id}")

    def file_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str | None:
        key = (object_type, object_id, width, height, mimetype)
        with _store_errors("read", self.key_path(*key), self.path):
            try:
                return version_of(os.stat(self._full_path(*key)))
            except FileNotFoundError:
                return None

    def open_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> tuple[IO[bytes], str | None]:
        file = self.get_file(object_type, object_id, width, height, mimetype)
        return file, version_of(os.fstat(file.fileno()))

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
        key = (object_type, object_id, width, height, mimetype)
        self.put_file(file, *key, True)
        with _store_errors("write", self.key_path(*key), self.path):
            self.bookkeeping.mark_derived(self.get_path(*key), source_version)

    def derived_source(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str | None:
        """The :meth:`file_version` of the original the on-demand thumbnail
        under the key was made from (its marker file); ``None`` for a file
        :meth:`put_file` wrote (a thumbnail row's) or no file."""
        key = (object_type, object_id, width, height, mimetype)
        with _store_errors("read", self.key_path(*key), self.path):
            return self.bookkeeping.derived_source(self.get_path(*key))

    def derived_files(self, object_type: str, object_id: int) -> dict[tuple[int, int, str], str]:
        segments = self._object_directory(object_type, object_id)
        with _store_errors("list", "/".join(segments) + "/", self.path):
            markers = self.bookkeeping.derived(segments)
        return dict(_sizes(markers, object_id))

    def remove_stale_temporary_files(self, max_age: float = STALE_TEMPORARY_AGE) -> int:
        """Remove the temporary files of writes that were interrupted (their
        process killed) at least ``max_age`` seconds ago; how many.  The
        first write of each process does it with the default age."""
        with _store_errors("clean", TEMPORARY_DIRECTORY, self.path):
            return self.bookkeeping.remove_stale_temporary_files(max_age)

    def get_url(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        return self.base_url + "/".join(
            self.get_path(object_type, object_id, width, height, mimetype)
        )

    @property
    def base_url(self) -> str:
        """The URL that :attr:`path` is served at, ending in ``/``."""
        raise NotImplementedError("base_url has to be implemented")

    def list_files(self, object_type: str, object_id: int) -> list[tuple[int, int, str]]:
        segments = self._object_directory(object_type, object_id)
        with _store_errors("list", "/".join(segments) + "/", self.path):
            try:
                names = os.listdir(os.path.join(self.path, *segments))
            except FileNotFoundError:
                return []
        return sorted(size for size, _ in _sizes(dict.fromkeys(names), object_id))


class FileSystemStore(BaseFileSystemStore):
    """Files under ``path``, URLs under the fixed ``base_url``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        base_url: str,
        *,
        image_limits: ImageLimits | None = None,
    ) -> None:
        super().__init__(path)
        #: The limits uploads are decoded under (``None``: the defaults).
        self.image_limits = check_limits("image_limits", image_limits)
        if not isinstance(base_url, str) or not base_url:
            raise ConfigurationError("base_url must be a non-empty string")
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"

    @property
    def base_url(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({self.path!r}, {self._base_url!r})"


class HttpExposedFileSystemStore(BaseFileSystemStore):
    """Files under ``path``, served by this store's own middleware under
    ``/<prefix>/``, with URLs built from the current request.

    :param path: the directory holding the files.
    :param prefix: the URL path the files are served under.
    :param host_url_getter: a callable returning the host URL (e.g.
        ``'https://example.com/'``) for code that runs outside a request,
        such as a task queue worker.  It takes precedence over the request.
    :param cors: ``True`` to allow any origin, or a list of allowed origins.
    :param secret_key: signs on-demand resize URLs (see :meth:`locate_resized`
        and docs/ondemand.md): a ``str``/``bytes`` key of 16 bytes or more,
        or a sequence of them to rotate keys (the first signs, all verify).
    :param resize_allowlist: widths/heights whose resize URLs need no
        signature (``locate(width=w)`` or ``locate(height=h)`` for a listed
        ``w`` or ``h``).
    :param max_resize_dimension: the largest width or height made on demand.
    :param max_source_pixels: the largest original (width x height, read
        from its header) accepted at upload and resized on demand; overrides
        ``image_limits.pixels``.
    :param image_limits: the bounds on decoding an upload or an original
        (:class:`~imageattach.limits.ImageLimits`: pixels, frames, metadata
        bytes, time and memory per job; see docs/security.md).
    :param resize_workers: thumbnails made at once (default: one per CPU).
    :param resize_queue: generations waiting for a worker before requests
        get 503 with ``Retry-After``.
    :param presets: named ``locate()`` options, e.g. ``{"avatar": {"width":
        150, "height": 150, "fit": "cover", "format": "auto"}}``, used as
        ``locate(preset="avatar")`` (docs/ondemand.md).
    :param presets_only: serve preset URLs without a signature, and refuse
        every other resize URL (403).
    :param resize_lock: ``"redis://host:6379/0"`` or a ``redis.Redis``
        client: servers sharing the directory (a shared volume) make each
        thumbnail once, under a lease in Redis (:mod:`imageattach.leases`,
        docs/scaling.md).  Default: lock files in the directory.
    :param resize_lock_ttl: seconds a lease outlives a crashed holder (30).
    :param resize_lock_prefix: the start of the lease keys (default
        ``imageattach:fs:<absolute path>``; set it when the servers mount
        the volume at different paths).
    :param resize_lock_fallback: while Redis is down, ``"local"`` (the
        default: the lock files, with a logged warning) or ``"refuse"``
        (503).
    :param serve_options: further serving options, by name: any field of
        :class:`~imageattach.middleware.options.ServeOptions` (``missing``,
        ``cache_control``, ``versioned_cache_control``, ``follow_symlinks``,
        ``trusted_proxy_headers``...).  See docs/serving.md.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        prefix: str = "__images__",
        host_url_getter: Callable[[], str] | None = None,
        *,
        cors: bool | list[str] | tuple[str, ...] = False,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        resize_allowlist: Iterable[int] | None = None,
        max_resize_dimension: int = 4096,
        max_source_pixels: int | None = None,
        image_limits: ImageLimits | None = None,
        resize_workers: int | None = None,
        resize_queue: int = 32,
        presets: Mapping[str, Mapping[str, Any]] | None = None,
        presets_only: bool = False,
        resize_lock: str | Any | None = None,
        resize_lock_ttl: float | None = None,
        resize_lock_prefix: str | None = None,
        resize_lock_fallback: str | None = None,
        **serve_options: Any,
    ) -> None:
        from ..leases import RedisLeases, resize_leases
        from ..ondemand.resizer import Resizer

        super().__init__(path)
        leases = resize_leases(
            resize_lock,
            where=f"fs:{os.path.abspath(self.path)}",
            ttl=resize_lock_ttl,
            prefix=resize_lock_prefix,
            fallback=resize_lock_fallback,
        )
        #: The leases on-demand generations take (``None``: lock files).
        #: Object locks stay lock files on the volume itself, which every
        #: process writing to it takes, configured with Redis or not.
        self.resize_lock: RedisLeases | None = (
            None
            if leases is None
            else leases.namespace(
                "resize", local=FileLocks(os.path.join(self.path, LOCK_DIRECTORY))
            )
        )
        if host_url_getter is not None and not callable(host_url_getter):
            raise ConfigurationError("host_url_getter must be callable")
        if not isinstance(prefix, str):
            raise ConfigurationError("prefix must be a string")
        self.prefix = prefix.strip("/")
        self.host_url_getter = host_url_getter
        #: The validated serving options of :meth:`wsgi_middleware` and
        #: :meth:`asgi_middleware`.
        self.serve_options = make_options(None, {"cors": cors, **serve_options})
        self.cors = self.serve_options.cors
        #: Builds and serves the on-demand resize URLs (docs/ondemand.md).
        self.resizer: Resizer = Resizer(
            self,
            secret_key=secret_key,
            resize_allowlist=resize_allowlist,
            max_resize_dimension=max_resize_dimension,
            max_source_pixels=max_source_pixels,
            image_limits=image_limits,
            resize_workers=resize_workers,
            resize_queue=resize_queue,
            presets=presets,
            presets_only=presets_only,
            locks=self.resize_lock,
        )
        #: The limits uploads and on-demand thumbnails are decoded under.
        self.image_limits = self.resizer.limits
        #: Named ``locate()`` options, for ``locate(preset=...)``.
        self.presets = self.resizer.presets
        if self.resizer.enabled and self.serve_options.on_miss is not None:
            raise ConfigurationError(
                "on_miss cannot be given with secret_key or resize_allowlist: "
                "the on-demand resizer is the store's on_miss hook"
            )

    @property
    def base_url(self) -> str:
        host_url = require_host_url(
            self.host_url_getter, type(self).__qualname__, "host_url_getter"
        )
        return f"{host_url}{self.prefix}/" if self.prefix else host_url

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
        thumbnail of the original ``image``, made by the middleware when it is
        first requested.  No I/O.

        ``variant`` (fit, gravity, focal point, quality) and ``format`` (an
        output mimetype, or ``"auto"``) make it a variant's URL, which
        needs the key (:mod:`imageattach.variants`); ``preset`` names the
        store's preset the URL is of (with ``presets_only``, unsigned).

        :raises SigningNotConfiguredError: the store has neither a
            ``secret_key`` nor a ``resize_allowlist`` covering the size.
        :raises ImageTooLargeError: the size is above ``max_resize_dimension``.
        """
        return self.resizer.url(image, width, height, variant=variant, format=format, preset=preset)

    def middleware_options(self, *, asynchronous: bool) -> ServeOptions:
        """The options the middlewares are built with: :attr:`serve_options`.

        The extension point for misses: an override returns them with an
        ``on_miss`` hook (blocking for WSGI; a coroutine function may be
        given when ``asynchronous``) and, if it has versioned URLs of its own,
        an extended ``is_versioned``.  With a ``secret_key`` or a
        ``resize_allowlist``, the hook is the on-demand resizer; its URLs
        carry ``_ts`` and so are versioned already.
        """
        if not self.resizer.enabled:
            return self.serve_options
        return self.resizer.serve_options(self.serve_options, asynchronous=asynchronous)

    def wsgi_middleware(self, app: Any) -> Any:
        """Wrap the WSGI ``app``: serve this store's files under ``/<prefix>/``
        and make each request's base URL current for :meth:`locate`::

            app.wsgi_app = store.wsgi_middleware(app.wsgi_app)  # Flask
        """
        from ..middleware.wsgi import StaticServerMiddleware

        return StaticServerMiddleware(
            app,
            "/" + self.prefix,
            self.path,
            block_size=_SERVE_BLOCK_SIZE,
            options=self.middleware_options(asynchronous=False),
        )

    def asgi_middleware(self, app: Any) -> Any:
        """Wrap the ASGI ``app``: serve this store's files under ``/<prefix>/``
        and make each request's base URL current for :meth:`locate`."""
        from ..middleware.asgi import StaticFilesMiddleware

        return StaticFilesMiddleware(
            app, "/" + self.prefix, self.path, options=self.middleware_options(asynchronous=True)
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__qualname__}({self.path!r}, {self.prefix!r}, {self.host_url_getter!r})"
        )


#: Chunk size of the bodies the store's WSGI middleware streams.
_SERVE_BLOCK_SIZE = 64 * 1024


def __getattr__(name: str) -> Any:
    # The seed's ``from sqlalchemy_imageattach.stores.fs import
    # StaticServerMiddleware`` keeps working; imported lazily, as the
    # middleware imports this module.
    if name == "StaticServerMiddleware":
        from ..middleware.wsgi import StaticServerMiddleware

        return StaticServerMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
