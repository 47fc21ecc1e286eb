"""Variant names: how a rendered variant of an original that is not a plain
proportional resize is named in a store, and read back.

A plain thumbnail (``contain``, the source's thumbnail format, default
quality) keeps the seed's name, ``<id>.<w>x<h><ext>`` (filesystem) or
``<w>x<h><ext>`` (S3).  Every other variant has one more dotted segment,
its *token*, before the extension, which gives the format::

    1234.150x150.cover.webp            cover, centre, WebP, default quality
    1234.150x150.cover-north-q70.jpe   cover from the top, JPEG quality 70
    1234.150x150.cover-focal250x600.avif   cover around (0.25, 0.6)
    1234.300x225.contain.webp          proportional, WebP

A token is ``contain`` or ``cover``, then for ``cover`` a gravity other than
``center`` (``focal<x>x<y>`` in thousandths), then ``-q<quality>`` if one was
given.  Tokens are ``[a-z0-9-]`` (no dot), so a variant name has two dotted
segments after the size where a seed name has one: the two never collide,
and two different variants never share a name.  Parsing is one anchored
regular expression of literal alternatives and bounded digit runs, applied
only to strings of at most :data:`MAX_TOKEN_LENGTH` characters; the token it
accepts must also be the canonical one (:meth:`Variant.token` of the result).

An ``auto`` URL (``format="auto"``) names ``<stem>.<token>.auto<ext>``,
``<ext>`` being the source's thumbnail format, the fallback; the serving
middleware turns it into the concrete name ``<stem>.<token>.avif``,
``.webp`` or ``<ext>`` (:func:`negotiate`).

Inside the stores' five-part keys ``(object_type, object_id, width, height,
mimetype)``, a variant travels as its mimetype with a ``variant`` parameter,
``image/webp; variant=cover-north`` (:func:`keyed_mimetype`), so every
store primitive and every cleanup path handles variants with no new
argument; a store writes the plain mimetype as the file's ``Content-Type``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .exceptions import ArgumentError
from .filetypes import EXTENSIONS, OUTPUT_FORMATS, guess_extension, guess_mimetype

__all__ = [
    "AUTO",
    "AUTO_INFIX",
    "AUTO_SEGMENT",
    "MAX_TOKEN_LENGTH",
    "Variant",
    "auto_path",
    "choose_format",
    "keyed_mimetype",
    "negotiate",
    "split_mimetype",
    "split_suffix",
    "suffix",
]

#: The ``format`` that is negotiated per request.
AUTO = "auto"
#: The dotted segment of an ``auto`` URL's file name.
AUTO_SEGMENT = ".auto"
#: Longer tokens are refused before any matching.
MAX_TOKEN_LENGTH = 40
_PARAMETER = "; variant="

#: Where a ``cover`` crop is taken from: the centre, a compass point (the
#: side or corner kept), ``entropy`` (the most detailed window, by Shannon
#: entropy of a small greyscale copy) or ``focal`` (centred on the focal
#: point, moved inside the image where it would overflow).
GRAVITIES: tuple[str, ...] = (
    "center",
    "north",
    "northeast",
    "east",
    "southeast",
    "south",
    "southwest",
    "west",
    "northwest",
    "entropy",
    "focal",
)
_SIDES = "|".join(g for g in GRAVITIES if g not in ("center", "focal", "entropy"))
_TOKEN = re.compile(
    r"(?P<fit>contain|cover)"
    rf"(?:-(?P<gravity>{_SIDES}|entropy|focal(?P<x>[0-9]{{1,4}})x(?P<y>[0-9]{{1,4}})))?"
    r"(?:-q(?P<quality>[0-9]{1,3}))?",
    re.ASCII,
)
#: ``.<token><ext>`` at the end of a name: the token has no dot, the
#: extension is one dotted run of letters.
_SUFFIX = re.compile(r"\.(?P<token>[a-z0-9-]{1,40})(?P<ext>\.[a-z]{1,5})", re.ASCII)


@dataclass(frozen=True, slots=True)
class Variant:
    """The options of a variant other than its size and format.

    ``focal`` is in thousandths of the displayed width and height (rounded),
    used only with ``gravity="focal"``.  Made canonical at construction:
    ``contain`` has no gravity, and only ``focal`` keeps a focal point.

    :raises ArgumentError: an unknown fit or gravity, a focal point outside
        0..1000, or a quality outside 1..100.
    """

    fit: str = "contain"
    gravity: str = "center"
    focal: tuple[int, int] | None = None
    quality: int | None = None

    def __post_init__(self) -> None:
        if self.fit not in ("contain", "cover"):
            raise ArgumentError(f"fit must be contain or cover, not {self.fit!r}")
        if self.gravity not in GRAVITIES:
            raise ArgumentError(f"gravity must be one of {', '.join(GRAVITIES)}")
        if self.fit == "contain" and self.gravity != "center":
            object.__setattr__(self, "gravity", "center")
        if self.gravity != "focal":
            object.__setattr__(self, "focal", None)
        elif self.focal is None or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1000 for v in self.focal
        ):
            raise ArgumentError("a focal point is two integers in 0..1000 (thousandths)")
        if self.quality is not None and (
            isinstance(self.quality, bool)
            or not isinstance(self.quality, int)
            or not 1 <= self.quality <= 100
        ):
            raise ArgumentError(f"quality must be 1..100, not {self.quality!r}")

    @classmethod
    def from_relative_focal(cls, fit: str, gravity: str, focal: tuple[float, float] | None,
                            quality: int | None) -> Variant:  # fmt: skip
        """The variant for a focal point in relative coordinates (rounded)."""
        point = None if focal is None else (round(focal[0] * 1000), round(focal[1] * 1000))
        return cls(fit, gravity, point, quality)

    @property
    def relative_focal(self) -> tuple[float, float] | None:
        """The focal point in relative coordinates."""
        return None if self.focal is None else (self.focal[0] / 1000, self.focal[1] / 1000)

    @property
    def token(self) -> str:
        """The canonical token, e.g. ``cover-focal250x600-q70``."""
        parts = [self.fit]
        if self.gravity == "focal":
            assert self.focal is not None
            parts.append(f"focal{self.focal[0]}x{self.focal[1]}")
        elif self.gravity != "center":
            parts.append(self.gravity)
        if self.quality is not None:
            parts.append(f"q{self.quality}")
        return "-".join(parts)

    @classmethod
    def parse(cls, token: str) -> Variant | None:
        """The variant of a canonical ``token``, else ``None``."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        gravity = match["gravity"] or "center"
        focal = None
        if match["x"] is not None:
            gravity, focal = "focal", (int(match["x"]), int(match["y"]))
        quality = None if match["quality"] is None else int(match["quality"])
        try:
            variant = cls(match["fit"], gravity, focal, quality)
        except ArgumentError:
            return None
        return variant if variant.token == token else None


