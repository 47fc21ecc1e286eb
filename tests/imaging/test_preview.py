"""Tiny RGBA previews for placeholders (:func:`imageattach.imaging.preview_rgba`)."""

from __future__ import annotations

import pytest
from images import (
    animated_gif,
    colour_strips,
    corrupt_jpeg,
    huge_png_header,
    jpeg,
    large_jpeg,
    not_an_image,
    png,
    svg,
)

from imageattach.exceptions import (
    ArgumentError,
    ArgumentTypeError,
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
)
from imageattach.imaging import PreviewResult, preview_rgba, probe
from imageattach.limits import ImageLimits

from .hostile import corpus


def pixel(preview: PreviewResult, x: int, y: int) -> tuple[int, int, int, int]:
    offset = (y * preview.width + x) * 4
    r, g, b, a = preview.data[offset : offset + 4]
    return r, g, b, a


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 20) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.mark.parametrize(
    ("source", "size"),
    [
        (large_jpeg(4000, 3000), (100, 75)),
        (jpeg(300, 400), (75, 100)),
        (png(40, 30), (40, 30)),  # never enlarged
        (svg(400, 100), (100, 25)),
        (animated_gif(3, 40, 30), (40, 30)),
    ],
    ids=["12mp-jpeg", "portrait", "small", "svg", "gif"],
)
def test_size_and_length(source: bytes, size: tuple[int, int]) -> None:
    preview = preview_rgba(source)
    assert (preview.width, preview.height) == size
    assert len(preview.data) == preview.width * preview.height * 4


def test_exif_orientation_is_applied() -> None:
    # Stored 400x300, red quadrant top-left; Orientation 6 shows it 300x400
    # with the red quadrant top-right.
    source = jpeg(400, 300, orientation=6)
    preview = preview_rgba(source, info=probe(source))
    assert (preview.width, preview.height) == (75, 100)
    assert near(pixel(preview, 70, 5), (255, 0, 0, 255))
    assert near(pixel(preview, 5, 5), (255, 255, 255, 255))
    assert near(pixel(preview, 70, 95), (255, 255, 255, 255))


def test_alpha_is_kept_and_the_first_frame_used() -> None:
    preview = preview_rgba(colour_strips(alpha=True), max_side=30)
    assert (preview.width, preview.height) == (30, 10)
    red = pixel(preview, 4, 4)
    assert red[0] > 200 and 100 < red[3] < 160
    assert near(pixel(preview, 15, 5), (0, 255, 0, 255))
    assert near(pixel(preview_rgba(animated_gif()), 5, 5), (255, 0, 0, 255))


@pytest.mark.parametrize(
    ("max_side", "error"),
    [(0, ArgumentError), (101, ArgumentError), (1.5, ArgumentTypeError), (True, ArgumentTypeError)],
)
def test_bad_max_side(max_side: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        preview_rgba(jpeg(), max_side=max_side)  # type: ignore[arg-type]


LIMITS = ImageLimits(time=2.0, memory=384 * 1024**2)
CASES = corpus()


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (huge_png_header(), ImageTooLargeError),
        (CASES["gif_100000_frames"].data, ImageTooLargeError),
        (CASES["png_flood_20000x20000"].data, ImageTooLargeError),
        (corrupt_jpeg(), ImageError),
        (not_an_image(), ImageError),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 30, ImageError),
    ],
    ids=["bomb", "gif-frames", "png-flood", "truncated", "text", "bad-jpeg-header"],
)
def test_hostile_input_gets_the_documented_error(source: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        preview_rgba(source, limits=LIMITS)


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n].kind in ("memory", "size", "abort")])
def test_hostile_files_through_the_preview(name: str) -> None:
    try:
        preview = preview_rgba(CASES[name].data, limits=LIMITS)
    except ImageError:
        return
    assert len(preview.data) == preview.width * preview.height * 4 > 0


class _LyingSandbox:
    def __init__(self, reply: dict[str, object], data: bytes) -> None:
        self.reply, self.data = reply, data

    def run(self, *args: object) -> tuple[dict[str, object], bytes]:
        return self.reply, self.data


@pytest.mark.parametrize(
    ("reply", "data"),
    [
        ({"width": 10, "height": 10}, b"\x00" * 399),  # one byte short
        ({"width": 10, "height": 10}, b"\x00" * 300),  # RGB, not RGBA
        ({"width": 101, "height": 1}, b"\x00" * 404),  # above max_side
        ({"width": 10.0, "height": 10}, b"\x00" * 400),
        ({"width": -10, "height": -10}, b"\x00" * 400),
    ],
    ids=["short", "rgb", "too-wide", "float", "negative"],
)
def test_a_lying_preview_reply_is_refused(
    monkeypatch: pytest.MonkeyPatch, reply: dict[str, object], data: bytes
) -> None:
    import imageattach.imaging.jobs as jobs

    monkeypatch.setattr(jobs, "get_sandbox", lambda: _LyingSandbox(reply, data))
    with pytest.raises(CorruptImageError):
        preview_rgba(png(40, 40))
