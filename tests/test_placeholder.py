"""Placeholders (imageattach.placeholder): ThumbHash encoding and decoding, the
data URI, the Placeholder value, and the examples of docs/placeholders.md.

Fixture images are made with Wand (under imageattach's ImageMagick policy,
so with operations rather than pseudo-image coders), written to PNG or JPEG
and read back, like a real preview.  Compatibility is checked against
``fast_thumbhash``, bindings to the reference Rust crate, when installed.
"""

from __future__ import annotations

import base64
import math
import random
import re
import struct
import zlib
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import imageattach.imaging  # noqa: F401  (imageattach's policy must be in force before wand starts)

# isort: split
from wand.color import Color
from wand.image import Image

from imageattach.exceptions import ArgumentError, ArgumentTypeError
from imageattach.placeholder import (
    DATA_URI_LIMIT,
    MAX_THUMBHASH_LENGTH,
    RENDER_SIDE,
    Placeholder,
    decode_thumbhash,
    encode_thumbhash,
    placeholder_data_uri,
    thumbhash_aspect_ratio,
    thumbhash_average_rgba,
)

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "placeholders.md"

Preview = tuple[int, int, bytes]


# -- fixtures: real images made with Wand --------------------------------------------------


def _read_back(image: Image, fmt: str) -> Preview:
    """``image`` written as ``fmt`` and decoded again, shrunk to fit 100x100."""
    image.format = fmt
    with Image(blob=image.make_blob()) as decoded:
        decoded.transform(resize="100x100>")
        pixels = bytes(decoded.export_pixels(channel_map="RGBA", storage="char"))
        return decoded.width, decoded.height, pixels


def _gradient(width: int, height: int, corners: dict[str, tuple[int, int]], fmt: str) -> Preview:
    with Image(width=width, height=height, background=Color("transparent")) as image:
        image.alpha_channel = "set"
        image.sparse_color("bilinear", {Color(c): xy for c, xy in corners.items()}, channel_mask=15)
        return _read_back(image, fmt)


def four_colours() -> Preview:
    """A 400x300 JPEG, red, blue, yellow and green corners, shrunk to 100x75."""
    corners = {"red": (0, 0), "blue": (399, 0), "yellow": (0, 299), "green": (399, 299)}
    return _gradient(400, 300, corners, "jpeg")


def grey_ramp(width: int, height: int) -> Preview:
    """White to black along the long side: a 1x100 strip or a 100x1 row too."""
    end = (width - 1, 0) if width >= height else (0, height - 1)
    return _gradient(width, height, {"white": (0, 0), "black": end}, "png")


def half_transparent() -> Preview:
    """A PNG whose alpha falls from opaque to transparent across it, over a
    red-to-blue gradient."""
    corners = {"rgba(255,0,0,1)": (0, 0), "rgba(0,0,255,0)": (79, 59), "rgba(0,200,0,0.5)": (79, 0)}
    with Image(width=80, height=60, background=Color("transparent")) as image:
        image.alpha_channel = "set"
        image.sparse_color("barycentric", {Color(c): xy for c, xy in corners.items()}, 15)
        return _read_back(image, "png")


def solid(colour: str, width: int = 64, height: int = 48) -> Preview:
    with Image(width=width, height=height, background=Color(colour)) as image:
        return _read_back(image, "png")


def noisy_photo() -> Preview:
    """A JPEG with detail at every scale: a gradient with Gaussian noise, blurred."""
    corners = {"#204060": (0, 0), "#e0c080": (299, 0), "#608020": (150, 199)}
    with Image(width=300, height=200, background=Color("white")) as image:
        image.sparse_color("barycentric", {Color(c): xy for c, xy in corners.items()})
        image.noise("gaussian", attenuate=3.0)
        image.blur(radius=0, sigma=1.5)
        return _read_back(image, "jpeg")


FIXTURES: dict[str, Callable[[], Preview]] = {
    "four colours": four_colours,
    "grey ramp": lambda: grey_ramp(90, 90),
    "half transparent": half_transparent,
    "solid colour": lambda: solid("#336699"),
    "half transparent solid": lambda: solid("rgba(200,40,90,0.5)", 30, 70),
    "1x100 strip": lambda: grey_ramp(1, 100),
    "100x1 row": lambda: grey_ramp(100, 1),
    "noisy photo": noisy_photo,
}


@pytest.fixture(params=sorted(FIXTURES), scope="module")
def preview(request: pytest.FixtureRequest) -> Preview:
    result = FIXTURES[request.param]()
    width, height, rgba = result
    assert len(rgba) == width * height * 4 and max(width, height) <= 100
    return result


