"""Rendered variants (:func:`imageattach.imaging.render`): real worker
processes, real ImageMagick, every output decoded again."""

from __future__ import annotations

import struct

import pytest
from images import (
    animated_gif,
    colour_strips,
    corrupt_jpeg,
    detailed_region,
    huge_png_header,
    jpeg,
    large_jpeg,
    not_an_image,
    png,
    svg,
    webp,
)
from wand.image import Image

from imageattach.exceptions import (
    ArgumentError,
    ArgumentTypeError,
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
)
from imageattach.imaging import RenderSpec, make_thumbnail, probe, render
from imageattach.imaging.jobs import _has_magic
from imageattach.limits import ImageLimits
from imageattach.sizing import thumbnail_size

from .helpers import jpeg_markers, png_chunks
from .hostile import corpus

RED = (255, 0, 0)
LIME = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)

MAGIC = {
    "image/jpeg": lambda d: d[:3] == b"\xff\xd8\xff",
    "image/png": lambda d: d[:8] == b"\x89PNG\r\n\x1a\n",
    "image/webp": lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP",
    "image/avif": lambda d: d[4:12] == b"ftypavif",
}
CODER = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/avif": "HEIC"}


def decoded(data: bytes) -> Image:
    """``data`` decoded in this process, in sRGB (ImageMagick 6 reads AVIF
    as YCbCr samples)."""
    image = Image(blob=data)
    if image.colorspace == "ycbcr":
        image.transform_colorspace("srgb")
    return image


def rgba(image: Image, x: int, y: int) -> tuple[int, int, int, int]:
    color = image[x, y]
    return color.red_int8, color.green_int8, color.blue_int8, color.alpha_int8


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 16) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
@pytest.mark.parametrize(("box_width", "box_height"), [(100, 100), (150, 40), (37, 91)])
def test_cover_is_the_exact_box_in_the_format_asked_for(
    fmt: str, box_width: int, box_height: int
) -> None:
    result = render(
        jpeg(400, 300), RenderSpec(width=box_width, height=box_height, fit="cover", format=fmt)
    )
    assert (result.width, result.height) == (box_width, box_height)
    assert MAGIC[result.mimetype](result.data)
    assert result.mimetype == f"image/{fmt}"
    with decoded(result.data) as image:
        assert image.format == CODER[result.mimetype]
        assert image.size == (box_width, box_height)


@pytest.mark.parametrize(
    ("source", "mimetype"),
    [
        (jpeg(400, 300), "image/jpeg"),
        (png(400, 300), "image/png"),
        (webp(400, 300), "image/webp"),
        (svg(400, 300), "image/png"),
        (animated_gif(3, 40, 30), "image/gif"),
    ],
    ids=["jpeg", "png", "webp", "svg", "gif"],
)
def test_format_none_keeps_the_thumbnail_format(source: bytes, mimetype: str) -> None:
    result = render(source, RenderSpec(width=20, height=20, fit="cover"))
    assert result.mimetype == mimetype
    with decoded(result.data) as image:
        assert image.size == (20, 20)
        assert near(rgba(image, 0, 0)[:3], RED)


@pytest.mark.parametrize(
    "source",
    [jpeg(400, 300), png(400, 300), animated_gif(3, 40, 30)],
    ids=["jpeg", "png", "gif"],
)
def test_contain_by_width_gives_make_thumbnails_bytes(source: bytes) -> None:
    info = probe(source)
    width, height = thumbnail_size(info.width, info.height, width=17)
    result = render(source, RenderSpec(width=17), info=info)
    assert (result.width, result.height) == (width, height)
    assert result.data == make_thumbnail(source, width=width, height=height, info=info)[0]


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_alpha_is_kept(fmt: str) -> None:
    result = render(colour_strips(alpha=True), RenderSpec(width=30, format=fmt))
    with decoded(result.data) as image:
        assert image.alpha_channel
        red, _, _, alpha = rgba(image, 5, 5)
        assert red > 200 and 100 < alpha < 160  # the half-transparent red square
        assert near(rgba(image, 15, 5), (*LIME, 255))


