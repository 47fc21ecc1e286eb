"""Responsive images: ``srcset`` candidates, ``<img>`` markup, placeholders.

What :meth:`~imageattach.entity.BaseImageSet.srcset`,
:meth:`~imageattach.entity.BaseImageSet.img` and
:meth:`~imageattach.entity.BaseImageSet.placeholder` do, and the template
helpers the framework adapters register (:func:`register_jinja2`).

Sizes are computed here from the original's displayed size alone, as
:meth:`~imageattach.entity.BaseImageSet.locate` sizes its variants
(:func:`imageattach.sizing.render_size`), so the ``width`` and ``height`` an
``<img>`` announces are those of the image it loads: no I/O, no image work.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from .exceptions import ArgumentError, ArgumentTypeError
from .placeholder import Placeholder
from .sizing import check_dimension, render_size

if TYPE_CHECKING:
    from .entity import Image
    from .limits import ImageLimits
    from .store import Store

__all__ = [
    "DEFAULT_DENSITIES",
    "DEFAULT_WIDTHS",
    "PLACEHOLDER_CACHE_SIZE",
    "PLACEHOLDER_COLUMN",
    "Candidate",
    "PlaceholderCache",
    "density_candidates",
    "imageattach_img",
    "imageattach_srcset",
    "placeholder_cache",
    "placeholder_computations",
    "register_jinja2",
    "width_candidates",
]

#: The widths of a ``w`` descriptor ``srcset`` when none are given.
DEFAULT_WIDTHS: tuple[int, ...] = (320, 640, 960, 1280, 1920)
#: The densities of an ``x`` descriptor ``srcset`` (``img()`` with a size and no ``sizes``).
DEFAULT_DENSITIES: tuple[float, ...] = (1, 2)
#: The optional column of an image class that keeps its placeholder (``String(64)``).
PLACEHOLDER_COLUMN = "placeholder"
#: Placeholders kept in the process-local cache (about 200 bytes each).
PLACEHOLDER_CACHE_SIZE = 4096

_LOADING = ("lazy", "eager")
_DECODING = ("async", "sync", "auto")
#: locate() options that do not change the pixels of a contain resize.
_NEUTRAL = frozenset({"store", "upscale", "gravity"})


# -- candidates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One image of a ``srcset``: its real size, its descriptor (``640w``,
    ``2x``), and the size arguments for ``locate()`` (``None``: the original
    itself)."""

    width: int
    height: int
    descriptor: str
    size: Mapping[str, int] | None


def check_widths(widths: object) -> tuple[int, ...]:
    """``widths`` as a tuple of positive integers.

    :raises ArgumentTypeError: not an iterable of integers.
    :raises ArgumentError: empty, or a width that is not positive.
    """
    if isinstance(widths, str | bytes) or not isinstance(widths, Iterable):
        raise ArgumentTypeError(f"widths must be an iterable of integers, not {widths!r}")
    checked = tuple(widths)
    if not checked:
        raise ArgumentError("widths must not be empty")
    for width in checked:
        check_dimension("each of widths", width)
    return checked


def check_densities(densities: object) -> tuple[float, ...]:
    """``densities`` as a tuple of positive finite numbers.

    :raises ArgumentTypeError: not an iterable of numbers.
    :raises ArgumentError: empty, or a density that is not positive and finite.
    """
    if isinstance(densities, str | bytes) or not isinstance(densities, Iterable):
        raise ArgumentTypeError(f"densities must be an iterable of numbers, not {densities!r}")
    checked = tuple(densities)
    if not checked:
        raise ArgumentError("densities must not be empty")
    for density in checked:
        if isinstance(density, bool) or not isinstance(density, int | float):
            raise ArgumentTypeError(f"each of densities must be a number, not {density!r}")
        if not math.isfinite(density) or density <= 0 or density > 10:
            raise ArgumentError(f"each of densities must be > 0 and <= 10, not {density!r}")
    return checked


def _fit_and_upscale(options: Mapping[str, Any]) -> tuple[str, bool]:
    fit = options.get("fit", "contain")
    upscale = options.get("upscale", False)
    if not isinstance(upscale, bool):
        raise ArgumentTypeError(f"upscale must be True or False, not {upscale!r}")
    if not isinstance(fit, str):
        raise ArgumentTypeError(f"fit must be a string, not {fit!r}")
    return fit, upscale


def is_plain(options: Mapping[str, Any]) -> bool:
    """Whether ``options`` leave the pixels of a contain resize as the
    original's (so, at the original's size, the original can be served)."""
    return all(
        name in _NEUTRAL or value is None or (name == "fit" and value == "contain")
        for name, value in options.items()
    )


def _half_up(value: float) -> int:
    return max(1, math.floor(value + 0.5))


