"""Pre-generation: making an original's thumbnails before anyone asks.

What an original should have ahead of time is its store's presets
(``presets=`` of the store) and the sizes named on its attachment::

    picture = image_attachment("UserPicture", pregenerate=[{"width": 100}, {"preset": "avatar"}])

Each size is a mapping of :meth:`~imageattach.entity.BaseImageSet.locate`
options; a ``format="auto"`` size stands for its three files (AVIF, WebP and
the source's thumbnail format), as the serving middleware negotiates them.
They are made by the store's on-demand resizer
(:meth:`~imageattach.ondemand.resizer.Resizer.generate`): the same key, lock,
limits and sandboxed workers as a first request would use, so a file made
here is the one that URL serves, and one that exists is skipped.  A store
without a resizer (a plain :class:`~imageattach.stores.fs.FileSystemStore`)
has nothing to pre-generate.

An original is described by :class:`Original`, which needs no database and
travels as a small JSON object (:meth:`Original.to_message`): what
:mod:`imageattach.tasks` enqueues after a commit, and what ``imageattach
pregenerate`` reads from the rows.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import observe
from .exceptions import ArgumentError, ConfigurationError, ImageError, StoreUnavailableError
from .validation import unknown_names
from .variants import AUTO, resolve

if TYPE_CHECKING:
    from .entity import Image
    from .ondemand.url import ResizeRequest
    from .store import Store

__all__ = [
    "SIZE_OPTIONS",
    "Original",
    "Report",
    "check_sizes",
    "image_key",
    "pregenerate",
    "requests_for",
    "sizes_of",
]

logger = logging.getLogger("imageattach.pregenerate")

#: The options of a pre-generated size: ``locate()``'s.
SIZE_OPTIONS = (
    "width",
    "height",
    "ratio",
    "fit",
    "gravity",
    "format",
    "quality",
    "upscale",
    "preset",
)
#: The concrete formats of ``format="auto"``, the fallback (``None``) last.
_AUTO_FORMATS: tuple[str | None, ...] = ("image/avif", "image/webp", AUTO)


def check_sizes(sizes: object) -> tuple[Mapping[str, Any], ...]:
    """Validate the ``pregenerate=`` sizes of an attachment: a sequence of
    mappings of ``locate()`` options (:data:`SIZE_OPTIONS`), ``preset``
    alone; values as ``locate()`` takes them (checked by resolving each for
    a 1000 x 1000 JPEG).  Preset names are checked against the store when
    the sizes are made (the store is not known yet).

    :raises ConfigurationError: anything else, naming the size and the
        unknown options.
    """
    if sizes is None:
        return ()
    if isinstance(sizes, str | bytes | Mapping) or not isinstance(sizes, Sequence):
        raise ConfigurationError(
            'pregenerate must be a list of locate() options, e.g. [{"width": 100}]'
        )
    checked = []
    for index, size in enumerate(sizes):
        where = f"pregenerate[{index}]"
        if not isinstance(size, Mapping) or not size:
            raise ConfigurationError(f"{where} must be a non-empty mapping of locate() options")
        unknown = [str(name) for name in size if name not in SIZE_OPTIONS]
        if unknown:
            raise ConfigurationError(f"{where}: {unknown_names('option', unknown, SIZE_OPTIONS)}")
        options = dict(size)
        if "preset" in options:
            if len(options) > 1:
                raise ConfigurationError(f"{where}: preset goes alone (it gives every option)")
            if not isinstance(options["preset"], str):
                raise ConfigurationError(f"{where}: a preset is named by a string")
        elif not {"width", "height", "ratio"} & set(options):
            raise ConfigurationError(f"{where} needs a width, a height or a ratio")
        else:
            focal = (0.5, 0.5) if options.get("gravity") == "focal" else None
            try:
                resolve(1000, 1000, "image/jpeg", focal=focal, **options)
            except (ArgumentError, TypeError, ValueError, ImageError) as error:
                raise ConfigurationError(f"{where}: {error}") from None
        checked.append(options)
    return tuple(checked)


#: The sizes of each image class's attachments (:func:`declare`).
_DECLARED: weakref.WeakKeyDictionary[type, tuple[Mapping[str, Any], ...]] = (
    weakref.WeakKeyDictionary()
)


def declare(image_class: type, sizes: Sequence[Mapping[str, Any]]) -> None:
    """Add ``sizes`` (checked) to what ``image_class``'s originals get;
    called when an attachment's mapping is configured."""
    known = _DECLARED.get(image_class, ())
    _DECLARED[image_class] = known + tuple(size for size in sizes if size not in known)


