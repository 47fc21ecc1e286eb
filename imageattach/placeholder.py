"""Placeholders: a ThumbHash of an image, and the tiny blurred picture a page shows from it.

A placeholder stands in for an image while the real one loads, with no extra
request.  Its source is a ThumbHash (https://evanw.github.io/thumbhash/), a
standard 5-25 byte summary of a small RGBA preview (at most 100x100) that any
ThumbHash decoder, in Python, JavaScript, Swift or Kotlin, turns back into a
blurred picture of the same colours and about the same aspect ratio.  Written
here from the published description of the format, in pure Python: inputs are
at most 100x100 pixels, so no imaging library is needed in the server process.

The format, as encoded and decoded here:

- The preview is split into four channels: luminance ``L = (R+G+B)/3``, the
  yellow-blue ``P = (R+G)/2 - B``, the red-green ``Q = R-G`` and alpha ``A``,
  each from 0 to 1 (``P``, ``Q``: -1 to 1), every pixel composited over the
  alpha-weighted average colour first.
- Each channel goes through a DCT; the low-frequency coefficients are kept: a
  triangle of up to 7x7 for ``L`` (5x5 with alpha, fewer along the short side
  of the image), 3x3 for ``P`` and ``Q``, 5x5 for ``A``.
- A 5-byte header (6 with alpha) holds the constant (DC) terms, the largest
  magnitude of each channel's varying (AC) terms, whether there is alpha,
  whether the image is landscape and how many ``L`` coefficients its short side
  has (which gives the approximate aspect ratio).  The AC terms follow, divided
  by that magnitude and quantised to 4 bits each, two per byte, low nibble first.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
import sys
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from operator import add, mul, sub

from .exceptions import ArgumentError, ArgumentTypeError

__all__ = [
    "DATA_URI_LIMIT",
    "MAX_PREVIEW_SIDE",
    "MAX_THUMBHASH_LENGTH",
    "RENDER_SIDE",
    "Placeholder",
    "decode_thumbhash",
    "encode_thumbhash",
    "placeholder_data_uri",
    "thumbhash_aspect_ratio",
    "thumbhash_average_rgba",
]

#: The largest width or height :func:`encode_thumbhash` accepts, as the format says.
MAX_PREVIEW_SIDE = 100
#: The longest ThumbHash: 5 header bytes and 19 of AC terms, or 6 and 19 with alpha.
MAX_THUMBHASH_LENGTH = 25
#: The longest side of the image :func:`decode_thumbhash` renders, as other decoders do.
RENDER_SIDE = 32
#: Every :func:`placeholder_data_uri` is shorter than this many characters.
DATA_URI_LIMIT = 1024

_TEXT_PREFIX = "thumbhash:"
_TEXT = re.compile(r"thumbhash:([1-9][0-9]{0,2})x([1-9][0-9]{0,2}):([A-Za-z0-9+/]{8,36}={0,2})")
#: Longer texts are refused before any parsing: ``to_text()`` never exceeds 54 characters.
_MAX_TEXT_LENGTH = 64


def _round(value: float) -> int:
    """Round half up, like JavaScript's ``Math.round`` that the reference uses
    (Python's ``round`` rounds half to even, which would change some hashes)."""
    return math.floor(value + 0.5)


def _quantise(value: float, top: int) -> int:
    """``value`` rounded and clamped to ``0..top``, so it fits its bit field."""
    return min(top, max(0, _round(value)))


@lru_cache(maxsize=256)
def _cosines(size: int, count: int) -> tuple[tuple[float, ...], ...]:
    """The DCT basis along one axis: ``cos(pi / size * k * (i + 0.5))`` for
    ``k < count`` (rows) and ``i < size`` (columns)."""
    return tuple(
        tuple(math.cos(math.pi / size * k * (i + 0.5)) for i in range(size)) for k in range(count)
    )


@lru_cache(maxsize=16)
def _ac_positions(nx: int, ny: int) -> tuple[tuple[int, int], ...]:
    """The ``(cx, cy)`` of a channel's AC terms, in hash order: row by row, the
    triangle ``cx * ny < nx * (ny - cy)``, without the DC term ``(0, 0)``."""
    return tuple(
        (cx, cy) for cy in range(ny) for cx in range(nx) if (cx or cy) and cx * ny < nx * (ny - cy)
    )


#: The scale of the fixed-point cosines of the column pass: 32 bits, finer than
#: the float32 of other encoders, and far finer than the hash's 4-6 bit terms.
_FIXED = 1 << 32
#: AC terms smaller than this are the rounding error of terms that are 0 (in a
#: symmetric image, say): they are made 0, so that the hash does not depend on
#: it.  Far below what the 4-6 bit scales of the header can express.
_NOISE = 1e-9


@lru_cache(maxsize=128)
def _fixed_cosines(size: int, count: int) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(round(c * _FIXED) for c in basis) for basis in _cosines(size, count))