def test_alpha_is_kept_in_avif() -> None:
    # ImageMagick 6 reads AVIF alpha wrongly: decoded with libvips (libheif).
    pyvips = pytest.importorskip("pyvips")
    result = render(colour_strips(alpha=True), RenderSpec(width=30, format="avif"))
    assert result.data[4:12] == b"ftypavif"
    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height, image.bands) == (30, 10, 4)
    red, _, _, alpha = image(5, 5)
    assert red > 200 and 100 < alpha < 160
    assert near(tuple(int(v) for v in image(15, 5)), (*LIME, 255))
    assert near(tuple(int(v) for v in image(25, 5)), (*BLUE, 255))


def test_alpha_is_flattened_on_white_in_jpeg() -> None:
    result = render(colour_strips(alpha=True), RenderSpec(width=30, format="jpeg"))
    with decoded(result.data) as image:
        assert near(rgba(image, 5, 5)[:3], (255, 128, 128), tolerance=30)
        assert near(rgba(image, 15, 5)[:3], LIME, tolerance=30)


@pytest.mark.parametrize("fmt", [None, "webp", "avif", "png"])
def test_exif_orientation_is_applied_before_cropping(fmt: str | None) -> None:
    # Stored 400x300 with the red quadrant top-left; Orientation 6 displays
    # it 300x400 with the red quadrant top-right.
    source = jpeg(400, 300, orientation=6)
    top = render(
        source, RenderSpec(width=300, height=100, fit="cover", gravity="north", format=fmt)
    )
    assert (top.width, top.height) == (300, 100)
    with decoded(top.data) as image:
        assert near(rgba(image, 290, 10)[:3], RED, tolerance=30)
        assert near(rgba(image, 10, 10)[:3], WHITE, tolerance=30)
        assert near(rgba(image, 290, 90)[:3], RED, tolerance=30)
    bottom = render(
        source, RenderSpec(width=300, height=100, fit="cover", gravity="south", format=fmt)
    )
    with decoded(bottom.data) as image:
        assert near(rgba(image, 290, 10)[:3], WHITE, tolerance=30)
        assert near(rgba(image, 10, 90)[:3], WHITE, tolerance=30)


def test_focal_point_is_in_displayed_coordinates() -> None:
    source = jpeg(400, 300, orientation=6)
    spec = RenderSpec(width=50, height=50, fit="cover", gravity="focal", focal=(0.95, 0.05))
    result = render(source, spec, info=probe(source))
    with decoded(result.data) as image:
        # The crop is the displayed image's top-right 300x300 square, all red
        # on its top right (150..300 x 0..200 of the display is red).
        assert near(rgba(image, 45, 5)[:3], RED, tolerance=30)
        assert near(rgba(image, 5, 45)[:3], WHITE, tolerance=30)


HORIZONTAL = {
    "west": RED,
    "northwest": RED,
    "southwest": RED,
    "center": LIME,
    "north": LIME,
    "south": LIME,
    "east": BLUE,
    "northeast": BLUE,
    "southeast": BLUE,
}
VERTICAL = {
    "north": RED,
    "northwest": RED,
    "northeast": RED,
    "center": LIME,
    "west": LIME,
    "east": LIME,
    "south": BLUE,
    "southwest": BLUE,
    "southeast": BLUE,
}


@pytest.mark.parametrize("gravity", sorted(HORIZONTAL))
def test_compass_gravity_keeps_its_side(gravity: str) -> None:
    for vertical, expected in ((False, HORIZONTAL[gravity]), (True, VERTICAL[gravity])):
        spec = RenderSpec(width=20, height=20, fit="cover", gravity=gravity, format="png")
        result = render(colour_strips(vertical=vertical), spec)
        with decoded(result.data) as image:
            for x, y in ((1, 1), (10, 10), (18, 18)):
                assert rgba(image, x, y)[:3] == expected, (vertical, x, y)


