"""The pixel size a raster file's header *claims*, read before ImageMagick
sees the bytes.

ImageMagick's ping reads the same headers, but where a size exceeds its own
width/height limits (16K on Debian's policy) it fails without saying why;
reading the few header bytes here lets a decompression bomb be reported as
:exc:`~imageattach.exceptions.ImageTooLargeError` and never reach a decoder.
"""

from __future__ import annotations

import struct

__all__ = ["claimed_size"]

# JPEG start-of-frame markers (SOF0..SOF15 except DHT, JPG and DAC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def claimed_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG, GIF, WebP, JPEG, BMP or ICO/CUR header,
    or ``None`` for other formats and headers too short or odd to tell.
    Never raises, whatever the bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_size(data, 0)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    if data[:2] == b"BM":
        return _bmp_size(data)
    if data[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00"):
        return _ico_size(data)
    return None


def _png_size(data: bytes, offset: int) -> tuple[int, int] | None:
    """The IHDR size of a PNG starting at ``offset``."""
    if data[offset + 12 : offset + 16] != b"IHDR" or len(data) < offset + 24:
        return None
    width, height = struct.unpack(">II", data[offset + 16 : offset + 24])
    return width, height


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    """From the DIB header after the 14-byte file header: 16-bit sizes in a
    BITMAPCOREHEADER (12 bytes), signed 32-bit ones in the later headers
    (a negative height is a top-down bitmap)."""
    if len(data) < 18:
        return None
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12 and len(data) >= 22:
        width, height = struct.unpack("<HH", data[18:22])
        return width, height
    if header_size >= 16 and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return (width, abs(height)) if width >= 0 else None
    return None


def _ico_size(data: bytes) -> tuple[int, int] | None:
    """The largest entry of an ICO/CUR directory (16 bytes each after a
    6-byte header; a width or height byte of 0 means 256).  An entry holding
    a PNG claims the PNG's size: the directory bytes only say up to 256."""
    if len(data) < 6:
        return None
    (count,) = struct.unpack("<H", data[4:6])
    largest: tuple[int, int] | None = None
    for entry in range(6, min(6 + 16 * count, len(data) - 15), 16):
        size = (data[entry] or 256, data[entry + 1] or 256)
        (offset,) = struct.unpack("<I", data[entry + 12 : entry + 16])
        # ImageMagick takes it for a PNG by its first 4 bytes, or the IHDR tag.
        if data[offset : offset + 4] == b"\x89PNG" or data[offset + 12 : offset + 16] == b"IHDR":
            size = _png_size(data, offset) or size
        if largest is None or size[0] * size[1] > largest[0] * largest[1]:
            largest = size
    return largest


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    return None
