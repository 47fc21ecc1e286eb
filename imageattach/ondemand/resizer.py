"""The on-demand resizer: what the serving middleware calls when a resize URL
misses the store.

:meth:`Resizer.handle` (WSGI, blocking) and :meth:`Resizer.handle_async`
(ASGI, never blocks the event loop) are the serving middleware's ``on_miss``
hooks (see :mod:`imageattach.middleware.miss`).  They answer with
:data:`~imageattach.middleware.miss.FILE_READY` (the file now exists: serve
it), a :class:`~imageattach.middleware.miss.MissResponse` (an error status
with a short text) or ``None`` (not a resize URL: the usual miss).  The
resizer works on any store that lays out its keys as paths
(:class:`~.url.KeyLayout`); :class:`~.redirect.RedirectingResizer` answers
with redirects instead, for stores that serve their files elsewhere (S3).
In order:

1. parse and authorise the URL, and check the size follows from the
   original's — all without touching the disk;
2. join the generation already running for that key, or start one in the
   bounded pool (full → 503 with ``Retry-After``);
3. in the pool: take the cross-process lock, re-check the store (a
   thumbnail made of another original counts as missing), read the
   original named by the URL, check its header, make the thumbnail, store it
   atomically under the key ``generate_thumbnail`` uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any, Protocol

from .. import observe
from ..exceptions import (
    ConfigurationError,
    ImageError,
    ImageTooLargeError,
    ImagingUnavailableError,
    SigningNotConfiguredError,
    StoreUnavailableError,
    UnsupportedImageError,
)
from ..filelocks import FileLocks, NamedLocks
from ..limits import DEFAULT_LIMITS, ImageLimits, check_limits
from ..middleware.miss import FILE_READY, FileReady, MissResponse, Redirect
from ..middleware.options import ServeOptions, make_options
from ..sizing import thumbnail_mimetype, thumbnail_size
from ..store import check_object_id, created_tag
from ..stores.bookkeeping import LOCK_DIRECTORY
from ..stores.fs import BaseFileSystemStore
from ..validation import check_int, check_seconds
from ..variants import AUTO, Variant, auto_path, check_presets, keyed_mimetype, resolve
from .flight import SingleFlight
from .pool import BoundedPool
from .signing import SecretKey, Signer, is_allowlisted, normalize_allowlist
from .url import KeyLayout, ResizeRequest, build_query, is_resize_query, make_request, parse

if TYPE_CHECKING:
    from ..entity import Image
    from ..imaging import RenderSpec

__all__ = ["ResizableStore", "Resizer", "is_derived_size"]

logger = logging.getLogger("imageattach.ondemand")

#: Seconds a client is told to wait when the pool is full.
RETRY_AFTER = 1

#: How many times a generation starts again when its original is replaced
#: (under the same key) while it runs.
_ATTEMPTS = 3

#: What a generation ends with.
Outcome = FileReady | MissResponse | Redirect

_NOT_FOUND = MissResponse(404, "Not Found")
_FORBIDDEN = MissResponse(403, "Forbidden: the URL's signature is missing or invalid")
_BUSY = MissResponse(
    503,
    "Service Unavailable: too many thumbnails are being made, retry shortly",
    (("Retry-After", str(RETRY_AFTER)),),
)


class _Superseded(Exception):
    """The original kept being replaced while its thumbnail was made."""


class ResizableStore(KeyLayout, Protocol):
    """What the resizer needs of a store: its key layout and the primitives
    (see :class:`~imageattach.store.Store`)."""

    def get_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> IO[bytes]: ...

    def put_file(
        self,
        file: IO[bytes],
        object_type: str,
        object_id: int,
        width: int,
        height: int,
        mimetype: str,
        reproducible: bool,
    ) -> None: ...

    def exists(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> bool | None: ...

    def get_url(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str: ...

    def lock_object(self, object_type: str, object_id: int) -> AbstractContextManager[None]: ...

    def file_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str | None: ...

    def open_version(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> tuple[IO[bytes], str | None]: ...

    def put_derived(
        self,
        file: IO[bytes],
        object_type: str,
        object_id: int,
        width: int,
        height: int,
        mimetype: str,
        source_version: str,
    ) -> None: ...

    def derived_source(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str | None: ...


class Resizer:
    """Builds and serves the on-demand resize URLs of one store.

    The options are those of
    :class:`~imageattach.stores.fs.HttpExposedFileSystemStore`; see
    docs/ondemand.md.  ``lock_dir`` holds the cross-process lock files
    (default: ``.imageattach-locks`` in a filesystem store's root; no
    cross-process lock for other stores unless given); ``locks`` replaces it
    with other :class:`~imageattach.filelocks.NamedLocks` (e.g. leases shared
    by several servers).  ``key_option`` is the
    store option named in configuration errors.
    """

    def __init__(
        self,
        store: ResizableStore,
        *,
        secret_key: SecretKey | None = None,
        resize_allowlist: Iterable[int] | None = None,
        max_resize_dimension: int = 4096,
        max_source_pixels: int | None = None,
        image_limits: ImageLimits | None = None,
        resize_workers: int | None = None,
        resize_queue: int = 32,
        lock_dir: str | None = None,
        locks: NamedLocks | None = None,
        wait_timeout: float = 30.0,
        key_option: str = "secret_key",
        presets: Mapping[str, Mapping[str, Any]] | None = None,
        presets_only: bool = False,
    ) -> None:
        self.store = store
        self.signer = None if secret_key is None else Signer(secret_key)
        self.allowlist = normalize_allowlist(resize_allowlist)
        #: Named ``locate()`` options (:func:`imageattach.variants.check_presets`).
        self.presets = check_presets(presets)
        if not isinstance(presets_only, bool):
            raise ConfigurationError(f"presets_only must be True or False, not {presets_only!r}")
        if presets_only and not self.presets:
            raise ConfigurationError("presets_only=True needs presets={...}")
        if presets_only and self.allowlist:
            raise ConfigurationError(
                "presets_only=True refuses every URL but presets': drop resize_allowlist "
                "(or declare its sizes as presets)"
            )
        #: Whether only preset URLs are made and served (unsigned, but for
        #: ``gravity="focal"`` presets, whose focal point is signed).
        self.presets_only = presets_only
        self.max_resize_dimension = check_int("max_resize_dimension", max_resize_dimension)
        if self.max_resize_dimension > 1_000_000:
            raise ConfigurationError("max_resize_dimension must be at most 1000000")
        check_limits("image_limits", image_limits)
        limits = image_limits or DEFAULT_LIMITS
        if max_source_pixels is not None:
            limits = limits.replace(pixels=check_int("max_source_pixels", max_source_pixels))
        #: The limits every generation runs under (``max_source_pixels`` is
        #: their ``pixels``).
        self.limits = limits
        self.max_source_pixels = limits.pixels
        self.wait_timeout = check_seconds("wait_timeout", wait_timeout)
        self.pool = BoundedPool(
            workers=(os.cpu_count() or 1) if resize_workers is None else resize_workers,
            queue=resize_queue,
        )
        if locks is not None and lock_dir is not None:
            raise ConfigurationError("give lock_dir or locks, not both")
        if lock_dir is None and isinstance(store, BaseFileSystemStore):
            lock_dir = os.path.join(store.path, LOCK_DIRECTORY)
        #: What serialises generations of one key across processes (or
        #: servers); ``None``: only this process's single flight.
        self.locks: NamedLocks | None = (
            locks if locks is not None else None if lock_dir is None else FileLocks(lock_dir)
        )
        self.key_option = key_option
        self._flights: SingleFlight[Outcome] = SingleFlight()
        self._pid = os.getpid()
        self._count_lock = threading.Lock()
        #: Thumbnails this process generated (for tests and benchmarks).
        self.generations = 0

    @property
    def enabled(self) -> bool:
        """Whether resize URLs can be authorised (a key or an allowlist)."""
        return self.signer is not None or bool(self.allowlist) or self.presets_only

    # -- building URLs ---------------------------------------------------------

    def url(
        self,
        image: Image,
        width: int,
        height: int,
        *,
        variant: Variant | None = None,
        format: str | None = None,
        preset: str | None = None,
    ) -> str:
        """The on-demand URL of the ``width`` x ``height`` thumbnail of the
        original ``image``, or of a variant of it: ``variant`` (fit,
        gravity, focal point, quality) and ``format`` (a mimetype, or
        ``"auto"``: the URL names the negotiated variant, see
        :func:`imageattach.variants.negotiate`).

        :raises SigningNotConfiguredError: with neither a key nor an allowlist
            that covers the size (variants need the key).
        :raises ImageTooLargeError: above ``max_resize_dimension``.
        """
        if max(width, height) > self.max_resize_dimension:
            raise ImageTooLargeError(
                f"{width}x{height} is above max_resize_dimension={self.max_resize_dimension}"
            )
        request = self.request_for(image, width, height, variant=variant, format=format)
        if self.presets_only and preset is None:
            raise SigningNotConfiguredError(
                "the store has presets_only=True: locate(preset=...) with one of "
                f"{', '.join(sorted(self.presets))}"
            )
        url = self._url(request)
        message = request.message
        if format == AUTO:
            url = auto_path(url)
            message = request.auto_message(self.store) or message
        if self.presets_only and self._is_preset(request, focal=False):
            signature: str | None = None
        elif self.signer is not None:
            signature = self.signer.sign(message)
        elif variant is None and is_allowlisted(self.allowlist, request):
            signature = None
        else:
            raise SigningNotConfiguredError(self._not_configured(width, height))
        return f"{url}?{build_query(request, signature)}"

    def request_for(
        self,
        image: Image,
        width: int,
        height: int,
        *,
        variant: Variant | None = None,
        format: str | None = None,
    ) -> ResizeRequest:
        """The request for the ``width`` x ``height`` thumbnail (or variant)
        of the original ``image``, as its URL names it (``format="auto"``:
        the fallback format; the URL's other two formats are
        ``request.format`` replaced).  No I/O, no authorisation."""
        return make_request(
            self.store,
            object_type=image.object_type,
            object_id=check_object_id(image),
            width=width,
            height=height,
            source_width=image.width,
            source_height=image.height,
            source_mimetype=image.mimetype,
            tag=created_tag(image.created_at),
            mimetype=_keyed(image.mimetype, variant, format),
        )

    def _url(self, request: ResizeRequest) -> str:
        """The URL of ``request`` without its query: the thumbnail's own URL,
        as the store serves it itself."""
        return self.store.get_url(
            request.object_type, request.object_id, request.width, request.height, request.mimetype
        )

    def _is_preset(self, request: ResizeRequest, *, focal: bool) -> bool:
        """Whether ``request`` is what one of the store's presets gives for
        its original (``focal``: also presets with ``gravity="focal"``,
        taking the request's focal point, which only a signature vouches
        for).  No I/O: the original's size and type are in the URL."""
        fallback = thumbnail_mimetype(request.source_mimetype)
        asked = request.variant
        for options in self.presets.values():
            centre = None
            if options.get("gravity") == "focal":
                if not focal or asked is None:
                    continue
                centre = asked.relative_focal
            try:
                resolved = resolve(
                    request.source_width,
                    request.source_height,
                    request.source_mimetype,
                    focal=centre,
                    **options,  # type: ignore[arg-type]
                )
            except (ValueError, TypeError, ImageTooLargeError):
                continue
            if (resolved.width, resolved.height) != (request.width, request.height):
                continue
            if resolved.format == AUTO:
                variant = resolved.variant or Variant()
                formats: tuple[str, ...] = ("image/avif", "image/webp", fallback)
                if asked == variant and request.format in formats:
                    return True
            elif request.mimetype == _keyed(
                request.source_mimetype, resolved.variant, resolved.format
            ):
                return True
        return False

    def _not_configured(self, width: int, height: int) -> str:
        how = (
            f"pass {self.key_option}=... (e.g. secrets.token_urlsafe(32), kept in your settings) "
            "to the store to sign resize URLs"
        )
        if not self.allowlist:
            return f"on-demand thumbnails are not enabled: {how}, or resize_allowlist=[...]"
        return (
            f"neither the width nor the height of {width}x{height} is in the store's "
            f"resize_allowlist {sorted(self.allowlist)}: add it, or {how}"
        )

    # -- answering misses ------------------------------------------------------

    def serve_options(self, base: ServeOptions, *, asynchronous: bool) -> ServeOptions:
        """``base`` with this resizer as the middleware's ``on_miss`` hook."""
        hook = self.handle_async if asynchronous else self.handle
        return make_options(base, {"on_miss": hook})

    def handle(self, relative_path: str, query_string: str) -> Outcome | None:
        """Answer a miss of ``relative_path`` (relative to the store root),
        blocking until the thumbnail is stored."""
        started = self._begin(relative_path, query_string)
        if not isinstance(started, Future):
            return started
        try:
            return _answered(started.result(timeout=self.wait_timeout))
        except TimeoutError:  # concurrent.futures.TimeoutError since 3.11
            return _busy("wait_timeout", relative_path)

    async def handle_async(self, relative_path: str, query_string: str) -> Outcome | None:
        """:meth:`handle` for an event loop: the work runs in the pool and the
        loop only awaits it."""
        started = self._begin(relative_path, query_string)
        if not isinstance(started, Future):
            return started
        try:
            return _answered(await _wait(started, self.wait_timeout))
        except TimeoutError:
            return _busy("wait_timeout", relative_path)

    def _begin(self, relative_path: str, query_string: str) -> Outcome | Future[Outcome] | None:
        """Authorise the URL and answer at once if possible, or start (or
        join) the generation and return its future."""
        decision = self._authorise(relative_path, query_string)
        if not isinstance(decision, ResizeRequest):
            return decision
        known = self._known(decision)
        if known is not None:
            return known
        future = self._start(decision)
        return _busy("queue_full", decision.path) if future is None else future

    def _authorise(
        self, relative_path: str, query_string: str
    ) -> ResizeRequest | MissResponse | None:
        """Everything that needs no I/O: the request, or why it is refused."""
        if not self.enabled or not is_resize_query(query_string):
            return None
        parsed = parse(self.store, relative_path, query_string)
        if parsed is None:
            return _NOT_FOUND
        request, signature = parsed
        signed = self.signer is not None and signature is not None
        if signed:
            assert self.signer is not None and signature is not None
            auto = request.auto_message(self.store)
            signed = self.signer.verify(request.message, signature) or (
                auto is not None and self.signer.verify(auto, signature)
            )
        variant = request.variant
        if self.presets_only:
            # Presets only: unsigned, or signed for a focal point.
            if not self._is_preset(request, focal=signed):
                return _FORBIDDEN
        elif not signed and (variant is not None or not is_allowlisted(self.allowlist, request)):
            return _FORBIDDEN
        if max(request.width, request.height) > self.max_resize_dimension:
            return MissResponse(
                400,
                f"Bad Request: thumbnails are at most {self.max_resize_dimension} pixels wide/high",
            )
        if request.source_width * request.source_height > self.max_source_pixels:
            return _source_too_large(self.max_source_pixels)
        # Even a signature made by mistake cannot ask for a distorted size
        # (a cover crop fills its box: any box is undistorted).
        if (variant is None or variant.fit == "contain") and not is_derived_size(
            request.source_width, request.source_height, request.width, request.height
        ):
            return _NOT_FOUND
        return request

    def _known(self, request: ResizeRequest) -> Outcome | None:
        """The answer for a thumbnail known to be stored already, without
        the pool; ``None`` to go on (the filesystem core has looked already)."""
        return None

    def _stored(self, request: ResizeRequest) -> Outcome:
        """The answer once the thumbnail is in the store: serve it."""
        return FILE_READY

    def _start(self, request: ResizeRequest) -> Future[Outcome] | None:
        if self._pid != os.getpid():
            # A forked child must not wait on its parent's flights.
            self._flights = SingleFlight()
            self._pid = os.getpid()
        # The job runs in this context (e.g. under the request's trace span).
        context = contextvars.copy_context()
        return self._flights.join(
            request.path, lambda: self.pool.submit(context.run, self._run, request)
        )

    def generate(self, request: ResizeRequest) -> Outcome:
        """Make and store ``request``'s thumbnail now, in this thread, unless
        it is stored already: what a background job calls (see
        :mod:`imageattach.tasks`).  The same lock, limits and sandboxed
        workers as on-demand; no authorisation (the caller is the app).
        Failures are answers, as for a request: ``FILE_READY`` (or a
        redirect) once it is stored."""
        return self._run(request)

    # -- in the pool -----------------------------------------------------------

    def _run(self, request: ResizeRequest) -> Outcome:
        """Generate, turning every failure into a short answer."""
        with observe.Job(request.path, request.width, request.height, request.mimetype) as job:
            try:
                made = self._generate(request, job)
            except Exception as error:
                reason, answer = _failure(request, error)
                job.end(reason, error)
                return answer
            job.end("succeeded" if made else "already_stored")
        return self._stored(request)

    def _generate(self, request: ResizeRequest, job: observe.Job) -> bool:
        """Make and store the thumbnail; ``False`` if it was stored already."""
        with contextlib.ExitStack() as locked:
            if self.locks is not None:
                with job.lock_wait():
                    locked.enter_context(self.locks.hold(request.path, timeout=self.wait_timeout))
            # Another thread or process may have stored it while we waited.
            with job.span("store.exists"):
                if _exists(self.store, request):
                    return False
            started = time.perf_counter()
            for _ in range(_ATTEMPTS):
                if self._make_and_publish(request, job):
                    break
            else:
                raise _Superseded(request.path)
            with self._count_lock:
                self.generations += 1
        logger.info(
            "generated %s in %.1f ms",
            request.path,
            (time.perf_counter() - started) * 1000,
            extra={"image_key": request.path},
        )
        return True

    def _make_and_publish(self, request: ResizeRequest, job: observe.Job) -> bool:
        """Make the thumbnail and store it, unless its original was replaced
        meanwhile (then ``False``: make it again, of the new one).

        It is published under the object's lock, and only if the original is
        still the file it was made from: a transaction that deletes or
        replaces the original takes the same lock, so the thumbnail either
        is published before (and that transaction's cleanup removes it) or
        is discarded.  Nothing made of a deleted original outlives it.
        """
        store = self.store
        source = (
            request.object_type,
            request.object_id,
            request.source_width,
            request.source_height,
            request.source_mimetype,
        )
        key = (request.object_type, request.object_id, request.width, request.height)
        with job.span("store.open_version"):
            file, version = store.open_version(*source)
        with file, self.pool.working(), job.span("render"):
            # A file of the filesystem store goes to the worker as a
            # descriptor; anything else is copied into memory first.
            data = self._make(file, request)
        mimetype = request.mimetype
        with store.lock_object(request.object_type, request.object_id):
            if version is None:  # a store that does not track versions
                with job.span("store.put_file"):
                    store.put_file(io.BytesIO(data), *key, mimetype, True)
                return True
            with job.span("store.file_version"):
                current = store.file_version(*source)
            if current is None:
                raise FileNotFoundError(f"the original of {request.path} was deleted")
            if current != version:
                return False
            with job.span("store.put_derived"):
                store.put_derived(io.BytesIO(data), *key, mimetype, version)
        return True

    def _make(self, file: IO[bytes], request: ResizeRequest) -> bytes:
        """The encoded thumbnail or variant of the original open in ``file``.

        :raises UnsupportedImageError: the worker made something else than
            the URL names (another type or size).
        """
        from ..imaging import make_thumbnail, render

        variant = request.variant
        if variant is None:
            data, mimetype = make_thumbnail(
                file, width=request.width, height=request.height, limits=self.limits
            )
            if mimetype != request.mimetype:
                raise UnsupportedImageError(
                    f"the original's thumbnails are {mimetype}, not {request.mimetype}"
                )
            return data
        result = render(file, render_spec(request), limits=self.limits)
        if (result.mimetype, result.width, result.height) != (
            request.format,
            request.width,
            request.height,
        ):
            raise UnsupportedImageError(
                f"the variant came out {result.width}x{result.height} {result.mimetype}, "
                f"not {request.width}x{request.height} {request.format}"
            )
        return result.data

    def shutdown(self) -> None:
        """Wait for running generations and stop the pool's threads."""
        self.pool.shutdown()

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} for {self.store!r}>"