def sizes_of(image_class: type) -> tuple[Mapping[str, Any], ...]:
    """The ``pregenerate=`` sizes of the attachments of ``image_class``
    (and of its image base classes)."""
    found: tuple[Mapping[str, Any], ...] = ()
    for cls in image_class.__mro__:
        found += tuple(size for size in _DECLARED.get(cls, ()) if size not in found)
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class Original:
    """An original image as pre-generation needs it: its store key, its
    focal point and its attachment's sizes.  Quacks like an
    :class:`~imageattach.entity.Image` for
    :meth:`~imageattach.ondemand.resizer.Resizer.request_for`."""

    object_type: str
    object_id: int
    width: int
    height: int
    mimetype: str
    focal: tuple[float, float] | None = None
    sizes: tuple[Mapping[str, Any], ...] = ()
    #: Only the URL's ``_ts`` uses it, never a generation.
    created_at: None = None

    @classmethod
    def of(cls, image: Image) -> Original:
        """The original ``image``, from its loaded attributes only (it is
        also called while its row is flushed, when loading would query)."""
        from .store import check_object_id

        return cls(
            object_type=image.object_type,
            object_id=check_object_id(image),
            width=image.width,
            height=image.height,
            mimetype=image.mimetype,
            focal=image.focal_point_value() if "focal_point" in image.__dict__ else None,
            sizes=sizes_of(type(image)),
        )

    def to_message(self) -> dict[str, Any]:
        """A JSON-serialisable dict (what crosses a task queue)."""
        return {
            "object_type": self.object_type,
            "object_id": self.object_id,
            "width": self.width,
            "height": self.height,
            "mimetype": self.mimetype,
            "focal": None if self.focal is None else list(self.focal),
            "sizes": [dict(size) for size in self.sizes],
        }

    @classmethod
    def from_message(cls, message: object) -> Original:
        """The original :meth:`to_message` described.

        :raises ArgumentError: a message that is not one.
        """
        if not isinstance(message, Mapping):
            raise ArgumentError(f"not a pre-generation message: {message!r:.200}")
        try:
            focal = message.get("focal")
            original = cls(
                object_type=_typed(message["object_type"], str),
                object_id=_typed(message["object_id"], int),
                width=_typed(message["width"], int),
                height=_typed(message["height"], int),
                mimetype=_typed(message["mimetype"], str),
                focal=None if focal is None else _point(focal),
                sizes=check_sizes(message.get("sizes") or ()),
            )
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ArgumentError(
                f"not a pre-generation message ({error}): {message!r:.200}"
            ) from None
        return original

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id} ({self.width}x{self.height} {self.mimetype})"


def image_key(store: Store, original: Original) -> str:
    """The original's key as a store path (as log records' ``image_key``)."""
    return observe.key_path(
        store,
        original.object_type,
        original.object_id,
        original.width,
        original.height,
        original.mimetype,
    )


def _point(value: Any) -> tuple[float, float]:
    x, y = (float(v) for v in value)
    if not (0 <= x <= 1 and 0 <= y <= 1):  # also false for nan
        raise ValueError(f"a focal point is two numbers in [0, 1], not {value!r:.50}")
    return x, y


