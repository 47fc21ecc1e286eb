"""Walks of image container structures, without decoding a pixel.

ImageMagick's ping of a GIF or TIFF reads every frame's header (a 2 MB GIF
of 100,000 tiny frames takes gigabytes), and libpng inflates compressed text
and ICC chunks whole.  These walks measure both first, from the block, IFD
and chunk lengths alone, with a cap so that they stop as soon as the answer
is "too many": their cost is linear in the data, and bounded by the cap
where the data only *claims* a size.  They never raise on garbage.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

__all__ = ["count_frames", "png_ancillary_bytes"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def count_frames(data: bytes, mimetype: str, *, cap: int) -> int:
    """How many frames (or pages) the image holds, at least 1.

    Counting stops once it exceeds ``cap``: then ``cap + 1`` is returned.
    GIF blocks, TIFF IFDs (a loop in their chain ends the walk), WebP ANMF
    chunks, the APNG ``acTL`` count and the ICO/CUR directory are read;
    other formats have 1 frame here.
    """
    counter = _COUNTERS.get(mimetype)
    limit = max(cap, 0) + 1
    count = counter(data, limit) if counter is not None else 1
    return max(1, min(count, limit))


def _gif_frames(data: bytes, limit: int) -> int:
    """Image descriptors up to the trailer, garbage or the end of the data."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return 1
    position = 13 + _color_table_size(data[10])
    frames, marks = 0, None
    while position < len(data) and frames < limit:
        block = data[position]
        if block == 0x2C:  # image descriptor
            if position + 10 > len(data):
                break
            frames += 1
            # Local colour table, then the LZW minimum code size byte.
            position += 10 + _color_table_size(data[position + 9]) + 1
        elif block == 0x21:  # extension: label byte
            position += 2
        elif block == 0x3B:  # trailer
            break
        else:
            # ImageMagick skips any other byte, looking for the next block.
            if marks is None:
                marks = data.translate(_GIF_BLOCK_MARKS)
            position = marks.find(1, position + 1)
            if position < 0:
                break
            continue
        position = _skip_sub_blocks(data, position)
    return frames


#: 1 for the bytes that start a GIF block (",", "!", ";"), else 0.
_GIF_BLOCK_MARKS = bytes(1 if byte in b",!;" else 0 for byte in range(256))


def _color_table_size(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, position: int) -> int:
    """Past a chain of GIF data sub-blocks (length byte, bytes) and its
    empty terminator; past the end of ``data`` if it is cut short."""
    while position < len(data):
        length = data[position]
        position += 1 + length
        if length == 0:
            break
    return position


def _tiff_frames(data: bytes, limit: int) -> int:
    """IFDs in the chain from the header (SubIFDs are not pages)."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8:
        return 1
    (version,) = struct.unpack(order + "H", data[2:4])
    if version == 42:  # classic: 16-bit entry count, 12-byte entries, 32-bit offsets
        (offset,) = struct.unpack(order + "I", data[4:8])
        count_format, entry_size, offset_format = order + "H", 12, order + "I"
    elif version == 43 and len(data) >= 16:  # BigTIFF: 64-bit counts and offsets
        (offset,) = struct.unpack(order + "Q", data[8:16])
        count_format, entry_size, offset_format = order + "Q", 20, order + "Q"
    else:
        return 1
    count_size, offset_size = struct.calcsize(count_format), struct.calcsize(offset_format)
    frames, seen = 0, set()
    while offset and offset not in seen and frames < limit:
        if offset + count_size > len(data):
            break
        seen.add(offset)
        frames += 1
        (entries,) = struct.unpack(count_format, data[offset : offset + count_size])
        next_field = offset + count_size + entries * entry_size
        if next_field + offset_size > len(data):
            break
        (offset,) = struct.unpack(offset_format, data[next_field : next_field + offset_size])
    return frames


def _webp_frames(data: bytes, limit: int) -> int:
    """ANMF chunks of an animated WebP (VP8X with the animation flag)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or data[12:16] != b"VP8X":
        return 1
    if len(data) < 21 or not data[20] & 0x02:
        return 1
    frames, position = 0, 12
    while position + 8 <= len(data) and frames < limit:
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        if data[position : position + 4] == b"ANMF":
            frames += 1
        position += 8 + size + (size & 1)
    return frames