def _failure(request: ResizeRequest, error: Exception) -> tuple[str, MissResponse]:
    """Why a generation failed (a ``reason`` of
    ``imageattach_generations_failed_total``) and the answer, logged with the
    image key."""
    extra = {"image_key": request.path}
    if isinstance(error, FileNotFoundError):
        logger.warning("on-demand thumbnail %s: no original: %s", request.path, error, extra=extra)
        return "not_found", MissResponse(404, "Not Found: the original image is not in the store")
    if isinstance(error, ImageError):
        # Too big, too slow, or undecodable: the original is bad.  The
        # messages are written for end users (the detail is logged).
        logger.warning("on-demand thumbnail %s: %s", request.path, error, extra=extra)
        return "unprocessable", MissResponse(422, f"Unprocessable: {error}")
    for kind, reason in _BUSY_FAILURES:
        if isinstance(error, kind):
            logger.warning(
                "on-demand thumbnail %s not made (%s): %s", request.path, reason, error, extra=extra
            )
            return reason, _BUSY
    logger.error("on-demand thumbnail %s failed", request.path, exc_info=error, extra=extra)
    return "error", MissResponse(500, "Internal Server Error: the thumbnail could not be made")


#: Failures answered 503 (retry later), by reason.
_BUSY_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (StoreUnavailableError, "store_unavailable"),
    (_Superseded, "superseded"),
    (TimeoutError, "busy"),
    (ImagingUnavailableError, "busy"),
)