def _variant(
    original: tuple[int, int],
    width: int | None,
    height: int | None,
    options: Mapping[str, Any],
) -> tuple[tuple[int, int], tuple[int, int], Mapping[str, int] | None]:
    """``(size, unclamped size, locate size arguments)`` of the variant of
    the box ``width`` x ``height``.  A contain resize is named by its
    binding side only, which gives the same size; at the original's size
    with plain options, the variant is the original itself (``None``)."""
    fit, upscale = _fit_and_upscale(options)
    ow, oh = original
    size = render_size(ow, oh, width=width, height=height, fit=fit, upscale=upscale)
    unclamped = render_size(ow, oh, width=width, height=height, fit=fit, upscale=True)
    if size == original and is_plain(options):
        return size, unclamped, None
    if fit != "contain":
        return size, unclamped, {"width": size[0], "height": size[1]}
    if height is None or (width is not None and width * oh <= height * ow):
        return size, unclamped, {"width": size[0]}
    return size, unclamped, {"height": size[1]}


def width_candidates(
    original: tuple[int, int],
    widths: Iterable[int],
    options: Mapping[str, Any],
    *,
    width: int | None = None,
    height: int | None = None,
) -> list[Candidate]:
    """The ``w`` candidates of ``original`` (displayed width, height) at
    ``widths``, smallest first.  A ``width`` x ``height`` box gives them its
    shape (needed by ``fit="cover"``).  Without ``upscale``, widths above
    the original's are dropped and the original's own size (as ``locate``
    clamps it) is the largest candidate."""
    checked = sorted(set(check_widths(widths)))
    if height is not None and width is None:
        raise ArgumentTypeError("a srcset of widths takes a box shape as width and height")
    found: dict[int, Candidate] = {}
    clamped: Candidate | None = None
    for w in checked:
        h = None if height is None or width is None else _half_up(height * w / width)
        size, unclamped, arguments = _variant(original, w, h, options)
        candidate = Candidate(size[0], size[1], f"{size[0]}w", arguments)
        if size != unclamped:
            clamped = clamped or candidate
        elif size[0] not in found:
            found[size[0]] = candidate
    if clamped is not None and clamped.width not in found:
        found[clamped.width] = clamped
    return [found[w] for w in sorted(found)]


def density_candidates(
    original: tuple[int, int],
    densities: Iterable[float],
    options: Mapping[str, Any],
    *,
    width: int | None,
    height: int | None,
) -> list[Candidate]:
    """The ``x`` candidates of the ``width`` x ``height`` box (either may be
    ``None``; both ``None``: the original's size) at ``densities``.  The
    first is ``1x``, the size ``img()`` announces.  Without ``upscale``, a
    density that ``locate`` would clamp is replaced by the clamped size,
    described by its real density (``1.6x``), and higher ones dropped."""
    checked = sorted(set(check_densities(densities)))
    if width is None and height is None:
        width, height = original
    base, _, base_arguments = _variant(original, width, height, options)
    found: list[Candidate] = []
    descriptors: set[str] = set()
    for density in checked:
        box_w = None if width is None else _half_up(width * density)
        box_h = None if height is None else _half_up(height * density)
        size, unclamped, arguments = _variant(original, box_w, box_h, options)
        real = density if size == unclamped else size[0] / base[0]
        descriptor = f"{real:.3g}x"
        if descriptor in descriptors or (found and size[0] <= found[-1].width):
            continue
        descriptors.add(descriptor)
        found.append(Candidate(size[0], size[1], descriptor, arguments))
        if size != unclamped:
            break
    if not found or found[0].width != base[0]:
        found.insert(0, Candidate(base[0], base[1], "1x", base_arguments))
    return found


def srcset_text(candidates: Iterable[Candidate], locate: Callable[[Candidate], str]) -> str:
    """``"url 320w, url 640w"``: each candidate's URL and descriptor."""
    return ", ".join(f"{locate(candidate)} {candidate.descriptor}" for candidate in candidates)


# -- markup ------------------------------------------------------------------------------------


def img_tag(attributes: Iterable[tuple[str, object]]) -> Markup:
    """``<img ...>`` of the attributes whose value is not ``None``, each
    value escaped (``&``, ``<``, ``>``, ``"``, ``'``)."""
    parts = ["<img"]
    for name, value in attributes:
        if value is None:
            continue
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ArgumentError(f"not an HTML attribute name: {name!r}")
        parts.append(f' {name}="{escape(str(value))}"')
    return Markup("".join(parts) + ">")


def check_img_arguments(alt: object, sizes: object, loading: object, decoding: object) -> None:
    """Check the markup arguments of ``img()``.

    :raises ArgumentTypeError: ``alt`` or ``sizes`` not a string.
    :raises ArgumentError: an unknown ``loading`` or ``decoding``.
    """
    if not isinstance(alt, str):
        raise ArgumentTypeError(f"alt must be a string, not {alt!r}")
    if sizes is not None and not isinstance(sizes, str):
        raise ArgumentTypeError(f"sizes must be a string, not {sizes!r}")
    if loading is not None and loading not in _LOADING:
        raise ArgumentError(
            f"loading must be one of {', '.join(_LOADING)} or None, not {loading!r}"
        )
    if decoding is not None and decoding not in _DECODING:
        raise ArgumentError(
            f"decoding must be one of {', '.join(_DECODING)} or None, not {decoding!r}"
        )


