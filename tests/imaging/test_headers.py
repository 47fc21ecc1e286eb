from __future__ import annotations

import struct

import pytest
from images import animated_gif, huge_png_header, jpeg, not_an_image, png, svg, webp

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