def _png_frames(data: bytes, limit: int) -> int:
    """The ``num_frames`` of an APNG's ``acTL`` chunk, or 1."""
    for kind, start, end in _png_chunks(data):
        if kind == b"acTL" and end - start >= 4:
            (frames,) = struct.unpack(">I", data[start : start + 4])
            return int(frames)
    return 1


def _ico_frames(data: bytes, limit: int) -> int:
    """The entry count of an ICO or CUR directory."""
    if data[:4] not in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") or len(data) < 6:
        return 1
    (entries,) = struct.unpack("<H", data[4:6])
    return int(entries)


_COUNTERS: dict[str, Callable[[bytes, int], int]] = {
    "image/gif": _gif_frames,
    "image/tiff": _tiff_frames,
    "image/webp": _webp_frames,
    "image/png": _png_frames,
    "image/apng": _png_frames,
    "image/vnd.microsoft.icon": _ico_frames,
    "image/x-icon": _ico_frames,
}


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(type, start, end)`` of a PNG's chunks up to IEND, the data of each
    being ``data[start:end]``; a chunk cut short ends the walk."""
    if not data.startswith(_PNG_SIGNATURE):
        return
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        start = position + 8
        if start + length > len(data):
            return
        yield kind, start, start + length
        if kind == b"IEND":
            return
        position = start + length + 4  # CRC


#: Chunks that are image data rather than metadata.
_PNG_IMAGE_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"})

#: How much is inflated at a time: what is held in memory at once.
_INFLATE_STEP = 65536


def png_ancillary_bytes(data: bytes, *, cap: int) -> int:
    """Bytes of metadata in a PNG: the data of every chunk but IHDR, PLTE,
    IDAT, IEND and tRNS, counting compressed text (zTXt, iTXt) and ICC
    profiles (iCCP) by their inflated size.  0 when ``data`` is not a PNG.

    Returns as soon as the total exceeds ``cap``: compressed chunks are
    inflated a piece at a time and only up to the cap, so a deflate bomb
    costs no more than ``cap`` bytes of work and one piece of memory.
    """
    total = 0
    for kind, start, end in _png_chunks(data):
        if kind in _PNG_IMAGE_CHUNKS:
            continue
        compressed = _compressed_part(data, kind, start, end)
        if compressed is None:
            total += end - start
        else:
            total += compressed - start
            total += _inflated_size(memoryview(data)[compressed:end], cap + 1 - total)
        if total > cap:
            break
    return total


def _compressed_part(data: bytes, kind: bytes, start: int, end: int) -> int | None:
    """Where a zTXt, iCCP or compressed iTXt chunk's zlib stream starts, or
    ``None`` for a chunk of another type or one not compressed."""
    if kind not in (b"zTXt", b"iCCP", b"iTXt"):
        return None
    keyword_end = data.find(b"\0", start, end)
    if keyword_end < 0:
        return None
    if kind != b"iTXt":
        return min(keyword_end + 2, end)  # null, compression method
    if keyword_end + 3 > end or data[keyword_end + 1] != 1:  # compression flag
        return None
    language_end = data.find(b"\0", keyword_end + 3, end)
    translated_end = data.find(b"\0", language_end + 1, end) if language_end >= 0 else -1
    return translated_end + 1 if translated_end >= 0 else None


def _inflated_size(stream: memoryview, budget: int) -> int:
    """The size ``stream`` inflates to, or a number at least ``budget`` once
    it reaches that (inflation stops there); a corrupt stream counts what it
    gave before the error."""
    decompressor = zlib.decompressobj()
    produced = 0
    try:
        # Input goes in by pieces too: what zlib cannot take yet comes back
        # as a copy (unconsumed_tail), which must stay small.
        for offset in range(0, len(stream), _INFLATE_STEP):
            pending: bytes | memoryview = stream[offset : offset + _INFLATE_STEP]
            while produced < budget:
                output = decompressor.decompress(pending, min(_INFLATE_STEP, budget - produced))
                produced += len(output)
                stalled = not output and len(decompressor.unconsumed_tail) == len(pending)
                if decompressor.eof or stalled:
                    break  # the end, or all of this piece is in and nothing held back
                pending = decompressor.unconsumed_tail
            if decompressor.eof or produced >= budget:
                break
    except zlib.error:
        pass
    return produced