# -- placeholders ------------------------------------------------------------------------------


class PlaceholderCache:
    """A bounded, thread-safe LRU of placeholders, by original."""

    def __init__(self, maxsize: int = PLACEHOLDER_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Placeholder] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Placeholder | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: Placeholder) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


#: The process-local cache of placeholders of images without the column.
placeholder_cache = PlaceholderCache()
_computed = 0
_computed_lock = threading.Lock()


def placeholder_computations() -> int:
    """How many placeholders this process has computed (previews made by a
    decoding worker): a counter for tests and metrics."""
    return _computed


def _count_computation() -> None:
    global _computed
    with _computed_lock:
        _computed += 1


def _cache_key(original: Image) -> Hashable | None:
    """The original's key in :data:`placeholder_cache`: its class, object,
    size, type and version (``created_at``); ``None`` before it has an id."""
    try:
        object_id = original.object_id
    except (ValueError, NotImplementedError):
        return None
    created_at = original.created_at
    version = None if created_at is None else created_at.replace(tzinfo=None).isoformat()
    return (
        type(original),
        original.object_type,
        object_id,
        original.width,
        original.height,
        original.mimetype,
        version,
    )


def has_placeholder_column(cls: type[Image]) -> bool:
    """Whether the image class maps a ``placeholder`` column."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import ColumnProperty

    prop = inspect(cls).attrs.get(PLACEHOLDER_COLUMN)
    return isinstance(prop, ColumnProperty)


def original_placeholder(
    original: Image, store: Store, *, save: bool, limits: ImageLimits
) -> Placeholder:
    """The placeholder of ``original``: from its ``placeholder`` column or
    the cache, else computed in a decoding worker and kept (the column is
    set unless ``save`` is false; the cache is filled either way)."""
    from . import tracking
    from .imaging import preview_rgba

    column = has_placeholder_column(type(original))
    if column:
        text = getattr(original, PLACEHOLDER_COLUMN)
        if text:
            return Placeholder.from_text(text)
    key = _cache_key(original)
    found = None if key is None else placeholder_cache.get(key)
    if found is None:
        with original.open_file(store) as source:
            preview = tracking.run_blocking(lambda: preview_rgba(source, limits=limits))
        _count_computation()
        found = Placeholder.from_rgba(preview.width, preview.height, preview.data)
        if key is not None:
            placeholder_cache.put(key, found)
    if column and save:
        setattr(original, PLACEHOLDER_COLUMN, found.to_text())
    return found


# -- template helpers --------------------------------------------------------------------------


def imageattach_img(image_set: Any, *args: Any, **kwargs: Any) -> Markup:
    """``image_set.img(*args, **kwargs)``, or empty markup for a set without
    an original (or ``None``): the template global and filter
    ``imageattach_img``."""
    if image_set is None or not image_set:
        return Markup("")
    result: Markup = image_set.img(*args, **kwargs)
    return result


def imageattach_srcset(image_set: Any, *args: Any, **kwargs: Any) -> str:
    """``image_set.srcset(*args, **kwargs)``, or ``""`` for a set without an
    original (or ``None``): the template global and filter ``imageattach_srcset``."""
    if image_set is None or not image_set:
        return ""
    result: str = image_set.srcset(*args, **kwargs)
    return result


#: The names :func:`register_jinja2` adds, as globals and as filters.
TEMPLATE_HELPERS: Mapping[str, Callable[..., Any]] = {
    "imageattach_img": imageattach_img,
    "imageattach_srcset": imageattach_srcset,
}


def register_jinja2(environment: Any) -> None:
    """Add ``imageattach_img`` and ``imageattach_srcset`` to a
    :class:`jinja2.Environment`, as globals and as filters::

        {{ imageattach_img(user.picture, 150, alt=user.name) }}
        {{ user.picture | imageattach_img(150, alt=user.name) }}
    """
    environment.globals.update(TEMPLATE_HELPERS)
    environment.filters.update(TEMPLATE_HELPERS)


def preset_options(store: Store, name: str) -> Mapping[str, Any]:
    """The options of ``store``'s preset ``name`` (its ``presets`` mapping).

    :raises ArgumentError: the store declares no such preset.
    """
    presets = getattr(store, "presets", None)
    if not isinstance(presets, Mapping) or not isinstance(presets.get(name), Mapping):
        raise ArgumentError(f"no preset {name!r} in {store!r}")
    found: Mapping[str, Any] = presets[name]
    return found
