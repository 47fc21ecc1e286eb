from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from images import (
    animated_gif,
    corrupt_jpeg,
    huge_png_header,
    jpeg,
    large_jpeg,
    mvg_payload,
    not_an_image,
    png,
    svg,
    text_payload,
    webp,
)
from wand.image import Image

from imageattach.exceptions import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from imageattach.imaging import ImageInfo, make_thumbnail, probe, thumbnail
from imageattach.limits import DEFAULT_LIMITS
from imageattach.sizing import thumbnail_size

from .helpers import jpeg_markers, png_chunks, run_json

RED = (255, 0, 0)
WHITE = (255, 255, 255)


def rgb(image: Image, x: int, y: int) -> tuple[int, int, int]:
    color = image[x, y]
    return color.red_int8, color.green_int8, color.blue_int8


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def corners(data: bytes) -> dict[str, tuple[int, int, int]]:
    with Image(blob=data) as image:
        w, h = image.width - 1, image.height - 1
        return {
            "top-left": rgb(image, 0, 0),
            "top-right": rgb(image, w, 0),
            "bottom-left": rgb(image, 0, h),
            "bottom-right": rgb(image, w, h),
        }


@pytest.mark.parametrize(
    ("source", "mimetype", "coder"),
    [
        (jpeg(400, 300), "image/jpeg", "JPEG"),
        (png(400, 300), "image/png", "PNG"),
        (webp(400, 300), "image/webp", "WEBP"),
        (svg(400, 300), "image/png", "PNG"),
    ],
    ids=["jpeg", "png", "webp", "svg"],
)
def test_size_format_and_content(source: bytes, mimetype: str, coder: str) -> None:
    data, result_mimetype = make_thumbnail(source, width=40, height=30)
    assert result_mimetype == mimetype
    with Image(blob=data) as image:
        assert image.format == coder
        assert image.size == (40, 30)
    colors = corners(data)
    assert near(colors["top-left"], RED)
    assert near(colors["bottom-right"], WHITE)


