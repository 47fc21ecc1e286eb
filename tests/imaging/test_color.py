from __future__ import annotations

import pytest
from images import ADOBE_RGB_PROFILE, jpeg
from wand.image import Image

from imageattach.imaging import color, make_thumbnail

from .helpers import jpeg_markers

# Adobe RGB (1998) and sRGB share the D65 white, so the conversion is
# linearise -> Adobe RGB to XYZ -> XYZ to linear sRGB -> sRGB curve.
ADOBE_TO_XYZ = [
    [0.5767309, 0.1855540, 0.1881852],
    [0.2973769, 0.6273491, 0.0752741],
    [0.0270343, 0.0706872, 0.9911085],
]
XYZ_TO_SRGB = [
    [3.2404542, -1.5371385, -0.4985314],
    [-0.9692660, 1.8760108, 0.0415560],
    [0.0556434, -0.2040259, 1.0572252],
]


def adobe_rgb_to_srgb(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """An independent reference for the colour ImageMagick should produce."""
    linear = [(c / 255) ** (563 / 256) for c in rgb]
    xyz = [sum(m * c for m, c in zip(row, linear, strict=True)) for row in ADOBE_TO_XYZ]
    out = [sum(m * c for m, c in zip(row, xyz, strict=True)) for row in XYZ_TO_SRGB]

    def encode(c: float) -> int:
        c = min(max(c, 0.0), 1.0)
        value = 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055
        return round(value * 255)

    r, g, b = (encode(c) for c in out)
    return r, g, b


def test_srgb_profile_is_made() -> None:
    profile = color.srgb_profile()
    if profile is None:
        pytest.skip("ImageMagick here has no Little CMS")
    assert profile[36:40] == b"acsp"  # ICC signature
    assert profile[16:20] == b"RGB "


@pytest.mark.skipif(not ADOBE_RGB_PROFILE.exists(), reason=f"no {ADOBE_RGB_PROFILE}")
def test_embedded_profile_converted_to_srgb_then_stripped() -> None:
    stored = (40, 110, 200)  # numbers as stored, meaning Adobe RGB colours
    source = jpeg(200, 200, color="rgb(40,110,200)", icc=True, quality=100)
    assert 0xE2 in jpeg_markers(source)  # ICC profile segment
    data, _ = make_thumbnail(source, width=20, height=20)
    assert 0xE2 not in jpeg_markers(data)
    with Image(blob=data) as image:
        pixel = image[3, 3]
        actual = (pixel.red_int8, pixel.green_int8, pixel.blue_int8)
    expected = adobe_rgb_to_srgb(stored)
    assert max(abs(a - e) for a, e in zip(actual, expected, strict=True)) <= 4, (actual, expected)
    # and the conversion did something measurable
    assert max(abs(a - s) for a, s in zip(actual, stored, strict=True)) > 10


def test_no_profile_means_no_change() -> None:
    source = jpeg(200, 200, color="rgb(40,110,200)", quality=100)
    data, _ = make_thumbnail(source, width=20, height=20)
    with Image(blob=data) as image:
        pixel = image[3, 3]
        actual = (pixel.red_int8, pixel.green_int8, pixel.blue_int8)
    assert max(abs(a - s) for a, s in zip(actual, (40, 110, 200), strict=True)) <= 4


def test_cmyk_jpeg_becomes_rgb() -> None:
    with Image(width=40, height=40, background="rgb(40,110,200)") as image:
        image.transform_colorspace("cmyk")
        image.format = "jpeg"
        source = image.make_blob()
    data, _ = make_thumbnail(source, width=10, height=10)
    with Image(blob=data) as image:
        assert image.colorspace == "srgb"
        pixel = image[5, 5]
        actual = (pixel.red_int8, pixel.green_int8, pixel.blue_int8)
    assert max(abs(a - s) for a, s in zip(actual, (40, 110, 200), strict=True)) <= 6