def average(width: int, height: int, rgba: bytes) -> tuple[float, float, float, float]:
    """The average colour ThumbHash keeps: RGB weighted by alpha, and mean alpha, 0..255."""
    alpha = rgba[3::4]
    total = sum(alpha)
    rgb = [sum(map(int.__mul__, rgba[i::4], alpha)) / total if total else 0.0 for i in range(3)]
    return rgb[0], rgb[1], rgb[2], total / (width * height)


def close(
    actual: tuple[float, ...], expected: tuple[float, ...], tolerance: float, alpha: bool = True
) -> bool:
    """Colours within ``tolerance`` of 255 per channel; colour ignored when invisible."""
    if alpha and expected[3] < 8 and actual[3] < 8:
        return True
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def png_pixels(uri: str) -> Preview:
    """The pixels of a ``data:image/png;base64,`` URI, decoded by ImageMagick."""
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    with Image(blob=base64.b64decode(uri[len(prefix) :], validate=True)) as image:
        assert image.format == "PNG"
        pixels = bytes(image.export_pixels(channel_map="RGBA", storage="char"))
        return image.width, image.height, pixels


# -- encoding and decoding real images -----------------------------------------------------


def test_the_hash_keeps_the_average_colour(preview: Preview) -> None:
    width, height, rgba = preview
    hash_ = encode_thumbhash(width, height, rgba)
    assert 5 <= len(hash_) <= MAX_THUMBHASH_LENGTH
    # 6 bits of L, P, Q and 4 of alpha: at most about 5/255 off each, 9 for alpha.
    r, g, b, a = thumbhash_average_rgba(hash_)
    expected = average(*preview)
    assert abs(a - expected[3]) <= 255 / 30 + 1
    if expected[3] >= 8:
        assert close((r, g, b), expected[:3], 8, alpha=False)


def test_the_decoded_picture_has_the_colours_and_orientation(preview: Preview) -> None:
    width, height, rgba = preview
    out_width, out_height, out = decode_thumbhash(encode_thumbhash(width, height, rgba))
    assert max(out_width, out_height) == RENDER_SIDE and len(out) == out_width * out_height * 4
    assert (out_width > out_height) == (width > height)
    assert (out_width == out_height) == (width == height)
    assert close(average(out_width, out_height, out), average(width, height, rgba), 16)


def assert_ratio_kept(hash_: bytes, width: int, height: int) -> None:
    """The hash's aspect ratio is the preview's to half a step: the short side
    keeps round(steps * short / long) terms, at least 1, of 7 (5 with alpha)."""
    ratio = thumbhash_aspect_ratio(hash_)
    steps = 5 if hash_[2] & 0x80 else 7
    short, long = sorted((width, height))
    expected = max(1 / steps, short / long)
    assert abs(min(ratio, 1 / ratio) - expected) <= 0.5 / steps + 1e-9
    if ratio != 1:
        assert (ratio > 1) == (width > height)


def test_the_aspect_ratio_is_kept_to_one_step(preview: Preview) -> None:
    width, height, rgba = preview
    assert_ratio_kept(encode_thumbhash(width, height, rgba), width, height)


def test_the_picture_follows_the_image() -> None:
    """Not just the average: the corners of the decoded four-colour gradient
    have the corners' hues."""
    width, height, out = decode_thumbhash(encode_thumbhash(*four_colours()))

    def pixel(x: int, y: int) -> tuple[int, ...]:
        return tuple(out[(y * width + x) * 4 : (y * width + x) * 4 + 3])

    top_left, top_right = pixel(0, 0), pixel(width - 1, 0)
    bottom_left, bottom_right = pixel(0, height - 1), pixel(width - 1, height - 1)
    assert top_left[0] > top_left[2] + 60  # red
    assert top_right[2] > top_right[0] + 60  # blue
    assert bottom_left[0] > 120 and bottom_left[1] > 120 and bottom_left[2] < 100  # yellow
    assert bottom_right[1] > bottom_right[0] + 40  # green


def test_a_solid_colour_is_flat() -> None:
    *_, out = decode_thumbhash(encode_thumbhash(*solid("#336699")))
    pixels = {out[i : i + 4] for i in range(0, len(out), 4)}
    assert len(pixels) == 1
    assert close(tuple(next(iter(pixels))), (0x33, 0x66, 0x99, 255), 6)


