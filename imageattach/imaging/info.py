"""What a probe learns about an image (no Wand import: the serving process
builds it from a worker's reply)."""

from __future__ import annotations

import dataclasses

__all__ = ["ImageInfo"]


@dataclasses.dataclass(frozen=True, slots=True)
class ImageInfo:
    """What :func:`probe` learnt from an image's header."""

    #: Normalised mimetype, a key of :data:`imageattach.filetypes.EXTENSIONS`.
    mimetype: str
    #: Size as displayed, i.e. after applying the EXIF orientation.
    width: int
    height: int
    #: EXIF orientation, 1..8 (1 when the image has none).
    orientation: int
    #: Number of frames or pages (>= 1); thumbnails are made of the first.
    frames: int

    @property
    def stored_size(self) -> tuple[int, int]:
        """``(width, height)`` as stored in the file, before EXIF rotation."""
        if self.orientation >= 5:
            return self.height, self.width
        return self.width, self.height