# Where the stored top-left quadrant appears once EXIF orientation is applied.
RED_CORNER = {
    1: "top-left",
    2: "top-right",
    3: "bottom-right",
    4: "bottom-left",
    5: "top-left",
    6: "top-right",
    7: "bottom-right",
    8: "bottom-left",
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_auto_orient(orientation: int) -> None:
    source = jpeg(400, 300, orientation=orientation)
    info = probe(source)
    width, height = thumbnail_size(info.width, info.height, width=60)
    data, _ = make_thumbnail(source, width=width, height=height, info=info)
    with Image(blob=data) as image:
        assert image.size == ((60, 80) if orientation >= 5 else (60, 45))
    colors = corners(data)
    red_corner = RED_CORNER[orientation]
    assert near(colors[red_corner], RED), colors
    assert [c for c, v in colors.items() if near(v, RED)] == [red_corner]


def test_metadata_is_stripped_from_jpeg() -> None:
    with Image(blob=jpeg(400, 300, orientation=6)) as image:
        image.metadata["comment"] = "secret comment"  # hypothetical leak
        image.format = "jpeg"
        source = image.make_blob()
    source = source[:2] + jpeg(orientation=6)[2:24] + source[2:]  # keep an EXIF segment
    assert 0xE1 in jpeg_markers(source)
    data, _ = make_thumbnail(source, width=30, height=40)
    markers = jpeg_markers(data)
    for forbidden in (0xE1, 0xE2, 0xED, 0xFE):  # EXIF/XMP, ICC, IPTC, comment
        assert forbidden not in markers
    assert b"secret" not in data


def test_png_has_no_text_time_or_profile_chunks(tmp_path: Any) -> None:
    path = tmp_path / "upload-from-alice.png"
    path.write_bytes(png(100, 80, alpha=True))
    with path.open("rb") as stream:
        data, _ = make_thumbnail(stream, width=50, height=40)
    assert set(png_chunks(data)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    assert b"alice" not in data and str(tmp_path).encode() not in data


def test_transparency_kept_in_png() -> None:
    data, _ = make_thumbnail(png(100, 80, alpha=True), width=50, height=40)
    with Image(blob=data) as image:
        assert image[49, 39].alpha == 0
        assert image[0, 0].alpha == 1


def test_gif_first_frame_only() -> None:
    data, mimetype = make_thumbnail(animated_gif(frames=3), width=20, height=15)
    assert mimetype == "image/gif"
    with Image(blob=data) as image:
        assert len(image.sequence) == 1
        assert image.size == (20, 15)
        assert image.page == (20, 15, 0, 0)
        assert near(rgb(image, 10, 7), RED)


def test_svg_rasterised_sharp_at_target_size() -> None:
    # A 20x10 SVG thumbnailed to 400x200 is rendered at 400x200, not upscaled.
    data, mimetype = make_thumbnail(svg(20, 10), width=400, height=200)
    assert mimetype == "image/png"
    with Image(blob=data) as image:
        assert image.size == (400, 200)
        assert near(rgb(image, 198, 98), RED, 0)
        assert near(rgb(image, 201, 101), WHITE, 0)


def test_pdf_first_page_to_png(pdf_home: dict[str, str]) -> None:
    result = run_json(
        """
        import json
        from images import pdf
        from wand.image import Image
        from imageattach.imaging import make_thumbnail
        data, mimetype = make_thumbnail(pdf(200, 100), width=400, height=200)
        with Image(blob=data) as image:
            top_left, bottom_right = image[10, 10], image[390, 190]
            print(json.dumps([mimetype, image.format, list(image.size),
                              [top_left.red_int8, top_left.green_int8, top_left.blue_int8],
                              [bottom_right.red_int8, bottom_right.green_int8]]))
        """,
        env=pdf_home,
    )
    mimetype, coder, size, top_left, bottom_right = result
    assert (mimetype, coder, size) == ("image/png", "PNG", [400, 200])
    assert near(tuple(top_left), RED, 2)
    assert near(tuple(bottom_right), (255, 255), 2)


def test_deterministic() -> None:
    for source in (jpeg(400, 300, orientation=6), png(300, 200, alpha=True), svg(), animated_gif()):
        first = make_thumbnail(source, width=30, height=40)
        assert make_thumbnail(source, width=30, height=40) == first


def test_quality_and_filter_options() -> None:
    source = large_jpeg()
    small, _ = make_thumbnail(source, width=400, height=300, quality=30)
    large, _ = make_thumbnail(source, width=400, height=300, quality=95)
    assert len(small) < len(large)
    box, _ = make_thumbnail(source, width=400, height=300, filter="box")
    assert box != make_thumbnail(source, width=400, height=300)[0]


class DecodedSizes:
    """Records the size ImageMagick decoded each source at (in this process:
    :func:`in_process` runs the worker's code here)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[tuple[int, int]] = []
        original = thumbnail._decode

        def spy(*args: Any, **kwargs: Any) -> Image:
            image = original(*args, **kwargs)
            self.sizes.append(image.size)
            return image

        monkeypatch.setattr(thumbnail, "_decode", spy)


def in_process(source: bytes, *, width: int, height: int) -> tuple[bytes, str]:
    """What a decoding worker runs for :func:`make_thumbnail`."""
    return thumbnail.thumbnail_bytes(
        source, width=width, height=height, info=None, filter="undefined", quality=None,
        limits=DEFAULT_LIMITS,
    )  # fmt: skip


def test_shrink_on_load(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = DecodedSizes(monkeypatch)
    data, _ = in_process(large_jpeg(4000, 3000), width=300, height=225)
    assert decoded.sizes == [(500, 375)]  # libjpeg decoded at 1/8 scale
    with Image(blob=data) as image:
        assert image.size == (300, 225)


def test_shrink_on_load_hint_in_stored_orientation(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = DecodedSizes(monkeypatch)
    source = jpeg(4000, 3000, orientation=6)  # displayed 3000x4000
    data, _ = in_process(source, width=300, height=400)
    assert decoded.sizes == [(500, 375)]  # stored orientation, 1/8 scale
    with Image(blob=data) as image:
        assert image.size == (300, 400)


def test_shrink_on_load_hint_clamped_when_enlarging(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = DecodedSizes(monkeypatch)
    data, _ = in_process(jpeg(400, 300), width=800, height=600)
    assert decoded.sizes == [(400, 300)]  # not decoded at 2x by ImageMagick 6
    with Image(blob=data) as image:
        assert image.size == (800, 600)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (corrupt_jpeg(), CorruptImageError),
        (not_an_image(), CorruptImageError),
        (huge_png_header(), ImageTooLargeError),
        (mvg_payload(), CorruptImageError),
        (text_payload(), CorruptImageError),
    ],
    ids=["corrupt", "text", "bomb", "mvg", "text-payload"],
)
def test_bad_sources(source: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        make_thumbnail(source, width=10, height=10)


def test_source_lying_about_its_type_is_corrupt() -> None:
    info = ImageInfo("image/png", 64, 64, 1, 1)  # e.g. a caller trusting a filename
    for payload in (mvg_payload(), text_payload(), jpeg(64, 64)):
        with pytest.raises(CorruptImageError):
            make_thumbnail(payload, width=10, height=10, info=info)


def test_info_not_accepted_or_too_large() -> None:
    with pytest.raises(UnsupportedImageError):
        make_thumbnail(jpeg(), width=10, height=10, info=ImageInfo("image/x-mvg", 4, 3, 1, 1))
    with pytest.raises(ImageTooLargeError):
        make_thumbnail(jpeg(), width=10, height=10, info=ImageInfo("image/jpeg", 400, 300, 1, 1),
                       max_pixels=1000)  # fmt: skip


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"width": 0, "height": 10}, ValueError),
        ({"width": 10, "height": -1}, ValueError),
        ({"width": 10.5, "height": 10}, ValueError),
        ({"width": 10, "height": 10, "filter": "nope"}, ValueError),
        ({"width": 10, "height": 10, "quality": 0}, ValueError),
        ({"width": 10_000, "height": 10_000}, ImageTooLargeError),
    ],
)
def test_invalid_options(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        make_thumbnail(jpeg(), **options)


def test_file_object_position_is_kept() -> None:
    stream = io.BytesIO(jpeg())
    make_thumbnail(stream, width=40, height=30)
    assert stream.tell() == 0


def test_threads_give_the_same_results() -> None:
    sources = [jpeg(400, 300, orientation=o) for o in range(1, 9)] + [png(), svg(), webp()]
    expected = [make_thumbnail(s, width=24, height=24) for s in sources]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda s: make_thumbnail(s, width=24, height=24), sources * 3))
    assert results == expected * 3


def a4_pdf(pages: int) -> bytes:
    """A PDF of ``pages`` A4 pages (595 x 842 points); page n's top half is
    red on the first page and blue on the others, its bottom half white."""
    width, height = 595, 842
    kids = " ".join(f"{3 + 2 * n} 0 R" for n in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    for n in range(pages):
        color = "1 0 0" if n == 0 else "0 0 1"
        content = f"1 1 1 rg 0 0 {width} {height} re f {color} rg 0 421 {width} 421 re f"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] "
            f"/Contents {4 + 2 * n} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.mark.parametrize("width", [10, 1])
def test_pdf_small_thumbnail_of_a4_renders_at_min_dpi(
    pdf_home: dict[str, str], tmp_path: Any, width: int
) -> None:
    # 10 px of a 595 pt page would be 1.2 DPI, which Ghostscript refuses:
    # the page is rendered at MIN_PDF_DPI and resized.
    source = tmp_path / "a4.pdf"
    source.write_bytes(a4_pdf(3))
    result = run_json(
        f"""
        import json
        from wand.image import Image
        from imageattach.imaging import make_thumbnail, probe
        from imageattach.sizing import thumbnail_size
        data = open({str(source)!r}, "rb").read()
        info = probe(data)
        size = thumbnail_size(info.width, info.height, width={width})
        thumb, mimetype = make_thumbnail(data, width=size[0], height=size[1])
        with Image(blob=thumb) as image:
            top = image[0, 0]
            print(json.dumps([info.mimetype, info.width, info.height, mimetype,
                              list(image.size), [top.red_int8, top.green_int8, top.blue_int8]]))
        """,
        env=pdf_home,
    )
    mimetype, page_width, page_height, thumb_mimetype, size, top = result
    assert (mimetype, page_width, page_height) == ("application/pdf", 595, 842)
    assert thumb_mimetype == "image/png"
    assert size == [width, round(842 * width / 595) or 1]
    # Red, not blue: the first page (of 1 px, averaged with the white half).
    assert top[0] >= 250 and top[2] <= 140


def test_pdf_render_density_never_below_min_dpi() -> None:
    info = ImageInfo(mimetype="application/pdf", width=595, height=842, orientation=1, frames=1)
    assert thumbnail._pdf_dpi(info, 10, 14) == thumbnail.MIN_PDF_DPI == 72
    assert thumbnail._pdf_dpi(info, 1190, 1684) == 144
