"""Photo-sized JPEGs made by Wand: colour blotches with grain, about as
costly to decode as a camera's photo, cached on disk (making a 12 MP one
takes seconds)."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import imageattach.imaging  # noqa: F401  (imageattach's ImageMagick policy before wand)

# isort: split
from wand.color import Color
from wand.image import Image

_CORNERS = ("#c04020", "#2060c0", "#20a040", "#e0d060")


def size_of(megapixels: float) -> tuple[int, int]:
    """The 4:3 landscape size closest to ``megapixels``."""
    height = math.sqrt(megapixels * 1e6 * 3 / 4)
    return round(height * 4 / 3), round(height)


def photo(width: int, height: int) -> bytes:
    """A ``width`` x ``height`` colour JPEG (quality 90)."""
    cache = Path(tempfile.gettempdir()) / "imageattach-bench-photos" / f"{width}x{height}-v1.jpg"
    if cache.exists():
        return cache.read_bytes()
    small_width, small_height = max(2, width // 4), max(2, height // 4)
    with Image(width=small_width, height=small_height, background=Color("gray")) as image:
        image.type = "truecolor"
        corners = [(0, 0), (small_width - 1, 0), (0, small_height - 1)]
        corners.append((small_width - 1, small_height - 1))
        image.sparse_color(
            "bilinear", {Color(c): xy for c, xy in zip(_CORNERS, corners, strict=True)}
        )
        image.noise("gaussian", attenuate=1.0)
        image.resize(width, height)
        image.noise("gaussian", attenuate=0.05)
        image.format = "jpeg"
        image.compression_quality = 90
        data = bytes(image.make_blob())
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a run interrupted mid-write leaves no torn file.
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(cache)
    return data