def _busy(reason: str, key: str) -> MissResponse:
    """The 503 of a request refused for ``reason`` (counted and logged)."""
    recorder = observe.recorder
    if recorder is not None:
        recorder.busy(reason)
    logger.warning("on-demand thumbnail %s: 503 (%s)", key, reason, extra={"image_key": key})
    return _BUSY


def _answered(outcome: Outcome) -> Outcome:
    """A generation's answer to one of its waiters (its 503s counted)."""
    if outcome is _BUSY:
        recorder = observe.recorder
        if recorder is not None:
            recorder.busy("generation_failed")
    return outcome


def _keyed(source_mimetype: str, variant: Variant | None, format: str | None) -> str:
    """The keyed mimetype of a variant in ``format`` (a mimetype, ``None`` or
    ``"auto"``: the source's thumbnail format, the fallback)."""
    plain = thumbnail_mimetype(source_mimetype)
    output = plain if format is None or format == AUTO else format
    if variant is None and (output != plain or format == AUTO):
        variant = Variant()
    return keyed_mimetype(output, variant)


def render_spec(request: ResizeRequest) -> RenderSpec:
    """What the worker renders for a variant's request: exactly the size the
    URL names (``upscale=True``: the size was decided, clamped or not, when
    the URL was made)."""
    from ..imaging import RenderSpec

    variant = request.variant or Variant()
    formats = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp", "image/avif": "avif"}
    width: int | None = request.width
    height: int | None = request.height
    if variant.fit == "contain":
        original = (request.source_width, request.source_height)
        if thumbnail_size(*original, width=request.width) == (request.width, request.height):
            height = None
        elif thumbnail_size(*original, height=request.height) == (request.width, request.height):
            width = None
        else:  # a ratio's size: the width decides, the reply is checked
            height = None
    return RenderSpec(
        width=width,
        height=height,
        fit=variant.fit,
        gravity=variant.gravity,
        focal=variant.relative_focal,
        format=formats[request.format],
        quality=variant.quality,
        upscale=True,
    )