def _typed(value: object, kind: type[Any]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{value!r:.50} is not a {kind.__name__}")
    return value


def _options(store: Store, original: Original) -> list[tuple[str, Mapping[str, Any]]]:
    """The store's presets and the original's sizes, each with a name for
    reports (``preset avatar``, ``width=100``)."""
    presets: Mapping[str, Mapping[str, Any]] = getattr(store, "presets", None) or {}
    named = [(f"preset {name}", options) for name, options in presets.items()]
    for size in original.sizes:
        preset = size.get("preset")
        if preset is None:
            named.append((", ".join(f"{k}={v}" for k, v in size.items()), size))
        elif preset in presets:
            named.append((f"preset {preset}", presets[preset]))
        else:
            raise ConfigurationError(
                f"pregenerate names the preset {preset!r}, which {store!r} does not declare "
                f"(declared: {', '.join(sorted(presets)) or 'none'})"
            )
    return named


def requests_for(store: Store, original: Original) -> list[tuple[str, ResizeRequest]]:
    """What ``original`` should have in ``store``, as the resizer's requests
    (one per file; ``format="auto"`` gives three), each with the name of the
    size it comes from.  A size with ``gravity="focal"`` is left out for an
    original without a focal point (``locate()`` refuses it too).

    :raises ConfigurationError: a size names a preset the store does not have.
    """
    resizer: Any = getattr(store, "resizer", None)
    if resizer is None:
        return []
    found: dict[str, tuple[str, ResizeRequest]] = {}
    for name, options in _options(store, original):
        values = dict(options)
        if values.get("gravity") == "focal" and original.focal is None:
            continue
        focal = original.focal if values.get("gravity") == "focal" else None
        resolved = resolve(
            original.width, original.height, original.mimetype, focal=focal, **values
        )
        formats = _AUTO_FORMATS if resolved.format == AUTO else (resolved.format,)
        for output in formats:
            request = resizer.request_for(
                original, resolved.width, resolved.height, variant=resolved.variant, format=output
            )
            found.setdefault(request.path, (name, request))
    return list(found.values())


@dataclasses.dataclass
class Report:
    """What :func:`pregenerate` did for one original: the store paths it
    made (or with ``dry_run``, would make), found, and could not make."""

    generated: list[str] = dataclasses.field(default_factory=list)
    existing: list[str] = dataclasses.field(default_factory=list)
    #: Not made yet, to retry: the store was unavailable, or every worker
    #: busy (the first such file stops the original's others, listed too).
    busy: list[str] = dataclasses.field(default_factory=list)
    #: ``(path, reason)``: the original cannot give it (bad original, too large).
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: The original is no longer in the store (deleted or replaced since).
    gone: bool = False


def pregenerate(store: Store, original: Original, *, dry_run: bool = False) -> Report:
    """Make the files of :func:`requests_for` that ``store`` lacks, one after
    the other in this thread.  Failures are in the report (and logged with
    ``extra={"image_key": path}``), never raised, but for configuration
    errors; an unavailable store or busy workers stop at the first file
    (:attr:`Report.busy`).

    :raises ConfigurationError: a size names a preset the store does not have.
    """
    from .middleware.miss import MissResponse

    unavailable = MissResponse(503)
    report = Report()
    resizer: Any = getattr(store, "resizer", None)
    planned = requests_for(store, original)
    for index, (name, request) in enumerate(planned):
        path = request.path
        if max(request.width, request.height) > resizer.max_resize_dimension:
            reason = f"{name}: {request.width}x{request.height} is above max_resize_dimension"
            report.failed.append((path, reason))
            logger.error("cannot pre-generate %s: %s", path, reason, extra={"image_key": path})
            continue
        try:
            exists = _exists(store, request)
        except StoreUnavailableError:
            exists = None
        if exists:
            report.existing.append(path)
            continue
        if dry_run:
            (report.generated if exists is False else report.busy).append(path)
            continue
        outcome = unavailable if exists is None else resizer.generate(request)
        if not isinstance(outcome, MissResponse):
            report.generated.append(path)
        elif outcome.status == 503:
            # The rest would most likely wait (or time out) the same way.
            report.busy.extend(later.path for _, later in planned[index:])
            break
        elif outcome.status == 404:
            report.gone = True
            logger.info(
                "not pre-generating %s: the original is gone", path, extra={"image_key": path}
            )
            break
        else:
            report.failed.append((path, outcome.text))
            logger.error(
                "cannot pre-generate %s (%s): %s",
                path,
                name,
                outcome.text,
                extra={"image_key": path},
            )
    return report


def _exists(store: Store, request: ResizeRequest) -> bool:
    key = (request.object_type, request.object_id, request.width, request.height, request.mimetype)
    found = store.exists(*key)
    if found is not None:
        return found
    try:
        store.get_file(*key).close()
    except FileNotFoundError:
        return False
    return True
