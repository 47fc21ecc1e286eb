from __future__ import annotations

import io

import pytest
from images import (
    animated_gif,
    corrupt_jpeg,
    huge_png_header,
    jpeg,
    msl_payload,
    mvg_payload,
    not_an_image,
    pdf,
    png,
    svg,
    text_payload,
    webp,
)
from wand.image import Image

from imageattach.exceptions import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from imageattach.filetypes import EXTENSIONS
from imageattach.imaging import (
    ACCEPTED_MIMETYPES,
    DEFAULT_MAX_PIXELS,
    ImageInfo,
    make_thumbnail,
    probe,
)

from .helpers import run_json


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (jpeg(400, 300), ImageInfo("image/jpeg", 400, 300, 1, 1)),
        (png(64, 32, alpha=True), ImageInfo("image/png", 64, 32, 1, 1)),
        (animated_gif(frames=3), ImageInfo("image/gif", 40, 30, 1, 3)),
        (webp(50, 20), ImageInfo("image/webp", 50, 20, 1, 1)),
        (svg(200, 100), ImageInfo("image/svg+xml", 200, 100, 1, 1)),
    ],
    ids=["jpeg", "png", "gif", "webp", "svg"],
)
def test_probe_fixtures(data: bytes, expected: ImageInfo) -> None:
    assert probe(data) == expected


@pytest.mark.parametrize("orientation", range(1, 9))
def test_size_is_as_displayed(orientation: int) -> None:
    info = probe(jpeg(400, 300, orientation=orientation))
    assert info.orientation == orientation
    rotated = orientation >= 5
    assert (info.width, info.height) == ((300, 400) if rotated else (400, 300))
    assert info.stored_size == (400, 300)


@pytest.mark.parametrize(
    ("coder", "mimetype"),
    [
        ("bmp", "image/bmp"),
        ("tiff", "image/tiff"),
        ("ico", "image/vnd.microsoft.icon"),
        ("heic", "image/heic"),
        ("avif", "image/avif"),
    ],
)
def test_other_raster_formats(coder: str, mimetype: str) -> None:
    if mimetype not in ACCEPTED_MIMETYPES:
        pytest.skip(f"ImageMagick here has no {coder} coder")
    with Image(width=30, height=20, background="blue") as image:
        image.format = coder
        data = image.make_blob()
    assert probe(data) == ImageInfo(mimetype, 30, 20, 1, 1)
    thumbnail, thumbnail_mimetype = make_thumbnail(data, width=15, height=10)
    assert thumbnail_mimetype == mimetype
    with Image(blob=thumbnail, format=coder) as image:
        assert image.format == coder.upper()
        assert image.size == (15, 10)


def test_mimetypes_are_store_keys() -> None:
    assert set(EXTENSIONS) >= ACCEPTED_MIMETYPES
    assert {"image/jpeg", "image/png", "image/gif", "image/webp", "image/svg+xml"} <= (
        ACCEPTED_MIMETYPES
    )


def test_file_object_position_is_kept() -> None:
    data = png(20, 10)
    stream = io.BytesIO(b"junk" + data)
    stream.seek(4)
    assert probe(stream).width == 20
    assert stream.tell() == 4


@pytest.mark.parametrize(
    "data",
    [
        corrupt_jpeg(),
        not_an_image(),
        b"",
        png()[:40],
        jpeg()[:100],
        b"\x89PNG\r\n\x1a\n" + b"\0" * 50,
        b"\xff\xd8\xff\xe0" + b"garbage" * 100,
    ],
    ids=[
        "truncated-jpeg",
        "text",
        "empty",
        "truncated-png",
        "jpeg-header-only",
        "png-garbage",
        "jpeg-garbage",  # used to abort the process in Wand's sequence[0]
    ],
)
def test_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptImageError):
        probe(data)


@pytest.mark.parametrize(
    "data",
    [mvg_payload(), msl_payload(), text_payload(), b"P6\n2 2\n255\n" + b"\x80" * 12],
    ids=["mvg", "msl", "text", "ppm"],
)
def test_not_accepted(data: bytes) -> None:
    with pytest.raises((UnsupportedImageError, CorruptImageError)):
        probe(data)


def test_ppm_is_unsupported_not_corrupt() -> None:
    with pytest.raises(UnsupportedImageError, match="PPM"):
        probe(b"P6\n2 2\n255\n" + b"\x80" * 12)


def test_decompression_bomb_refused_before_decoding() -> None:
    bomb = huge_png_header(100_000, 100_000)
    assert len(bomb) < 2000
    with pytest.raises(ImageTooLargeError, match="100000x100000"):
        probe(bomb)


def test_beyond_imagemagick_width_limit_is_too_large() -> None:
    # 2 MP is under max_pixels, but wider than ImageMagick's width limit.
    with pytest.raises(ImageTooLargeError):
        probe(huge_png_header(100_000, 20))


def test_max_pixels() -> None:
    data = jpeg(400, 300)
    assert probe(data, max_pixels=400 * 300).width == 400
    with pytest.raises(ImageTooLargeError):
        probe(data, max_pixels=400 * 300 - 1)
    with pytest.raises(ImageTooLargeError):
        probe(svg(2000, 2000), max_pixels=DEFAULT_MAX_PIXELS // 50)


def test_svg_without_size_uses_viewbox() -> None:
    data = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 30 10"><rect width="5"/></svg>'
    assert probe(data) == ImageInfo("image/svg+xml", 30, 10, 1, 1)


def test_broken_svg_is_corrupt() -> None:
    with pytest.raises(CorruptImageError):
        probe(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect')


def test_pdf_refused_under_the_system_policy() -> None:
    if "application/pdf" in ACCEPTED_MIMETYPES:
        pytest.skip("the system ImageMagick policy here allows PDF")
    with pytest.raises(UnsupportedImageError, match="PDF"):
        probe(pdf())


def test_pdf_where_the_policy_allows_it(pdf_home: dict[str, str]) -> None:
    result = run_json(
        """
        import json
        from images import pdf
        from imageattach.imaging import ACCEPTED_MIMETYPES, probe
        info = probe(pdf(200, 100))
        accepted = "application/pdf" in ACCEPTED_MIMETYPES
        print(json.dumps([accepted, info.mimetype, info.width, info.height]))
        """,
        env=pdf_home,
    )
    assert result == [True, "application/pdf", 200, 100]


def test_pdf_with_a_huge_page_refused_before_rendering(pdf_home: dict[str, str]) -> None:
    result = run_json(
        """
        import json
        from images import pdf
        from imageattach.exceptions import ImageTooLargeError
        from imageattach.imaging import probe
        try:
            outcome = str(probe(pdf(200_000, 100_000)))
        except ImageTooLargeError as error:
            outcome = str(error)
        print(json.dumps(outcome))
        """,
        env=pdf_home,
        timeout=30,
    )
    assert result.startswith("200000x100000 image exceeds")  # from the MediaBox, not a render