def keyed_mimetype(mimetype: str, variant: Variant | None) -> str:
    """The mimetype a store key carries for ``variant`` (``None``: a plain
    thumbnail, the mimetype itself)."""
    return mimetype if variant is None else f"{mimetype}{_PARAMETER}{variant.token}"


@functools.lru_cache(maxsize=1024)
def split_mimetype(keyed: str) -> tuple[str, Variant | None]:
    """``(mimetype, variant)`` of a key's mimetype.

    :raises ArgumentError: a ``variant`` parameter that is not a canonical token.
    """
    mimetype, found, token = keyed.partition(_PARAMETER)
    if not found:
        return keyed, None
    variant = Variant.parse(token)
    if variant is None:
        raise ArgumentError(f"not a variant token: {token[:MAX_TOKEN_LENGTH]!r}")
    return mimetype, variant


def suffix(keyed: str) -> str:
    """What follows ``<w>x<h>`` in a key of mimetype ``keyed``: ``.jpe`` or
    ``.cover-north.jpe``.

    :raises UnknownMimeTypeError: no extension for the mimetype.
    """
    mimetype, variant = split_mimetype(keyed)
    extension = guess_extension(mimetype)
    return extension if variant is None else f".{variant.token}{extension}"


def split_suffix(text: str) -> str | None:
    """The keyed mimetype of a name's ``.<token><ext>`` or ``<ext>`` after
    its size, else ``None`` (for names this layout never makes)."""
    if len(text) > MAX_TOKEN_LENGTH + 8 or not text.startswith("."):
        return None
    if text.count(".") == 1:
        return guess_mimetype(text) if text == text.lower() else None
    match = _SUFFIX.fullmatch(text)
    if match is None:
        return None
    mimetype = guess_mimetype(match["ext"])
    variant = Variant.parse(match["token"])
    if mimetype is None or variant is None or EXTENSIONS.get(mimetype) != match["ext"]:
        return None
    return keyed_mimetype(mimetype, variant)