def test_transparency_is_kept() -> None:
    hash_ = encode_thumbhash(*half_transparent())
    assert hash_[2] & 0x80  # the alpha flag
    *_, out = decode_thumbhash(hash_)
    alphas = out[3::4]
    assert min(alphas) < 60 and max(alphas) > 190
    assert Placeholder.from_rgba(*half_transparent()).average_rgba[3] < 200


# -- compatibility with the reference implementation -----------------------------------------


def _reference():  # type: ignore[no-untyped-def]
    return pytest.importorskip(
        "fast_thumbhash", reason="fast-thumbhash (the reference Rust crate) checks compatibility"
    )


def _max_difference(a: bytes, b: bytes) -> int:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def test_the_reference_decoder_reads_our_hashes(preview: Preview) -> None:
    reference = _reference()
    ours = encode_thumbhash(*preview)
    width, height, rgba = decode_thumbhash(ours)
    ref_width, ref_height, ref_rgba = reference.thumb_hash_to_rgba(ours)
    assert (ref_width, ref_height) == (width, height)
    assert _max_difference(bytes(ref_rgba), rgba) <= 1  # rounding, float32 there
    ref_average = tuple(round(255 * v) for v in reference.thumb_hash_to_average_rgba(ours))
    assert close(ref_average, thumbhash_average_rgba(ours), 1, alpha=False)
    assert reference.thumb_hash_to_approximate_aspect_ratio(ours) == pytest.approx(
        thumbhash_aspect_ratio(ours)
    )


def test_we_read_the_reference_encoders_hashes(preview: Preview) -> None:
    reference = _reference()
    theirs = bytes(reference.rgba_to_thumb_hash(*preview))
    width, height, rgba = decode_thumbhash(theirs)
    ref_width, ref_height, ref_rgba = reference.thumb_hash_to_rgba(theirs)
    assert (width, height) == (ref_width, ref_height)
    assert _max_difference(rgba, bytes(ref_rgba)) <= 1
    # The encoders agree (these fixtures give the same bytes, but for flat
    # images, whose AC terms are all rounding noise, there and 0 here); they may
    # differ where a term is exactly between two steps, so compare pictures.
    ours = encode_thumbhash(*preview)
    assert len(ours) == len(theirs) and ours[:5] == theirs[:5]
    assert _max_difference(decode_thumbhash(ours)[2], rgba) <= 8


# -- hostile hashes -------------------------------------------------------------------------


def _well_formed(result: Preview) -> None:
    width, height, rgba = result
    assert 1 <= width <= RENDER_SIDE and 1 <= height <= RENDER_SIDE
    assert RENDER_SIDE in (width, height)
    assert isinstance(rgba, bytes) and len(rgba) == width * height * 4


def _every_reading(data: bytes) -> bool:
    """Every function on ``data``: all succeed, or all raise ArgumentError."""
    try:
        result = decode_thumbhash(data)
    except ArgumentError:
        for function in (thumbhash_average_rgba, thumbhash_aspect_ratio, placeholder_data_uri):
            with pytest.raises(ArgumentError):
                function(data)
        return False
    _well_formed(result)
    average_rgba = thumbhash_average_rgba(data)
    assert all(isinstance(v, int) and 0 <= v <= 255 for v in average_rgba)
    assert 1 / 7 <= thumbhash_aspect_ratio(data) <= 7
    assert len(placeholder_data_uri(data)) < DATA_URI_LIMIT
    return True


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_any_bytes_decode_or_raise_argument_error(data: bytes) -> None:
    _every_reading(data)


@st.composite
def hashes(draw: st.DrawFn) -> bytes:
    """Bytes with a random header and the length that header asks for (found by
    trying each length: the decoder must refuse the others)."""
    data = draw(st.binary(min_size=MAX_THUMBHASH_LENGTH, max_size=MAX_THUMBHASH_LENGTH))
    valid = [n for n in range(5, MAX_THUMBHASH_LENGTH + 1) if _every_reading(data[:n])]
    assume(valid)
    assert len(valid) == 1
    return data[: valid[0]]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hashes())
def test_random_headers_decode_at_exactly_one_length(hash_: bytes) -> None:
    _well_formed(decode_thumbhash(hash_))
    for wrong in (hash_[:-1], hash_ + b"\0", hash_[:5]):
        if wrong != hash_:
            with pytest.raises(ArgumentError, match="not a ThumbHash"):
                decode_thumbhash(wrong)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hashes())
