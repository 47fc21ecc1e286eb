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
import math

from .exceptions import ConfigurationError
from .validation import check_int

__all__ = ["DEFAULT_LIMITS", "ImageLimits"]


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
        time = self.time
        if isinstance(time, bool) or not isinstance(time, int | float) or not math.isfinite(time):
            raise ConfigurationError(f"limits.time must be a number of seconds, not {time!r}")
        if time <= 0:
            raise ConfigurationError(f"limits.time must be positive, not {time!r}")

    def replace(self, **changes: int | float) -> ImageLimits:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


#: The limits used when neither the call nor the store gives any.
DEFAULT_LIMITS = ImageLimits()
