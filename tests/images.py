"""Fixture images for every test, generated here (no third-party photos).

Each function returns the bytes of a small image.  Raster images are white
with their top-left quadrant in ``color`` (red by default), so a test can
tell from a corner pixel how the image was rotated.  Payloads that are not
images (MVG, MSL, text) are here too, for the hardening tests.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path

import imageattach.imaging  # noqa: F401  (imageattach's policy must be in force before wand starts)

# isort: split
from wand.color import Color
from wand.image import Image

__all__ = [
    "ADOBE_RGB_PROFILE",
    "animated_gif",
    "colour_strips",
    "corrupt_jpeg",
    "detailed_region",
    "huge_png_header",
    "jpeg",
    "large_colour_jpeg",
    "large_jpeg",
    "msl_payload",
    "mvg_payload",
    "not_an_image",
    "pdf",
    "png",
    "svg",
    "text_payload",
    "webp",
]

#: A non-sRGB (Adobe RGB 1998 compatible) ICC profile shipped by Debian's
#: ghostscript package; tests that need one skip when it is missing.
ADOBE_RGB_PROFILE = Path("/usr/share/color/icc/ghostscript/a98.icc")


def _quadrant_image(width: int, height: int, color: str, background: str = "white") -> Image:
    image = Image(width=width, height=height, background=Color(background))
    with Image(width=max(1, width // 2), height=max(1, height // 2), background=Color(color)) as q:
        image.composite(q, 0, 0)
    return image


def jpeg(
    width: int = 400,
    height: int = 300,
    *,
    orientation: int | None = None,
    color: str = "red",
    icc: bool = False,
    quality: int = 90,
) -> bytes:
    """A JPEG whose *stored* top-left quadrant is ``color``.

    ``orientation`` adds an EXIF APP1 segment with that Orientation tag
    (pixels are not rotated: a viewer must rotate them).  ``icc`` embeds the
    Adobe RGB profile without converting the pixels, so the same numbers mean
    other (more saturated) colours.
    """
    with _quadrant_image(width, height, color) as image:
        if icc:
            if not ADOBE_RGB_PROFILE.exists():
                import pytest

                pytest.skip(f"no non-sRGB ICC profile here ({ADOBE_RGB_PROFILE})")
            image.profiles["icc"] = ADOBE_RGB_PROFILE.read_bytes()
        image.format = "jpeg"
        image.compression_quality = quality
        data: bytes = image.make_blob()
    if orientation is not None:
        data = data[:2] + _exif_orientation_segment(orientation) + data[2:]
    return data


def _exif_orientation_segment(orientation: int) -> bytes:
    """An APP1 Exif segment holding one tag, Orientation (0x0112, SHORT)."""
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def png(width: int = 400, height: int = 300, *, alpha: bool = False, color: str = "red") -> bytes:
    """A PNG, top-left quadrant ``color``; with ``alpha`` the rest is transparent."""
    with _quadrant_image(width, height, color, "transparent" if alpha else "white") as image:
        image.format = "png"
        data: bytes = image.make_blob()
    return data


def animated_gif(frames: int = 3, width: int = 40, height: int = 30) -> bytes:
    """A GIF of ``frames`` single-colour frames: red, lime, blue, red, ..."""
    colors = ["red", "lime", "blue"]
    with Image() as animation:
        for i in range(frames):
            with Image(width=width, height=height, background=Color(colors[i % 3])) as frame:
                animation.sequence.append(frame)
        animation.format = "gif"
        data: bytes = animation.make_blob()
    return data


def webp(width: int = 400, height: int = 300, *, color: str = "red") -> bytes:
    """A lossy WebP, top-left quadrant ``color``."""
    with _quadrant_image(width, height, color) as image:
        image.format = "webp"
        data: bytes = image.make_blob()
    return data


def svg(width: int = 200, height: int = 100, *, color: str = "red") -> bytes:
    """An SVG (``width`` x ``height`` user units), top-left quadrant ``color``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">\n'
        f'  <rect width="{width}" height="{height}" fill="white"/>\n'
        f'  <rect width="{width / 2}" height="{height / 2}" fill="{color}"/>\n'
        f"</svg>\n"
    ).encode()


def pdf(width: int = 200, height: int = 100) -> bytes:
    """A one-page PDF (``width`` x ``height`` points), top-left quadrant red,
    written by hand: ImageMagick cannot write PDF under the policies here."""
    half_w, half_h = width / 2, height / 2
    content = f"1 1 1 rg 0 0 {width} {height} re f 1 0 0 rg 0 {half_h} {half_w} {half_h} re f"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R >>" % (width, height),
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream".encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    out += trailer % (len(objects) + 1, xref)
    return bytes(out)


