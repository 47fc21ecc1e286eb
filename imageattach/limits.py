"""The bounds on the work one untrusted image may cause.

Uploaded bytes are hostile: every image is decoded in a worker process (see
:mod:`imageattach.imaging.sandbox`) under these limits, checked before a
pixel is decoded where the file's structure allows it (pixels, frames,
metadata) and enforced by the operating system where it does not (time,
memory).  Stores, the entity layer and the imaging package share them, so
they live here, below all three, with no Wand import.
"""

from __future__ import annotations

import dataclasses

from .exceptions import ConfigurationError
from .validation import check_int, check_seconds

__all__ = ["DEFAULT_LIMITS", "ImageLimits", "check_limits"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ImageLimits:
    """Per-image limits, validated at construction.

    The defaults accept every camera photo in common use (50 MP) and keep
    one job below a second of CPU for them; raise ``time`` and ``memory``
    together with ``pixels``.
    """

    #: Largest image, width x height, as its header claims it.
    pixels: int = 50_000_000
    #: Most frames (GIF, WebP, APNG) or pages (TIFF) a file may have; they
    #: are counted without decoding, and only the first is decoded.
    frames: int = 10_000
    #: Most bytes of ancillary data (PNG text, ICC and other non-pixel chunks,
    #: counted decompressed) a file may carry.
    chunk_bytes: int = 8 * 1024**2
    #: Wall-clock seconds one job (probe or thumbnail) may take; the worker is
    #: killed at the deadline.
    time: float = 20.0
    #: Bytes of memory (address space) one job may add to its worker.
    memory: int = 1024**3

    def __post_init__(self) -> None:
        check_int("limits.pixels", self.pixels)
        check_int("limits.frames", self.frames)
        check_int("limits.chunk_bytes", self.chunk_bytes, minimum=0)
        check_int("limits.memory", self.memory, minimum=64 * 1024**2)
        check_seconds("limits.time", self.time, maximum=3600.0)

    def replace(self, **changes: int | float) -> ImageLimits:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


#: The limits used when neither the call nor the store gives any.
DEFAULT_LIMITS = ImageLimits()


def check_limits(name: str, value: object) -> ImageLimits | None:
    """Return ``value`` if it is ``None`` or an :class:`ImageLimits`."""
    if value is not None and not isinstance(value, ImageLimits):
        raise ConfigurationError(f"{name} must be an ImageLimits, not {value!r}")
    return value