@pytest.mark.parametrize(
    ("focal", "expected"),
    [
        ((0.5, 0.5), LIME),
        ((0.9, 0.5), BLUE),
        ((0.0, 0.0), RED),
        ((1.0, 1.0), BLUE),
        ((0.2, 0.9), RED),
    ],
)
def test_focal_gravity_centres_the_crop_on_the_point(
    focal: tuple[float, float], expected: tuple[int, int, int]
) -> None:
    spec = RenderSpec(width=20, height=20, fit="cover", gravity="focal", focal=focal, format="png")
    with decoded(render(colour_strips(), spec).data) as image:
        assert rgba(image, 10, 10)[:3] == expected


@pytest.mark.parametrize(
    ("where", "side"), [("east", "east"), ("west", "west"), ("north", "north"), ("south", "south")]
)
def test_entropy_gravity_keeps_the_detailed_region(where: str, side: str) -> None:
    horizontal = where in ("east", "west")
    source = (
        detailed_region(300, 100, where=where)
        if horizontal
        else detailed_region(100, 300, where=where)
    )
    spec = RenderSpec(width=50, height=50, fit="cover", gravity="entropy", format="png")
    entropy = render(source, spec)
    by_side = render(
        source, RenderSpec(width=50, height=50, fit="cover", gravity=side, format="png")
    )
    center = render(source, RenderSpec(width=50, height=50, fit="cover", format="png"))
    assert entropy.data == by_side.data
    assert entropy.data != center.data


def test_entropy_gravity_of_a_plain_image_is_the_centre() -> None:
    source = colour_strips(("gray", "gray", "gray"))
    spec = RenderSpec(width=40, height=40, fit="cover", gravity="entropy", format="png")
    center = RenderSpec(width=40, height=40, fit="cover", format="png")
    assert render(source, spec).data == render(source, center).data


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_quality_changes_the_size_monotonically(fmt: str) -> None:
    source = large_jpeg(800, 600)
    sizes = [
        len(render(source, RenderSpec(width=300, format=fmt, quality=quality)).data)
        for quality in (20, 50, 80, 95)
    ]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), sizes


@pytest.mark.parametrize("fmt", ["webp", "avif", "png", "jpeg"])
def test_an_animation_renders_its_first_frame(fmt: str) -> None:
    result = render(
        animated_gif(3, 40, 30), RenderSpec(width=20, height=20, fit="cover", format=fmt)
    )
    with decoded(result.data) as image:
        assert len(image.sequence) == 1
        assert near(rgba(image, 10, 10)[:3], RED, tolerance=30)


def test_metadata_is_stripped() -> None:
    source = jpeg(400, 300, orientation=6, icc=True)
    out = render(source, RenderSpec(width=50, format="jpeg")).data
    assert 0xE1 not in jpeg_markers(out) and 0xE2 not in jpeg_markers(out)  # no EXIF, no ICC
    chunks = png_chunks(render(source, RenderSpec(width=50, format="png")).data)
    assert set(chunks) <= {b"IHDR", b"IDAT", b"IEND", b"PLTE", b"tRNS"}, chunks
    riff = render(source, RenderSpec(width=50, format="webp")).data
    assert b"EXIF" not in riff and b"ICCP" not in riff and b"XMP " not in riff


def test_upscale() -> None:
    source = jpeg(40, 30)
    assert render(source, RenderSpec(width=100)).width == 40
    result = render(source, RenderSpec(width=100, upscale=True))
    assert (result.width, result.height) == (100, 75)
    cover = render(source, RenderSpec(width=80, height=80, fit="cover", upscale=True))
    assert (cover.width, cover.height) == (80, 80)


def test_cover_without_upscale_on_a_one_pixel_image() -> None:
    source = png(1, 1)
    for fmt in (None, "jpeg", "webp", "avif"):
        result = render(source, RenderSpec(width=300, height=100, fit="cover", format=fmt))
        assert (result.width, result.height) == (1, 1)
        with decoded(result.data) as image:
            assert image.size == (1, 1)


