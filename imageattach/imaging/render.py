"""What a rendered variant of an image is: :class:`RenderSpec`, validated
where it is made (in the calling process, with no Wand import), sent to a
decoding worker as JSON, and the size rule that goes with it
(:func:`imageattach.sizing.render_size`).  The worker side is
:mod:`imageattach.imaging.renderer`; the entry points are
:func:`imageattach.imaging.render` and :func:`imageattach.imaging.preview_rgba`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..exceptions import ArgumentError, ArgumentTypeError
from ..filetypes import OUTPUT_FORMATS
from ..sizing import FITS, check_dimension, render_size, thumbnail_mimetype
from ..variants import GRAVITIES

__all__ = [
    "DEFAULT_QUALITY",
    "FITS",
    "FORMATS",
    "GRAVITIES",
    "PreviewResult",
    "RenderResult",
    "RenderSpec",
]

#: Output format name -> mimetype.
FORMATS = OUTPUT_FORMATS

#: Quality of each output when none is given, on the encoder's own scale
#: (``python -m bench render --quality-table`` measures them).  JPEG 85, as
#: make_thumbnail has always used (imgproxy and thumbor: 80).  WebP 80
#: (pyvips 75, imgproxy 79): a little above JPEG 85's SSIM in 0.85x its
#: bytes.  AVIF 60 on libheif's scale, where quality falls off a cliff
#: below 55 and the size grows ~30 % every 5 steps above it: just under
#: JPEG 85's SSIM in 0.73x its bytes (imgproxy 63, libvips 50).  PNG is
#: lossless: its zlib level is fixed.
DEFAULT_QUALITY: dict[str, int] = {
    "image/jpeg": 85,
    "image/webp": 80,
    "image/avif": 60,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderSpec:
    """How to render a variant of an image; validated at construction.

    ``width`` and ``height`` are the output box in pixels (for ``contain``
    either may be ``None``; ``cover`` needs both).  ``focal`` is the
    relative ``(x, y)`` point, each in [0, 1], of the *displayed* (EXIF
    oriented) image that a ``focal`` crop centres on.  ``format`` is
    ``None`` to keep the source's thumbnail format (PNG for SVG and PDF)
    or a key of :data:`FORMATS`; ``quality`` 1-100, ``None`` for
    :data:`DEFAULT_QUALITY`.  Without ``upscale`` the output never exceeds
    the original (:func:`imageattach.sizing.render_size`).

    :raises ArgumentTypeError: a value of the wrong type, or ``cover``
        without both sides, or ``focal`` gravity without ``focal``.
    :raises ArgumentError: a value out of range or an unknown name.
    """

    width: int | None = None
    height: int | None = None
    fit: str = "contain"
    gravity: str = "center"
    focal: tuple[float, float] | None = None
    format: str | None = None
    quality: int | None = None
    upscale: bool = False

    def __post_init__(self) -> None:
        if self.width is None and self.height is None:
            raise ArgumentTypeError("pass width, height or both")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None:
                check_dimension(name, value)
        if not isinstance(self.fit, str) or self.fit not in FITS:
            raise ArgumentError(f"fit must be one of {', '.join(FITS)}, not {self.fit!r}")
        if self.fit == "cover" and (self.width is None or self.height is None):
            raise ArgumentTypeError('fit="cover" needs both width and height')
        if not isinstance(self.gravity, str) or self.gravity not in GRAVITIES:
            raise ArgumentError(
                f"gravity must be one of {', '.join(GRAVITIES)}, not {self.gravity!r}"
            )
        if self.focal is not None:
            object.__setattr__(self, "focal", _check_focal(self.focal))
        elif self.gravity == "focal":
            raise ArgumentTypeError('gravity="focal" needs a focal point (x, y)')
        if self.format is not None and (
            not isinstance(self.format, str) or self.format not in FORMATS
        ):
            raise ArgumentError(
                f"format must be None or one of {', '.join(FORMATS)}, not {self.format!r}"
            )
        if self.quality is not None and (
            isinstance(self.quality, bool)
            or not isinstance(self.quality, int)
            or not 1 <= self.quality <= 100
        ):
            raise ArgumentError(f"quality must be 1..100, not {self.quality!r}")
        if not isinstance(self.upscale, bool):
            raise ArgumentTypeError(f"upscale must be True or False, not {self.upscale!r}")

    def size(self, original_width: int, original_height: int) -> tuple[int, int]:
        """The output size for an original of this displayed size."""
        return render_size(
            original_width,
            original_height,
            width=self.width,
            height=self.height,
            fit=self.fit,
            upscale=self.upscale,
        )

    def mimetype(self, source_mimetype: str) -> str:
        """The output's mimetype for a source of ``source_mimetype``."""
        if self.format is None:
            return thumbnail_mimetype(source_mimetype)
        return FORMATS[self.format]

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary; :meth:`from_json` makes it back."""
        data = dataclasses.asdict(self)
        if self.focal is not None:
            data["focal"] = list(self.focal)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderSpec:
        """The spec :meth:`to_json` gave (validated again).

        :raises ArgumentTypeError: unknown or missing keys.
        """
        if not isinstance(data, dict):
            raise ArgumentTypeError(f"a render spec is a dictionary, not {data!r}")
        unknown = set(data) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise ArgumentTypeError(f"unknown render options: {', '.join(sorted(unknown))}")
        focal = data.get("focal")
        if isinstance(focal, list):
            data = {**data, "focal": tuple(focal)}
        return cls(**data)


def _check_focal(value: object) -> tuple[float, float]:
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ArgumentTypeError(f"focal must be a pair of numbers (x, y), not {value!r}")
    x, y = float(value[0]), float(value[1])
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1):
        raise ArgumentError(f"focal must be relative coordinates in [0, 1], not {value!r}")
    return x, y


@dataclasses.dataclass(frozen=True, slots=True)
class RenderResult:
    """A rendered variant: its encoded bytes, mimetype and pixel size."""

    data: bytes
    mimetype: str
    width: int
    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class PreviewResult:
    """A tiny preview: ``width * height * 4`` bytes of 8-bit RGBA, row by row."""

    data: bytes
    width: int
    height: int