def auto_path(concrete: str) -> str:
    """The ``auto`` URL path of a variant's concrete path for its fallback
    format: ``….cover.jpe`` → ``….cover.auto.jpe``."""
    stem, dot, extension = concrete.rpartition(".")
    return f"{stem}{AUTO_SEGMENT}{dot}{extension}"


#: The formats ``auto`` picks, best first, before the fallback.
_NEGOTIATED = ("image/avif", "image/webp")
_MAX_ACCEPT = 2048


@functools.lru_cache(maxsize=256)
def _choose(accept: str) -> str | None:
    from werkzeug.http import parse_accept_header

    # werkzeug's MIMEAccept.quality() lets */* and image/* stand for
    # image/avif; we want only browsers that name the format, so the values
    # are compared as they are.
    quality: dict[str, float] = {}
    for value, q in parse_accept_header(accept):
        value = value.lower()
        if value in _NEGOTIATED:
            quality[value] = max(q, quality.get(value, 0.0))
    best, best_q = None, 0.0
    for mimetype in _NEGOTIATED:
        q = quality.get(mimetype, 0.0)
        if q > best_q:
            best, best_q = mimetype, q
    return best


def choose_format(accept: str | None) -> str | None:
    """The negotiated mimetype for an ``Accept`` header: ``image/avif`` or
    ``image/webp`` when the client names it (with q > 0; the higher q wins,
    AVIF on a tie), else ``None`` (the source's format).  ``*/*`` and
    ``image/*`` do not count: browsers send them for formats they cannot
    decode."""
    if not accept or len(accept) > _MAX_ACCEPT:
        return None
    return _choose(accept)


def negotiate(path: str, accept: str | None) -> str | None:
    """The concrete variant path for an ``auto`` URL path and the request's
    ``Accept``; ``None`` when ``path`` is not an ``auto`` path (the one
    place this rule is written).  Runs on every hit of an ``auto`` URL, so
    its answers are kept (a bounded dictionary: a few ``Accept`` values by
    the pages' images)."""
    key = (path, accept)
    found = _negotiated.get(key, _UNKNOWN)
    if found is not _UNKNOWN:
        return found
    found = _negotiate(path, accept)
    if len(path) <= _MAX_CACHED and (accept is None or len(accept) <= _MAX_CACHED):
        if len(_negotiated) >= _NEGOTIATED_SIZE:
            _negotiated.clear()
        _negotiated[key] = found
    return found


def _negotiate(path: str, accept: str | None) -> str | None:
    head, found, extension = path.rpartition(AUTO_INFIX)
    if (
        not found
        or not 0 < len(extension) <= 5
        or not extension.isalpha()
        or "." not in head[head.rfind("/") + 1 :]
    ):
        return None
    chosen = choose_format(accept)
    return f"{head}.{extension}" if chosen is None else head + _NEGOTIATED_EXTENSIONS[chosen]


#: What every ``auto`` URL path has in its file name.
AUTO_INFIX = AUTO_SEGMENT + "."
_NEGOTIATED_EXTENSIONS = {"image/avif": ".avif", "image/webp": ".webp"}
#: ``(path, Accept)`` -> :func:`negotiate`'s answer; cleared when full.
_negotiated: dict[tuple[str, str | None], str | None] = {}
_NEGOTIATED_SIZE = 4096
#: Longer paths or ``Accept`` values are answered but not kept (at most a
#: few MB in all).
_MAX_CACHED = 512
_UNKNOWN = "?"


# -- from locate() options to a variant -------------------------------------------

#: Output format name -> mimetype.
FORMATS = OUTPUT_FORMATS


@dataclass(frozen=True, slots=True)
class Resolved:
    """What ``locate()`` options ask of an original: the output size, the
    variant (``None``: a plain thumbnail) and the output format (a mimetype,
    :data:`AUTO`, or ``None`` for the source's thumbnail format)."""

    width: int
    height: int
    variant: Variant | None
    format: str | None


