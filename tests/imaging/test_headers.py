from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from images import animated_gif, huge_png_header, jpeg, not_an_image, png, svg, webp

# isort: split
from wand.color import Color
from wand.image import Image

from imageattach.exceptions import ImageTooLargeError
from imageattach.imaging import probe
from imageattach.imaging.headers import claimed_size


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (jpeg(400, 300), (400, 300)),
        (jpeg(400, 300, orientation=6), (400, 300)),
        (png(64, 32), (64, 32)),
        (animated_gif(width=40, height=30), (40, 30)),
        (webp(50, 20), (50, 20)),
        (huge_png_header(123_456, 7), (123_456, 7)),
        (svg(), None),
        (not_an_image(), None),
        (b"\xff\xd8\xff", None),
    ],
)
def test_claimed_size(data: bytes, size: tuple[int, int] | None) -> None:
    assert claimed_size(data) == size


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(jpeg(40, 30))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(animated_gif())
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


@pytest.mark.parametrize(
    "bomb",
    [_jpeg_claiming(60_000, 60_000), _gif_claiming(65_535, 65_535), huge_png_header()],
    ids=["jpeg", "gif", "png"],
)
def test_bombs_refused_from_the_header(bomb: bytes) -> None:
    assert len(bomb) < 5000
    with pytest.raises(ImageTooLargeError):
        probe(bomb)


# -- BMP and ICO/CUR ---------------------------------------------------------------


def _bmp(width: int, height: int, *, header_size: int = 40) -> bytes:
    """A BMP file header and DIB header claiming ``width`` x ``height`` (signed
    32-bit fields; 16-bit unsigned ones in a 12-byte BITMAPCOREHEADER), then
    24-bit pixels (one row only for a big one)."""
    if header_size == 12:
        dib = struct.pack("<IHHHH", 12, width, height, 1, 24)
    else:
        dib = struct.pack("<IiiHHIIiiII", header_size, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
        dib += b"\x00" * (header_size - len(dib))
    rows = abs(height) if abs(height) <= 64 else 1  # all of a small one
    pixels = b"\x00" * ((3 * min(abs(width), 64) + 3) // 4 * 4 * rows)
    file_header = struct.pack("<2sIHHI", b"BM", 14 + len(dib) + len(pixels), 0, 0, 14 + len(dib))
    return file_header + dib + pixels


def _icon(entries: list[tuple[int, int, bytes]], *, kind: int = 1) -> bytes:
    """An ICO (``kind`` 1) or CUR (2) whose entries have these directory
    width and height bytes and hold these bytes."""
    directory = struct.pack("<HHH", 0, kind, len(entries))
    offset = 6 + 16 * len(entries)
    images = b""
    for width, height, image in entries:
        directory += struct.pack("<BBBBHHII", width, height, 0, 0, 1, 32, len(image), offset)
        offset += len(image)
        images += image
    return directory + images


def _imagemagick_file(coder: str, sizes: list[tuple[int, int]]) -> bytes:
    with Image() as sequence:
        for width, height in sizes:
            with Image(width=width, height=height, background=Color("red")) as frame:
                sequence.sequence.append(frame)
        sequence.format = coder
        data: bytes = sequence.make_blob()
    return data


@pytest.mark.parametrize("coder", ["bmp", "bmp3", "bmp2"])
def test_bmp_from_imagemagick(coder: str) -> None:
    assert claimed_size(_imagemagick_file(coder, [(40, 30)])) == (40, 30)


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (_bmp(40, 30), (40, 30)),
        (_bmp(40, -30), (40, 30)),  # top-down rows
        (_bmp(40, 30, header_size=12), (40, 30)),
        (_bmp(65_535, 65_535, header_size=12), (65_535, 65_535)),
        (_bmp(40, 30, header_size=108), (40, 30)),
        (_bmp(40, 30, header_size=124), (40, 30)),
        (_bmp(100_000, 100_000), (100_000, 100_000)),
        (_bmp(100_000, -100_000, header_size=124), (100_000, 100_000)),
        (_bmp(7, -(2**31)), (7, 2**31)),
        (_bmp(-40, 30), None),
        (_bmp(40, 30)[:25], None),
        (_bmp(40, 30, header_size=12)[:21], None),
        (b"BM" + b"\x00" * 12 + struct.pack("<I", 13) + b"\x00" * 20, None),
        (b"BM", None),
    ],
)
def test_bmp_claimed_size(data: bytes, size: tuple[int, int] | None) -> None:
    assert claimed_size(data) == size