def test_the_reference_decoder_agrees_on_any_hash(hash_: bytes) -> None:
    reference = _reference()
    width, height, rgba = decode_thumbhash(hash_)
    ref_width, ref_height, ref_rgba = reference.thumb_hash_to_rgba(hash_)
    assert (ref_width, ref_height) == (width, height)
    assert _max_difference(bytes(ref_rgba), rgba) <= 1


def test_long_input_is_refused_unread() -> None:
    """Work is bounded by construction: more than 25 bytes are refused by
    length before any byte is read, whatever their type."""
    huge = bytes(50_000_000)
    for data in (huge, bytearray(100), memoryview(huge)):
        with pytest.raises(ArgumentError, match="not from 5 to 25"):
            decode_thumbhash(data)
    with pytest.raises(ArgumentTypeError):
        decode_thumbhash("3OcRJYB4d3h/iIeHeEh3eIhw+j2w")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="aspect ratio field is 0"):
        decode_thumbhash(bytes(5))


# -- encoder input --------------------------------------------------------------------------


@st.composite
def previews(draw: st.DrawFn) -> Preview:
    """Any valid preview: random noise, or a random tiled pattern."""
    width = draw(st.integers(1, 100))
    height = draw(st.integers(1, 100))
    if draw(st.booleans()):
        rgba = random.Random(draw(st.integers(0, 2**32))).randbytes(width * height * 4)
    else:
        tile = draw(st.binary(min_size=4, max_size=64).filter(lambda b: len(b) % 4 == 0))
        if draw(st.booleans()):  # opaque
            tile = b"".join(tile[i : i + 3] + b"\xff" for i in range(0, len(tile), 4))
        rgba = (tile * (width * height * 4 // len(tile) + 1))[: width * height * 4]
    return width, height, rgba


@settings(max_examples=150, deadline=None)
@given(previews())
def test_any_valid_preview_encodes_and_round_trips(preview: Preview) -> None:
    width, height, rgba = preview
    hash_ = encode_thumbhash(width, height, rgba)
    assert 5 <= len(hash_) <= MAX_THUMBHASH_LENGTH
    _well_formed(decode_thumbhash(hash_))
    assert bool(hash_[2] & 0x80) == (rgba[3::4] != b"\xff" * (width * height))
    r, g, b, a = thumbhash_average_rgba(hash_)
    expected = average(width, height, rgba)
    assert abs(a - expected[3]) <= 255 / 30 + 1
    if expected[3] >= 8:
        assert close((r, g, b), expected[:3], 8, alpha=False)
    assert_ratio_kept(hash_, width, height)
    placeholder = Placeholder.from_rgba(width, height, rgba)
    assert Placeholder.from_text(placeholder.to_text()) == placeholder
    assert len(placeholder.to_text()) <= 54
    assert len(placeholder.data_uri) < DATA_URI_LIMIT


@pytest.mark.parametrize(
    ("width", "height", "size", "error"),
    [
        (0, 10, 0, ArgumentError),
        (101, 10, 4040, ArgumentError),
        (10, -1, 40, ArgumentError),
        (10, 10, 399, ArgumentError),
        (10, 10, 401, ArgumentError),
        (True, 1, 4, ArgumentTypeError),
        (10.0, 10, 400, ArgumentTypeError),
    ],
)
def test_bad_previews_are_refused(width: object, height: int, size: int, error: type) -> None:
    with pytest.raises(error):
        encode_thumbhash(width, height, bytes(size))  # type: ignore[arg-type]


def test_rgba_must_be_bytes() -> None:
    with pytest.raises(ArgumentTypeError):
        encode_thumbhash(1, 1, [0, 0, 0, 255])  # type: ignore[arg-type]
    assert encode_thumbhash(1, 1, bytearray(b"\0\0\0\xff")) == encode_thumbhash(
        1, 1, memoryview(b"\0\0\0\xff")
    )


# -- the data URI ---------------------------------------------------------------------------


def test_the_data_uri_is_a_small_png_of_the_picture(preview: Preview) -> None:
    hash_ = encode_thumbhash(*preview)
    uri = placeholder_data_uri(hash_)
    assert len(uri) < DATA_URI_LIMIT
    width, height, pixels = png_pixels(uri)
    decoded_width, decoded_height, decoded = decode_thumbhash(hash_)
    if max(width, height) == RENDER_SIDE:  # lossless: the decoded picture itself
        assert (width, height, pixels) == (decoded_width, decoded_height, decoded)
    else:  # rendered smaller to fit in 1 KB, same shape
        assert max(width, height) in (24, 16, 8)
        assert (width > height) == (decoded_width > decoded_height)
        assert width / height == pytest.approx(decoded_width / decoded_height, rel=0.25)
    assert close(average(width, height, pixels), average(*preview), 16)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hashes())
def test_every_hash_gives_a_data_uri_under_1_kb(hash_: bytes) -> None:
    uri = placeholder_data_uri(hash_)
    assert len(uri) < DATA_URI_LIMIT
    width, height, pixels = png_pixels(uri)
    assert max(width, height) in (RENDER_SIDE, 24, 16, 8)
    assert len(pixels) == width * height * 4


def test_the_png_is_well_formed() -> None:
    """Signature, chunk CRCs and an IDAT that inflates to the scanlines."""
    uri = placeholder_data_uri(encode_thumbhash(*half_transparent()))
    png = base64.b64decode(uri.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, kinds = 8, []
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind, body = png[offset + 4 : offset + 8], png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
        if kind == b"IDAT":
            scanlines = zlib.decompress(body)
        offset += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    assert (depth, colour_type) == (8, 6)  # RGBA, as the image has alpha
    assert len(scanlines) == height * (1 + width * 4)


# -- Placeholder ----------------------------------------------------------------------------


def test_placeholder_values() -> None:
    width, height, rgba = four_colours()
    placeholder = Placeholder.from_rgba(width, height, rgba)
    assert (placeholder.width, placeholder.height) == (100, 75)
    assert placeholder.thumbhash == encode_thumbhash(width, height, rgba)
    assert base64.b64decode(placeholder.thumbhash_base64) == placeholder.thumbhash
    assert placeholder.data_uri == placeholder_data_uri(hash=placeholder.thumbhash)
    assert placeholder.average_rgba == thumbhash_average_rgba(placeholder.thumbhash)
    assert placeholder.style == (
        f"background-size:100% 100%;background-image:url({placeholder.data_uri})"
    )
    assert not set('"&<>') & set(placeholder.style)
    text = placeholder.to_text()
    assert re.fullmatch(r"thumbhash:100x75:[A-Za-z0-9+/]+=*", text)
    assert Placeholder.from_text(text) == placeholder
    assert hash(Placeholder.from_text(text)) == hash(placeholder)
    assert Placeholder(bytearray(placeholder.thumbhash), 100, 75) == placeholder


def test_a_placeholder_must_agree_with_its_size() -> None:
    hash_ = encode_thumbhash(*four_colours())  # 100x75: landscape, 7x5 terms
    assert Placeholder(hash_, 99, 74).height == 74
    for width, height in ((75, 100), (100, 100), (100, 40), (100, 1)):
        with pytest.raises(ArgumentError, match="was not made from"):
            Placeholder(hash_, width, height)
    for width, height, error in ((0, 75, ArgumentError), (100, 101, ArgumentError)):
        with pytest.raises(error):
            Placeholder(hash_, width, height)
    with pytest.raises(ArgumentTypeError):
        Placeholder(hash_, "100", 75)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        Placeholder(hash_[:-1], 100, 75)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "thumbhash:",
        "thumbhash:100x75:",
        "thumbhash:100x75:!!!!!!!!",
        "thumbhash:0x75:H/gJbZqAh4eAiIiIiHiIiISPB4iI",
        "thumbhash:100x750:H/gJbZqAh4eAiIiIiHiIiISPB4iI",
        "thumbhash:100x75:H/gJbZqAh4eAiIiIiHiIiISPB4i",  # a byte short
        "thumbhash:100x75:H/gJbZqAh4eAiIiIiHiIiISPB4iI\n",
        " thumbhash:100x75:H/gJbZqAh4eAiIiIiHiIiISPB4iI",
        "thumbhash:100x75:H/gJbZqAh4eAiIiIiHiIiISPB4iI==",
        "thumbhash:\u0661\u0660\u0660x75:H/gJbZqAh4eAiIiIiHiIiISPB4iI",  # Arabic-Indic 100
        "thumbhash:75x100:H/gJbZqAh4eAiIiIiHiIiISPB4iI",  # a portrait size, a landscape hash
        "thumbhash:100x75:AAAAAAAA",
        "blurhash:LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        "x" * 10_000_000,
    ],
)
def test_from_text_refuses_anything_else(text: str) -> None:
    with pytest.raises(ArgumentError):
        Placeholder.from_text(text)