def _unpack(number: int, count: int) -> array[int]:
    """The ``count`` 64-bit lanes of a non-negative ``number``, lowest first."""
    lanes = array("Q", number.to_bytes(8 * count, "little"))
    if sys.byteorder == "big":
        lanes.byteswap()
    return lanes


def _column_pass(raw: bytes, size: int, height: int, ny: int) -> list[list[int]]:
    """The first half of the DCT: for each ``cy < ny``, the sum down each column of
    ``value * cos_y`` (times 2**32), for all the values of a row at once.

    ``raw`` holds ``height`` rows of unsigned little-endian values of ``size``
    bytes.  SIMD within a register: each row becomes one integer with a 64-bit
    lane per value, so one multiplication weighs a whole row in C.  Positive and
    negative weights are summed apart so that no lane borrows from the next;
    values < 2**16, weights <= 2**32 and 100 rows keep each lane under 2**55.
    This makes a 100x100 encoding a few times faster than summing row by row.
    """
    stride = len(raw) // height
    count = stride // size
    lanes = bytearray(8 * count)
    rows = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        for byte in range(size):
            lanes[byte::8] = row[byte::size]
        rows.append(int.from_bytes(lanes, "little"))
    sums = []
    for weights in _fixed_cosines(height, ny):
        positive = negative = 0
        for row_value, weight in zip(rows, weights, strict=True):
            if weight > 0:
                positive += weight * row_value
            elif weight < 0:
                negative -= weight * row_value
        sums.append(list(map(sub, _unpack(positive, count), _unpack(negative, count))))
    return sums


def _row_pass(
    columns: list[list[int]], width: int, height: int, nx: int, ny: int
) -> list[list[float]]:
    """The second half of the DCT: the terms ``[cy][cx]`` of one channel, each the
    mean of ``value * cos_x * cos_y``, from its :func:`_column_pass` sums."""
    cos_x = _cosines(width, nx)
    scale = width * height * _FIXED
    return [[sum(map(mul, column, basis)) / scale for basis in cos_x] for column in columns[:ny]]


def _check_side(name: str, side: object) -> int:
    """``side`` if it is an int from 1 to 100, else ArgumentError."""
    if not isinstance(side, int) or isinstance(side, bool):
        raise ArgumentTypeError(f"{name} must be an int, not {type(side).__name__}")
    if not 1 <= side <= MAX_PREVIEW_SIDE:
        raise ArgumentError(
            f"{name} must be from 1 to {MAX_PREVIEW_SIDE} (a ThumbHash is made from a "
            f"preview of at most {MAX_PREVIEW_SIDE}x{MAX_PREVIEW_SIDE}), not {side}"
        )
    return side


def _size_of(data: object) -> int:
    """The length in bytes of a bytes-like object, without copying it."""
    if isinstance(data, memoryview):
        return data.nbytes
    if isinstance(data, bytes | bytearray):
        return len(data)
    raise ArgumentTypeError(f"expected bytes, not {type(data).__name__}")


def _as_bytes(data: object) -> bytes:
    """A bytes-like object (whose size was checked) as bytes."""
    if isinstance(data, memoryview):
        return data.tobytes()
    assert isinstance(data, bytes | bytearray)
    return bytes(data)