def test_hand_built_bmp_is_what_imagemagick_reads() -> None:
    for data in (_bmp(4, 3), _bmp(4, -3), _bmp(4, 3, header_size=124)):
        with Image(blob=data) as image:
            assert (image.width, image.height) == (4, 3)


def test_ico_from_imagemagick() -> None:
    icon = _imagemagick_file("ico", [(16, 16), (48, 32), (32, 32)])
    assert claimed_size(icon) == (48, 32)


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (_icon([(16, 16, b""), (32, 24, b""), (8, 8, b"")]), (32, 24)),
        (_icon([(16, 16, b""), (0, 0, b"")]), (256, 256)),  # 0 means 256
        (_icon([(0, 16, b"")], kind=2), (256, 16)),  # a cursor
        (_icon([(16, 16, huge_png_header())]), (100_000, 100_000)),
        (_icon([(0, 0, png(300, 200)), (16, 16, b"")]), (300, 200)),
        (_icon([(32, 32, bytes(40)), (16, 16, huge_png_header(3, 5))]), (32, 32)),
        (_icon([(16, 16, huge_png_header())])[:40], (16, 16)),  # the PNG is cut off
        (_icon([(16, 16, b""), (32, 32, b"")])[:30], (16, 16)),  # the 2nd entry is cut
        (_icon([]), None),
        (b"\x00\x00\x01\x00\x01", None),
    ],
)
def test_ico_claimed_size(data: bytes, size: tuple[int, int] | None) -> None:
    assert claimed_size(data) == size


def test_icon_with_huge_png_is_read_as_that_size_by_imagemagick() -> None:
    icon = _icon([(16, 16, png(300, 200))])
    with Image(blob=icon, format="ICO") as image:
        assert (image.width, image.height) == (300, 200) == claimed_size(icon)


@pytest.mark.parametrize(
    "bomb",
    [
        _bmp(100_000, 100_000),
        _bmp(50_000, -50_000, header_size=124),
        _icon([(0, 0, huge_png_header())]),
    ],
    ids=["bmp", "bmp-top-down", "ico"],
)
def test_bmp_and_ico_bombs_refused_from_the_header(bomb: bytes) -> None:
    assert len(bomb) < 1000
    with pytest.raises(ImageTooLargeError):
        probe(bomb)


_MAGIC = [
    b"",
    b"BM",
    b"BM" + b"\x00" * 12 + struct.pack("<I", 12),
    b"BM" + b"\x00" * 12 + struct.pack("<I", 40),
    b"\x00\x00\x01\x00",
    b"\x00\x00\x02\x00\x02\x00",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBPVP8X",
    b"\xff\xd8",
]


@settings(deadline=200, max_examples=500)
@given(st.sampled_from(_MAGIC), st.binary(max_size=300))
def test_claimed_size_never_raises(magic: bytes, rest: bytes) -> None:
    size = claimed_size(magic + rest)
    assert size is None or (len(size) == 2 and all(isinstance(n, int) and n >= 0 for n in size))


@settings(deadline=200, max_examples=300)
@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40)), max_size=5
    ),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=8),
)
def test_claimed_size_of_damaged_icons_never_raises(
    entries: list[tuple[int, int, bytes]], changes: list[tuple[int, int]]
) -> None:
    data = bytearray(_icon([*entries, (1, 1, huge_png_header(9, 9))]))
    for position, value in changes:
        if position < len(data):
            data[position] = value
    size = claimed_size(bytes(data))
    assert size is None or all(n >= 0 for n in size)