# --- the spec -------------------------------------------------------------


def test_spec_round_trips_through_json() -> None:
    import json

    spec = RenderSpec(
        width=10,
        height=20,
        fit="cover",
        gravity="focal",
        focal=(0.25, 1),
        format="avif",
        quality=40,
        upscale=True,
    )
    assert RenderSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    assert spec.focal == (0.25, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, ArgumentTypeError),
        ({"width": 10, "fit": "cover"}, ArgumentTypeError),
        ({"width": 10, "fit": "fill"}, ArgumentError),
        ({"width": 10, "gravity": "up"}, ArgumentError),
        ({"width": 10, "gravity": "focal"}, ArgumentTypeError),
        ({"width": 10, "focal": (1.5, 0.5)}, ArgumentError),
        ({"width": 10, "focal": (float("nan"), 0.5)}, ArgumentError),
        ({"width": 10, "focal": "middle"}, ArgumentTypeError),
        ({"width": 10, "focal": (True, 0.5)}, ArgumentTypeError),
        ({"width": 10, "format": "gif"}, ArgumentError),
        ({"width": 10, "format": "auto"}, ArgumentError),
        ({"width": 10, "quality": 0}, ArgumentError),
        ({"width": 10, "quality": 101}, ArgumentError),
        ({"width": 10, "quality": 50.0}, ArgumentError),
        ({"width": 10, "upscale": 1}, ArgumentTypeError),
        ({"width": -1}, ArgumentError),
        ({"width": "10"}, ArgumentTypeError),
        ({"width": 10**7}, ImageTooLargeError),
    ],
)
def test_spec_is_validated(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        RenderSpec(**kwargs)  # type: ignore[arg-type]


def test_from_json_refuses_unknown_keys() -> None:
    with pytest.raises(ArgumentTypeError):
        RenderSpec.from_json({"width": 10, "crop": "smart"})


def test_render_wants_a_spec() -> None:
    with pytest.raises(ArgumentTypeError):
        render(jpeg(), {"width": 10})  # type: ignore[arg-type]


def test_magic_bytes_check() -> None:
    assert _has_magic(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp")
    assert not _has_magic(b"RIFF\x00\x00\x00\x00AVI LIST", "image/webp")
    assert _has_magic(b"\x00\x00\x00\x1cftypavif", "image/avif")
    assert not _has_magic(b"\x00\x00\x00\x1cftypheic", "image/avif")
    assert not _has_magic(b"\xff\xd8\xff", "image/png")
    assert not _has_magic(b"", "image/jpeg")


# --- hostile input ----------------------------------------------------------

LIMITS = ImageLimits(time=2.0, memory=384 * 1024**2)
CASES = corpus()


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (huge_png_header(), ImageTooLargeError),
        (corrupt_jpeg(), CorruptImageError),
        (not_an_image(), CorruptImageError),
        (b"", CorruptImageError),
        (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + b"\xff" * 13, ImageError),
        (b"RIFF\xff\xff\xff\x7fWEBPVP8X" + b"\xff" * 20, ImageError),
        (b"\x00\x00\x00\x1cftypavif" + b"\x00" * 40, ImageError),
    ],
    ids=["bomb", "truncated", "text", "empty", "bad-png-header", "bad-webp-header", "bad-avif"],
)
@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_bad_input_gets_the_documented_error(
    source: bytes, error: type[Exception], fmt: str
) -> None:
    with pytest.raises(error):
        render(source, RenderSpec(width=50, height=50, fit="cover", format=fmt), limits=LIMITS)


def test_a_huge_box() -> None:
    source = jpeg(40, 30)
    with pytest.raises(ImageTooLargeError):
        RenderSpec(width=2_000_000, height=10)
    with pytest.raises(ImageTooLargeError):  # refused before any worker runs
        render(source, RenderSpec(width=900_000, height=900_000, fit="cover", upscale=True))
    with pytest.raises(ImageTooLargeError):  # the worker computes 900000x675000
        render(source, RenderSpec(width=900_000, upscale=True))
    # Without upscale a huge box is clamped to the original.
    result = render(source, RenderSpec(width=900_000, height=900_000, fit="cover"))
    assert (result.width, result.height) == (30, 30)