def test_from_text_refuses_non_canonical_base64() -> None:
    text = Placeholder.from_rgba(1, 1, b"\x10\x20\x30\x80").to_text()
    assert text.endswith("==")  # 25 bytes: the last character has 4 unused bits
    last = text.rstrip("=")[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    other = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(ArgumentError, match="non-canonical"):
        Placeholder.from_text(text.rstrip("=")[:-1] + other + "=" * text.count("="))


def test_from_text_reads_the_documented_example() -> None:
    placeholder = Placeholder.from_text("thumbhash:100x75:H/gJbZqAh4eAiIiIiHiIiISPB4iI")
    assert (placeholder.width, placeholder.height) == (100, 75)
    with pytest.raises(ArgumentTypeError):
        Placeholder.from_text(b"thumbhash:100x75:H/gJbZqAh4eAiIiIiHiIiISPB4iI")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_from_text_of_any_string(text: str) -> None:
    try:
        placeholder = Placeholder.from_text(text)
    except ArgumentError:
        return
    assert placeholder.to_text() == text


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 45), st.characters(codec="ascii"))
def test_from_text_of_a_mutated_text(position: int, character: str) -> None:
    text = "thumbhash:100x75:H/gJbZqAh4eAiIiIiHiIiISPB4iI"
    mutated = text[:position] + character + text[position + 1 :]
    try:
        placeholder = Placeholder.from_text(mutated)
    except ArgumentError:
        return
    assert placeholder.to_text() == mutated