def _check_preview(width: object, height: object, rgba: object) -> bytes:
    """``rgba`` as bytes after checking the preview's size, or ArgumentError."""
    width, height = _check_side("width", width), _check_side("height", height)
    expected = width * height * 4
    if _size_of(rgba) != expected:
        raise ArgumentError(
            f"rgba must hold {width}x{height} RGBA pixels, {expected} bytes, not {_size_of(rgba)}"
        )
    return _as_bytes(rgba)


def _denoised(term: float) -> float:
    return term if abs(term) > _NOISE else 0.0


def _l_shape(width: int, height: int, has_alpha: bool) -> tuple[int, int]:
    """How many ``L`` terms each axis keeps: 7 (5 with alpha) along the long side."""
    limit = 5 if has_alpha else 7
    longest = max(width, height)
    return max(1, _round(limit * width / longest)), max(1, _round(limit * height / longest))


def encode_thumbhash(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of a ``width`` x ``height`` image of RGBA pixels, row by row,
    not premultiplied; both sides from 1 to 100 (make a preview first).

    Raises :exc:`~imageattach.exceptions.ArgumentError` for a size out of range or
    ``rgba`` of the wrong length (:exc:`~imageattach.exceptions.ArgumentTypeError`
    for the wrong types).
    """
    data = _check_preview(width, height, rgba)
    alpha = data[3::4]
    total_alpha = sum(alpha)
    has_alpha = total_alpha < 255 * width * height
    lx, ly = _l_shape(width, height, has_alpha)
    ny = max(3, ly, 5 if has_alpha else 3)
    if has_alpha:  # premultiplied, 0 to 255 * 255, in 2 bytes
        premultiplied = array("H", bytes(8 * width * height))
        for i in range(3):
            premultiplied[i::4] = array("H", map(mul, data[i::4], alpha))
        premultiplied[3::4] = array("H", list(alpha))
        if sys.byteorder == "big":
            premultiplied.byteswap()
        columns = _column_pass(premultiplied.tobytes(), 2, height, ny)
        unit = 255 * 255
    else:  # opaque: the bytes as they are
        columns = _column_pass(data, 1, height, ny)
        unit = 255
    # Every column sum of cy = 0 is exact (its weights are all 2**32).
    totals = [sum(columns[0][i::4]) // _FIXED for i in range(3)]
    if total_alpha:
        average = [255 * total / (unit * total_alpha) for total in totals]
    else:
        average = [0.0, 0.0, 0.0]

    def dct(combine: Callable[[list[int]], list[int]], nx: int, ny: int) -> list[list[float]]:
        """The terms of the channel that ``combine`` makes of the R, G, B, A sums."""
        return _row_pass([combine(sums) for sums in columns[:ny]], width, height, nx, ny)

    # Each pixel is composited over the average colour, c' = avg * (1 - a) + a * c,
    # before the DCT.  The DCT is linear, so that is done on the terms instead:
    # the DCT of the premultiplied a * c, plus avg times the DCT of (1 - a).
    alpha_terms = dct(lambda s: s[3::4], 5, 5) if has_alpha else None

    def channel(
        combine: Callable[[list[int]], list[int]], divisor: int, mean: float, nx: int, ny: int
    ) -> tuple[float, list[float], float]:
        channel_terms = dct(combine, nx, ny)
        divisor *= unit

        def term(cx: int, cy: int) -> float:
            value = channel_terms[cy][cx] / divisor
            if alpha_terms is not None:
                value += mean * ((cx == 0 and cy == 0) - alpha_terms[cy][cx] / 255)
            return value

        ac = [_denoised(term(cx, cy)) for cx, cy in _ac_positions(nx, ny)]
        scale = max(map(abs, ac), default=0.0)
        if scale > 0:
            ac = [0.5 + 0.5 / scale * value for value in ac]
        return term(0, 0), ac, scale

    average_l = sum(average) / 3
    average_p = (average[0] + average[1]) / 2 - average[2]
    average_q = average[0] - average[1]
    # L = (R + G + B) / 3, P = (R + G - 2 B) / 2 and Q = R - G, in units of ``unit``.
    l_dc, l_ac, l_scale = channel(
        lambda s: list(map(add, map(add, s[0::4], s[1::4]), s[2::4])),
        3,
        average_l,
        max(3, lx),
        max(3, ly),
    )
    p_dc, p_ac, p_scale = channel(
        lambda s: list(map(sub, map(add, s[0::4], s[1::4]), map(add, s[2::4], s[2::4]))),
        2,
        average_p,
        3,
        3,
    )
    q_dc, q_ac, q_scale = channel(lambda s: list(map(sub, s[0::4], s[1::4])), 1, average_q, 3, 3)

    landscape = width > height
    header24 = (
        _quantise(63 * l_dc, 63)
        | _quantise(31.5 + 31.5 * p_dc, 63) << 6
        | _quantise(31.5 + 31.5 * q_dc, 63) << 12
        | _quantise(31 * l_scale, 31) << 18
        | has_alpha << 23
    )
    header16 = (
        (ly if landscape else lx)
        | _quantise(63 * p_scale, 63) << 3
        | _quantise(63 * q_scale, 63) << 9
        | landscape << 15
    )
    hash_ = bytearray(struct.pack("<I", header24)[:3] + struct.pack("<H", header16))
    terms = l_ac + p_ac + q_ac
    if alpha_terms is not None:
        a_ac = [_denoised(alpha_terms[cy][cx] / 255) for cx, cy in _ac_positions(5, 5)]
        a_scale = max(map(abs, a_ac), default=0.0)
        if a_scale > 0:
            a_ac = [0.5 + 0.5 / a_scale * value for value in a_ac]
        hash_.append(_quantise(15 * alpha_terms[0][0] / 255, 15) | _quantise(15 * a_scale, 15) << 4)
        terms += a_ac
    nibbles = [_quantise(15 * value, 15) for value in terms]
    nibbles.append(0)  # the padding of an odd count
    hash_ += bytes(low | high << 4 for low, high in zip(nibbles[0::2], nibbles[1::2], strict=False))
    return bytes(hash_)


@dataclass(frozen=True)
class _Fields:
    """A ThumbHash, unpacked and checked."""

    l_dc: float
    p_dc: float
    q_dc: float
    a_dc: float
    has_alpha: bool
    landscape: bool
    short_side: int  # how many L terms the short side keeps: 1 to 7
    ac: tuple[float, ...]  # the AC terms of L, P, Q and A, from -1 to 1
    scales: tuple[float, float, float, float]  # of L, P, Q, A

    @property
    def long_side(self) -> int:
        return 5 if self.has_alpha else 7

    @property
    def l_shape(self) -> tuple[int, int]:
        """The ``(lx, ly)`` the aspect ratio is read from (not raised to 3)."""
        if self.landscape:
            return self.long_side, self.short_side
        return self.short_side, self.long_side


def _ac_count(has_alpha: bool, lx: int, ly: int) -> int:
    count = len(_ac_positions(max(3, lx), max(3, ly))) + 2 * len(_ac_positions(3, 3))
    return count + (len(_ac_positions(5, 5)) if has_alpha else 0)


def _parse(hash_: object) -> _Fields:
    """The fields of a ThumbHash; ArgumentError for anything that is not one."""
    size = _size_of(hash_)
    if not 5 <= size <= MAX_THUMBHASH_LENGTH:
        raise ArgumentError(f"not a ThumbHash: {size} bytes, not from 5 to {MAX_THUMBHASH_LENGTH}")
    data = _as_bytes(hash_)
    header24 = int.from_bytes(data[:3], "little")
    header16 = int.from_bytes(data[3:5], "little")
    has_alpha = bool(header24 >> 23)
    landscape = bool(header16 >> 15)
    short_side = header16 & 7
    if short_side == 0:
        raise ArgumentError("not a ThumbHash: its aspect ratio field is 0")
    fields = _Fields(
        l_dc=(header24 & 63) / 63,
        p_dc=(header24 >> 6 & 63) / 31.5 - 1,
        q_dc=(header24 >> 12 & 63) / 31.5 - 1,
        a_dc=(data[5] & 15) / 15 if has_alpha and len(data) > 5 else 1.0,
        has_alpha=has_alpha,
        landscape=landscape,
        short_side=short_side,
        ac=(),
        scales=(
            (header24 >> 18 & 31) / 31,
            (header16 >> 3 & 63) / 63,
            (header16 >> 9 & 63) / 63,
            (data[5] >> 4) / 15 if has_alpha and len(data) > 5 else 0.0,
        ),
    )
    lx, ly = fields.l_shape
    start = 6 if has_alpha else 5
    count = _ac_count(has_alpha, lx, ly)
    expected = start + (count + 1) // 2
    if len(data) != expected:
        raise ArgumentError(
            f"not a ThumbHash: {len(data)} bytes, but its header says {expected}"
            f"{' (with alpha)' if has_alpha else ''}"
        )
    nibbles = [nibble for byte in data[start:] for nibble in (byte & 15, byte >> 4)]
    ac = tuple(nibble / 7.5 - 1 for nibble in nibbles[:count])
    return replace(fields, ac=ac)


def thumbhash_aspect_ratio(hash: bytes) -> float:
    """The approximate width / height of the image a ThumbHash was made from
    (from 1/7 to 7; the preview's real size is more precise)."""
    lx, ly = _parse(hash).l_shape
    return lx / ly


def _lpq_to_rgb(luma: float, p: float, q: float) -> tuple[float, float, float]:
    blue = luma - 2 / 3 * p
    red = (3 * luma - blue + q) / 2
    return red, red - q, blue


def _byte(value: float) -> int:
    """A 0..1 channel value as 0..255, clamped."""
    return _quantise(255 * value, 255)


def _bytes(values: list[float]) -> bytes:
    """0..1 channel values as 0..255 bytes, rounded and clamped (int() is floor here,
    as anything below 0 becomes 0)."""
    return bytes([min(255, max(0, int(255 * v + 0.5))) for v in values])


def thumbhash_average_rgba(hash: bytes) -> tuple[int, int, int, int]:
    """The average colour of the image a ThumbHash was made from, as ``(r, g, b, a)``
    from 0 to 255, not premultiplied; e.g. for a CSS ``background-color``."""
    fields = _parse(hash)
    red, green, blue = _lpq_to_rgb(fields.l_dc, fields.p_dc, fields.q_dc)
    return _byte(red), _byte(green), _byte(blue), _byte(fields.a_dc)


def _render_size(fields: _Fields, longest: int) -> tuple[int, int]:
    lx, ly = fields.l_shape
    if lx > ly:
        return longest, max(1, _round(longest * ly / lx))
    return max(1, _round(longest * lx / ly)), longest


def _render(fields: _Fields, longest: int) -> tuple[int, int, bytes]:
    """The blurred picture of a parsed ThumbHash, ``longest`` pixels on its long side."""
    width, height = _render_size(fields, longest)
    lx, ly = fields.l_shape
    l_positions = _ac_positions(max(3, lx), max(3, ly))
    pq_positions = _ac_positions(3, 3)
    channels = [(fields.l_dc, l_positions, fields.scales[0])]
    # Other decoders boost the saturation by 1.25, to make up for quantisation.
    channels += [(fields.p_dc, pq_positions, fields.scales[1] * 1.25)]
    channels += [(fields.q_dc, pq_positions, fields.scales[2] * 1.25)]
    if fields.has_alpha:
        channels += [(fields.a_dc, _ac_positions(5, 5), fields.scales[3])]
    cos_x = _cosines(width, 7)
    cos_y = _cosines(height, 7)
    planes: list[list[list[float]]] = []
    index = 0
    for dc, positions, scale in channels:
        # Separable: sum each row cy of terms along x once, then each pixel adds
        # one product per row.  The factor 2 is the reference's.
        by_row: dict[int, list[float]] = {}
        for cx, cy in positions:
            weight = 2 * scale * fields.ac[index]
            index += 1
            row = by_row.setdefault(cy, [0.0] * width)
            by_row[cy] = [v + weight * c for v, c in zip(row, cos_x[cx], strict=False)]
        plane = []
        for y in range(height):
            line = [dc] * width
            for cy, row in by_row.items():
                f = cos_y[cy][y]
                line = [v + f * r for v, r in zip(line, row, strict=True)]
            plane.append(line)
        planes.append(plane)
    out = bytearray(width * height * 4)
    if not fields.has_alpha:
        out[3::4] = b"\xff" * (width * height)
    for y in range(height):
        span = slice(y * width * 4, (y + 1) * width * 4)
        lumas, ps, qs = planes[0][y], planes[1][y], planes[2][y]
        blues = [luma - 2 / 3 * p for luma, p in zip(lumas, ps, strict=True)]
        reds = [(3 * luma - b + q) / 2 for luma, b, q in zip(lumas, blues, qs, strict=True)]
        greens = [r - q for r, q in zip(reds, qs, strict=True)]
        pixels = out[span]
        pixels[0::4], pixels[1::4], pixels[2::4] = _bytes(reds), _bytes(greens), _bytes(blues)
        if fields.has_alpha:
            pixels[3::4] = _bytes(planes[3][y])
        out[span] = pixels
    return width, height, bytes(out)


def decode_thumbhash(hash: bytes) -> tuple[int, int, bytes]:
    """The blurred picture a ThumbHash stands for: ``(width, height, rgba)``, at most
    32 pixels on its long side, RGBA row by row, not premultiplied.

    Safe on untrusted input: any bytes give such an image or
    :exc:`~imageattach.exceptions.ArgumentError` (at most 25 bytes are ever read,
    and the work is bounded by the 32x32 output).
    """
    return _render(_parse(hash), RENDER_SIDE)


# -- PNG ------------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(left: int, up: int, up_left: int) -> int:
    guess = left + up - up_left
    dl, du, dul = abs(guess - left), abs(guess - up), abs(guess - up_left)
    if dl <= du and dl <= dul:
        return left
    return up if du <= dul else up_left


def _filtered(rows: list[bytes], bpp: int, kind: int) -> bytes:
    """The PNG scanlines of ``rows`` with one filter for all (0 none, 1 sub, 2 up, 4 paeth)."""
    out = bytearray()
    previous = bytes(len(rows[0]))
    for row in rows:
        out.append(kind)
        if kind == 0:
            out += row
        elif kind == 1:
            out += bytes(
                (row[i] - (row[i - bpp] if i >= bpp else 0)) & 255 for i in range(len(row))
            )
        elif kind == 2:
            out += bytes((a - b) & 255 for a, b in zip(row, previous, strict=True))
        else:
            out += bytes(
                (
                    row[i]
                    - _paeth(
                        row[i - bpp] if i >= bpp else 0,
                        previous[i],
                        previous[i - bpp] if i >= bpp else 0,
                    )
                )
                & 255
                for i in range(len(row))
            )
        previous = row
    return bytes(out)


def _png(width: int, height: int, rgba: bytes, has_alpha: bool) -> bytes:
    """A minimal 8-bit PNG (RGB when opaque), whichever filter compresses best."""
    if has_alpha:
        pixels, bpp, color_type = rgba, 4, 6
    else:
        rgb = bytearray(width * height * 3)
        for i in range(3):
            rgb[i::3] = rgba[i::4]
        pixels, bpp, color_type = bytes(rgb), 3, 2
    stride = width * bpp
    rows = [pixels[y * stride : (y + 1) * stride] for y in range(height)]
    body = min((zlib.compress(_filtered(rows, bpp, kind), 9) for kind in (0, 1, 2, 4)), key=len)
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def placeholder_data_uri(hash: bytes) -> str:
    """The picture of a ThumbHash as a ``data:image/png;base64,...`` URI shorter
    than :data:`DATA_URI_LIMIT` (1 KB), to inline in a page.

    The PNG is the :func:`decode_thumbhash` image (32 pixels on its long side);
    in the rare case that does not fit, it is rendered smaller (24, 16, then 8,
    which always fits), with the same aspect ratio: it is stretched to the
    element's box anyway.  ArgumentError if ``hash`` is not a ThumbHash.
    """
    fields = _parse(hash)
    for longest in (RENDER_SIDE, 24, 16, 8):
        png = _png(*_render(fields, longest), fields.has_alpha)
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        if len(uri) < DATA_URI_LIMIT:
            return uri
    # 8x8 RGBA is 264 bytes of scanlines: the PNG is under 350 bytes, its URI under 500.
    raise AssertionError("unreachable: an 8x8 PNG always fits")  # pragma: no cover


# -- the placeholder ------------------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """The placeholder of one image: the ThumbHash of its preview, and that
    preview's ``width`` and ``height`` (at most 100x100; their ratio is the
    image's, more precisely than the hash's own).

    Constructing one checks that ``thumbhash`` is a ThumbHash and agrees with
    the size (ArgumentError otherwise), so a stored placeholder cannot be
    mistaken for another image's.
    """

    thumbhash: bytes
    width: int
    height: int

    def __post_init__(self) -> None:
        fields = _parse(self.thumbhash)
        object.__setattr__(self, "thumbhash", bytes(self.thumbhash))
        _check_side("width", self.width)
        _check_side("height", self.height)
        lx, ly = _l_shape(self.width, self.height, fields.has_alpha)
        if fields.landscape != (self.width > self.height) or fields.l_shape != (lx, ly):
            raise ArgumentError(
                f"this ThumbHash was not made from a {self.width}x{self.height} preview"
            )

    @classmethod
    def from_rgba(cls, width: int, height: int, rgba: bytes) -> Placeholder:
        """The placeholder of a preview: RGBA pixels, at most 100x100 (see
        :func:`encode_thumbhash`)."""
        return cls(encode_thumbhash(width, height, rgba), width, height)

    @property
    def thumbhash_base64(self) -> str:
        """The hash in standard base64, as JavaScript ThumbHash decoders take it
        (after ``atob``)."""
        return base64.b64encode(self.thumbhash).decode("ascii")

    @cached_property
    def data_uri(self) -> str:
        """The blurred picture as a PNG ``data:`` URI under 1 KB
        (:func:`placeholder_data_uri`)."""
        return placeholder_data_uri(self.thumbhash)

    @property
    def style(self) -> str:
        """A CSS ``style`` value showing the picture behind an ``<img>`` until it
        loads: it holds no quote, ``&`` or ``<``, so it needs no escaping in a
        double-quoted attribute."""
        return f"background-size:100% 100%;background-image:url({self.data_uri})"

    @property
    def average_rgba(self) -> tuple[int, int, int, int]:
        """The image's average colour, ``(r, g, b, a)`` from 0 to 255."""
        return thumbhash_average_rgba(self.thumbhash)

    def to_text(self) -> str:
        """A short ASCII string to store (at most 54 characters, e.g. in a
        ``String(64)`` column or a sidecar file): ``thumbhash:WxH:<base64>``."""
        return f"{_TEXT_PREFIX}{self.width}x{self.height}:{self.thumbhash_base64}"

    @classmethod
    def from_text(cls, text: str) -> Placeholder:
        """The placeholder :meth:`to_text` stored; ArgumentError for any other
        string (ArgumentTypeError for a non-string)."""
        if not isinstance(text, str):
            raise ArgumentTypeError(f"a placeholder text is a str, not {type(text).__name__}")
        match = _TEXT.fullmatch(text) if len(text) <= _MAX_TEXT_LENGTH else None
        if match is None:
            raise ArgumentError(
                f"not a placeholder text (thumbhash:WxH:<base64>): {text[:_MAX_TEXT_LENGTH]!r}"
            )
        encoded = match[3]
        try:
            hash_ = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ArgumentError(f"not a placeholder text, bad base64: {text!r}") from None
        if base64.b64encode(hash_).decode("ascii") != encoded:
            raise ArgumentError(f"not a placeholder text, non-canonical base64: {text!r}")
        return cls(hash_, int(match[1]), int(match[2]))