def is_derived_size(source_width: int, source_height: int, width: int, height: int) -> bool:
    """Whether ``locate(width=…)``, ``locate(height=…)`` or ``locate(ratio=…)``
    of a ``source_width`` x ``source_height`` original can yield ``width`` x
    ``height`` (see :func:`imageattach.sizing.thumbnail_size`)."""
    size = (width, height)
    original = (source_width, source_height)
    if size in (
        thumbnail_size(*original, width=width),
        thumbnail_size(*original, height=height),
    ):
        return True
    # A ratio rounds each side on its own, so it may give a size that neither
    # width= nor height= gives.  Each side rounds to its value for ratios in
    # [(n - 0.5) / o, (n + 0.5) / o); if the two ranges meet, try the middle
    # of where they meet (thumbnail_size has the last word on rounding).
    low = max(_lowest_ratio(width, source_width), _lowest_ratio(height, source_height))
    high = min((width + 0.5) / source_width, (height + 0.5) / source_height)
    return low < high and thumbnail_size(*original, ratio=(low + high) / 2) == size


def _lowest_ratio(side: int, source_side: int) -> float:
    # Sides are at least 1 pixel, so every small ratio gives a side of 1.
    return 0.0 if side == 1 else (side - 0.5) / source_side


def _exists(store: ResizableStore, request: ResizeRequest) -> bool:
    """Whether ``request``'s thumbnail is stored, made of the original now
    under the key the URL names.

    An on-demand thumbnail made of another original is not: a new original
    of another size may have thumbnails of the same keys as the old one's,
    which stay until the replacing transaction's cleanup, after its commit
    (for good if the cleanup is lost).  Served under the new URL, they would
    be cached as the new picture; made again instead, they are published
    over (under the object's lock, see :meth:`Resizer._make_and_publish`).
    A file with no record of its original (a thumbnail row's) is taken as
    it is.
    """
    key = (request.object_type, request.object_id, request.width, request.height, request.mimetype)
    found = store.exists(*key)
    if found is None:
        try:
            store.get_file(*key).close()
        except FileNotFoundError:
            return False
    elif not found:
        return False
    source = store.derived_source(*key)
    if source is None:
        return True
    return source == store.file_version(
        request.object_type,
        request.object_id,
        request.source_width,
        request.source_height,
        request.source_mimetype,
    )


def _source_too_large(max_pixels: int) -> MissResponse:
    return MissResponse(422, f"Unprocessable: the original image has more than {max_pixels} pixels")


async def _wait(future: Future[Outcome], timeout: float) -> Outcome:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # Not asyncio (e.g. trio under anyio): wait in a worker thread.
        import anyio.to_thread

        return await anyio.to_thread.run_sync(future.result, timeout, abandon_on_cancel=True)
    # shield(): a waiter that gives up (client gone) must not cancel the
    # generation other waiters share.
    waiting = asyncio.wrap_future(future, loop=loop)
    return await asyncio.wait_for(asyncio.shield(waiting), timeout)