# -- docs/placeholders.md -------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _checked_blocks() -> list[str]:
    """The html blocks of docs/placeholders.md marked as checked by this file."""
    text = PAGE.read_text()
    marker = "<!-- checked by tests/test_placeholder.py -->\n```html\n"
    return [part.split("\n```", 1)[0] for part in text.split(marker)[1:]]


def test_the_pages_html_examples() -> None:
    """The ``<img>`` examples of docs/placeholders.md: the CSS one carries the real
    style of the page's stored placeholder, the JavaScript one its base64 hash."""
    page = PAGE.read_text()
    stored = re.search(r'"(thumbhash:[^"]+)"', page)
    assert stored is not None
    placeholder = Placeholder.from_text(stored[1])
    examples = _checked_blocks()
    assert len(examples) == 2
    parsers = []
    for example in examples:
        parser = _Tags()
        parser.feed(example)
        parsers.append(parser)
    (tag, attributes), *_ = parsers[0].tags
    assert tag == "img" and attributes["style"] == placeholder.style
    assert (attributes["width"], attributes["height"]) == ("640", "480")
    images = [attrs for tag, attrs in parsers[1].tags if tag == "img"]
    assert images[0]["data-thumbhash"] == placeholder.thumbhash_base64
    assert "thumbHashToDataURL" in examples[1]


def test_timing_is_bounded_by_input_size() -> None:
    """Encoding reads at most 100x100 pixels and decoding renders at most 32x32
    (what bounds their time): both are enforced before any work."""
    with pytest.raises(ArgumentError):
        encode_thumbhash(101, 100, bytes(101 * 100 * 4))
    longest = max(
        max(decode_thumbhash(encode_thumbhash(w, h, bytes(w * h * 4)))[:2])
        for w, h in ((1, 100), (100, 1), (100, 100), (37, 59))
    )
    assert longest == RENDER_SIDE
    assert math.isclose(thumbhash_aspect_ratio(encode_thumbhash(100, 1, bytes(400))), 5.0)


# -- the DCT's fixed-point column pass ------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 100), st.integers(1, 100), st.integers(0, 2**32), st.booleans())
def test_the_packed_dct_is_the_plain_dct(width: int, height: int, seed: int, wide: bool) -> None:
    """The big-integer column pass of the encoder gives the textbook DCT terms,
    for 1-byte and 2-byte values up to their maximum (no lane overflows)."""
    from imageattach.placeholder import _column_pass, _row_pass

    generator = random.Random(seed)
    top = 255 * 255 if wide else 255
    values = [
        generator.choice((0, top, generator.randrange(top + 1))) for _ in range(width * height)
    ]
    raw = b"".join(v.to_bytes(2 if wide else 1, "little") for v in values)
    terms = _row_pass(_column_pass(raw, 2 if wide else 1, height, 7), width, height, 7, 7)
    for cy in range(7):
        for cx in range(7):
            plain = sum(
                values[y * width + x]
                * math.cos(math.pi / width * cx * (x + 0.5))
                * math.cos(math.pi / height * cy * (y + 0.5))
                for y in range(height)
                for x in range(width)
            ) / (width * height)
            assert terms[cy][cx] == pytest.approx(plain, abs=top * 1e-6)