def resolve(
    original_width: int,
    original_height: int,
    source_mimetype: str,
    *,
    width: int | None = None,
    height: int | None = None,
    ratio: float | None = None,
    fit: str = "contain",
    gravity: str = "center",
    focal: tuple[float, float] | None = None,
    format: str | None = None,
    quality: int | None = None,
    upscale: bool = False,
) -> Resolved:
    """Resolve ``locate()`` options for an original of the given displayed
    size and type.  ``contain`` takes one of ``width``, ``height`` and
    ``ratio`` (as :func:`~imageattach.sizing.thumbnail_size`); ``cover``
    both ``width`` and ``height``.  Without ``upscale`` the size is clamped
    to the original (:func:`~imageattach.sizing.render_size`).  A
    ``contain`` resize in the source's thumbnail format at the default
    quality is plain (the seed's name).

    :raises ArgumentTypeError: a missing or extra size argument, or
        ``upscale`` not a bool.
    :raises ArgumentError: an unknown fit, gravity or format, a quality out
        of 1..100, or ``gravity="focal"`` without ``focal``.
    """
    from .exceptions import ArgumentTypeError
    from .sizing import render_size, thumbnail_mimetype, thumbnail_size

    if not isinstance(upscale, bool):
        raise ArgumentTypeError(f"upscale must be True or False, not {upscale!r}")
    if format is not None and format != AUTO and format not in FORMATS:
        raise ArgumentError(
            f"format must be None, auto or one of {', '.join(FORMATS)}, not {format!r}"
        )
    if not isinstance(fit, str) or not isinstance(gravity, str):
        raise ArgumentError("fit and gravity are names")
    if gravity == "focal" and focal is None:
        raise ArgumentError(
            'gravity="focal" needs a focal point: call image.set_focal_point(x, y) '
            "on the original first"
        )
    if focal is not None and not all(
        isinstance(v, int | float) and 0 <= v <= 1
        for v in focal  # also false for nan
    ):
        raise ArgumentError(f"a focal point is two numbers in [0, 1], not {focal!r}")
    variant = Variant.from_relative_focal(fit, gravity, focal, quality)
    given = (ratio is not None) + (width is not None) + (height is not None)
    if fit == "contain" and given > 1:
        raise ArgumentTypeError('fit="contain" takes one of width, height and ratio')
    if ratio is not None:
        if fit != "contain":
            raise ArgumentTypeError('ratio goes with fit="contain"')
        size = thumbnail_size(original_width, original_height, ratio=ratio)
        if not upscale and (size[0] > original_width or size[1] > original_height):
            size = (original_width, original_height)
    else:
        size = render_size(
            original_width, original_height, width=width, height=height, fit=fit, upscale=upscale
        )
    output = None if format is None else AUTO if format == AUTO else FORMATS[format]
    if output == thumbnail_mimetype(source_mimetype):
        output = None
    if variant == Variant() and output is None:
        return Resolved(*size, None, None)
    return Resolved(*size, variant, output)


# -- presets -------------------------------------------------------------------------

#: The options a preset may set (those of ``locate()`` but ``ratio``).
PRESET_OPTIONS = ("width", "height", "fit", "gravity", "format", "quality", "upscale")
_PRESET_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)


def check_presets(presets: object) -> dict[str, dict[str, object]]:
    """Validate a store's ``presets``: ``{name: {option: value}}``, names of
    letters, digits, ``_.-`` (at most 64), options of
    :data:`PRESET_OPTIONS`, values as ``locate()`` takes them (checked by
    resolving each for a 1000 x 1000 JPEG).

    :raises ConfigurationError: anything else, naming the preset and the
        unknown options.
    """
    from collections.abc import Mapping

    from .exceptions import ConfigurationError, ImageTooLargeError
    from .validation import unknown_names

    if presets is None:
        return {}
    if not isinstance(presets, Mapping):
        raise ConfigurationError("presets must be a mapping of names to option mappings")
    checked: dict[str, dict[str, object]] = {}
    for name, options in presets.items():
        if not isinstance(name, str) or not _PRESET_NAME.fullmatch(name):
            raise ConfigurationError(
                f"preset names are 1-64 letters, digits, '_', '.' or '-', not {name!r}"
            )
        if not isinstance(options, Mapping) or not options:
            raise ConfigurationError(f"preset {name!r} must be a non-empty mapping of options")
        unknown = [str(option) for option in options if option not in PRESET_OPTIONS]
        if unknown:
            raise ConfigurationError(
                f"preset {name!r}: {unknown_names('option', unknown, PRESET_OPTIONS)}"
            )
        values = dict(options)
        if "width" not in values and "height" not in values:
            raise ConfigurationError(f"preset {name!r} needs a width or a height")
        focal = (0.5, 0.5) if values.get("gravity") == "focal" else None
        try:
            resolve(1000, 1000, "image/jpeg", focal=focal, **values)
        except (ArgumentError, TypeError, ValueError, ImageTooLargeError) as error:
            raise ConfigurationError(f"preset {name!r}: {error}") from None
        checked[name] = values
    return checked