def test_an_animated_gif_bomb_to_avif_and_webp() -> None:
    bomb = CASES["gif_100000_frames"].data
    for fmt in ("avif", "webp"):
        with pytest.raises(ImageTooLargeError):
            render(bomb, RenderSpec(width=50, height=50, fit="cover", format=fmt), limits=LIMITS)


@pytest.mark.parametrize("name", list(CASES))
def test_every_hostile_file_through_render(name: str) -> None:
    spec = RenderSpec(width=64, height=64, fit="cover", gravity="entropy", format="avif")
    try:
        result = render(CASES[name].data, spec, limits=LIMITS)
    except ImageError:
        return
    with decoded(result.data) as image:
        assert image.size == (result.width, result.height)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_an_avif_source_converts_with_its_colours(fmt: str) -> None:
    # ImageMagick 6's HEIF reader hands over YCbCr samples: converted to sRGB.
    source = render(jpeg(400, 300), RenderSpec(width=200, format="avif")).data
    result = render(source, RenderSpec(width=100, height=100, fit="cover", format=fmt))
    with decoded(result.data) as image:
        assert near(rgba(image, 5, 5)[:3], RED, tolerance=30)
        assert near(rgba(image, 95, 95)[:3], WHITE, tolerance=30)


# --- the reply of a worker is checked like input ---------------------------


class _LyingSandbox:
    """A sandbox whose worker replies ``reply`` and ``data``, whatever it is asked."""

    def __init__(self, reply: dict[str, object], data: bytes) -> None:
        self.reply, self.data = reply, data

    def run(self, *args: object) -> tuple[dict[str, object], bytes]:
        return self.reply, self.data


PNG_20x20 = render(png(20, 20), RenderSpec(width=20, format="png")).data


@pytest.mark.parametrize(
    ("reply", "data"),
    [
        ({"mimetype": "image/jpeg", "width": 20, "height": 20}, PNG_20x20),  # not asked for
        ({"mimetype": "image/png", "width": 20, "height": 20}, b"GIF89a" + PNG_20x20[6:]),
        ({"mimetype": "image/png", "width": 21, "height": 20}, PNG_20x20),  # header disagrees
        ({"mimetype": "image/png", "width": 40, "height": 40}, PNG_20x20),  # beyond the box
        ({"mimetype": "image/png", "width": "20", "height": 20}, PNG_20x20),
        ({"mimetype": "image/png", "width": 0, "height": 20}, PNG_20x20),
        ({"mimetype": "image/png"}, PNG_20x20),
    ],
    ids=["mimetype", "magic", "header-size", "too-large", "str-width", "zero", "no-size"],
)
def test_a_lying_render_reply_is_refused(
    monkeypatch: pytest.MonkeyPatch, reply: dict[str, object], data: bytes
) -> None:
    import imageattach.imaging.jobs as jobs

    monkeypatch.setattr(jobs, "get_sandbox", lambda: _LyingSandbox(reply, data))
    with pytest.raises(CorruptImageError):
        render(png(20, 20), RenderSpec(width=20, height=20, fit="cover", format="png"))


def test_a_lying_size_is_refused_when_info_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    import imageattach.imaging.jobs as jobs

    info = probe(png(40, 40))  # a 20 px wide contain of it is 20x20, not 10x10
    small = render(png(10, 10), RenderSpec(width=10, format="png")).data
    reply = {"mimetype": "image/png", "width": 10, "height": 10}
    monkeypatch.setattr(jobs, "get_sandbox", lambda: _LyingSandbox(reply, small))
    with pytest.raises(CorruptImageError):
        render(png(40, 40), RenderSpec(width=20, format="png"), info=info)