def corrupt_jpeg() -> bytes:
    """A JPEG cut in the middle of its compressed data."""
    data = jpeg()
    return data[: len(data) // 2]


def not_an_image() -> bytes:
    """Plain text."""
    return b"This is not an image, just some text.\n" * 4


def huge_png_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes of PNG whose header claims ``width`` x ``height``
    (a decompression bomb): valid signature, IHDR and CRCs, an IDAT of two
    black rows, IEND."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = (b"\x00" + b"\x00" * 3 * width) * 2
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def mvg_payload() -> bytes:
    """An ImageMagick MVG drawing; under Debian's stock policy it renders."""
    return (
        b"push graphic-context\nviewbox 0 0 64 64\n"
        b"fill red\nrectangle 0 0 64 64\npop graphic-context\n"
    )


def msl_payload() -> bytes:
    """An ImageMagick scripting (MSL) document that would read and write files."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<image>\n'
        b'  <read filename="/etc/hostname"/>\n'
        b'  <write filename="/tmp/imageattach-msl-pwned.png"/>\n'
        b"</image>\n"
    )


def text_payload() -> bytes:
    """What ImageMagick's TEXT coder would render (a ``text:`` read aborts
    the whole process under Debian's stock policy)."""
    return b"text:/etc/passwd\n"


def large_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A photo-sized JPEG (12 MP by default, about 6 MB) with grainy blotches
    of colour, about as costly to decode as a camera photo.  Cached on disk:
    making it takes seconds."""
    return _blotches(f"large-{width}x{height}-v2.jpg", width, height, truecolor=False)


def _blotches(name: str, width: int, height: int, *, truecolor: bool) -> bytes:
    """Four colour blotches with grain as a JPEG, cached on disk as ``name``
    (greyscale-typed unless ``truecolor``, as ImageMagick picks the type)."""
    directory = Path(tempfile.gettempdir()) / "imageattach-test-images"
    cache = directory / name
    if cache.exists():
        return cache.read_bytes()
    small_width, small_height = max(1, width // 4), max(1, height // 4)
    with Image(width=small_width, height=small_height, background=Color("gray")) as image:
        if truecolor:
            image.type = "truecolor"
        image.sparse_color(
            "bilinear",
            {
                Color("#c04020"): (0, 0),
                Color("#2060c0"): (small_width - 1, 0),
                Color("#20a040"): (0, small_height - 1),
                Color("#e0d060"): (small_width - 1, small_height - 1),
            },
        )
        image.noise("gaussian", attenuate=1.0)
        image.resize(width, height)
        image.noise("gaussian", attenuate=0.03 if truecolor else 0.15)
        image.format = "jpeg"
        image.compression_quality = 88 if truecolor else 90
        data: bytes = image.make_blob()
    directory.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, cache)
    return data


def colour_strips(
    colors: tuple[str, ...] = ("red", "lime", "blue"),
    side: int = 100,
    *,
    vertical: bool = False,
    alpha: bool = False,
) -> bytes:
    """A PNG of ``side`` x ``side`` squares of ``colors`` in a row (a
    column if ``vertical``), so a crop shows which part it kept.  With
    ``alpha`` the first square is half transparent."""
    count = len(colors)
    width, height = (side, side * count) if vertical else (side * count, side)
    background = Color("transparent" if alpha else "white")
    with Image(width=width, height=height, background=background) as image:
        for index, color in enumerate(colors):
            fill = Color("rgba(255, 0, 0, 0.5)") if alpha and index == 0 else Color(color)
            with Image(width=side, height=side, background=fill) as square:
                left, top = (0, index * side) if vertical else (index * side, 0)
                image.composite(square, left, top, operator="copy")
        image.format = "png"
        data: bytes = image.make_blob()
    return data


def detailed_region(width: int = 300, height: int = 100, *, where: str = "east") -> bytes:
    """A flat grey PNG with one third, on side ``where`` (``east``,
    ``west``, ``north`` or ``south``), full of random noise: the most
    detailed region, which the ``entropy`` gravity must keep."""
    horizontal = where in ("east", "west")
    patch_width, patch_height = (width // 3, height) if horizontal else (width, height // 3)
    left = width - patch_width if where == "east" else 0
    top = height - patch_height if where == "south" else 0
    with Image(width=width, height=height, background=Color("gray50")) as image:
        with Image(width=patch_width, height=patch_height, background=Color("gray50")) as patch:
            patch.noise("random", attenuate=3.0)
            image.composite(patch, left, top)
        image.format = "png"
        data: bytes = image.make_blob()
    return data


def large_colour_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A photo-sized colour JPEG (12 MP by default, about 6 MB): blotches of
    four colours with grain, three channels to decode and encode as in a
    camera photo (:func:`large_jpeg` is greyscale).  Cached on disk."""
    return _blotches(f"large-colour-{width}x{height}-v2.jpg", width, height, truecolor=True)
