"""Frame counts and PNG metadata sizes read from the container structure,
never decoding pixels: right on real files, capped on bombs, total on garbage."""

from __future__ import annotations

import random
import struct
import time
import tracemalloc
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from images import animated_gif, jpeg, not_an_image, png, svg, webp

# isort: split
from wand.color import Color
from wand.image import Image

from imageattach.imaging.containers import count_frames, png_ancillary_bytes

_GIF, _TIFF, _WEBP, _PNG, _ICO = (
    "image/gif",
    "image/tiff",
    "image/webp",
    "image/png",
    "image/vnd.microsoft.icon",
)

#: Per-input time bound for the fuzzing, far above what a walk of a few KB takes.
_FUZZ = settings(deadline=500, max_examples=200, suppress_health_check=[HealthCheck.too_slow])


def _elapsed(start: float) -> float:
    return time.perf_counter() - start


def _sequence(coder: str, sizes: list[tuple[int, int]]) -> bytes:
    """A multi-frame file written by ImageMagick, one frame per size."""
    colors = ["red", "lime", "blue"]
    with Image() as sequence:
        for index, (width, height) in enumerate(sizes):
            with Image(width=width, height=height, background=Color(colors[index % 3])) as frame:
                sequence.sequence.append(frame)
        sequence.format = coder
        data: bytes = sequence.make_blob()
    return data


def _frames_read_by_imagemagick(data: bytes) -> int:
    with Image(blob=data) as image:
        return len(image.sequence)


# -- hand-built files -----------------------------------------------------------


def _tiny_gif(frames: int, *, between: bytes = b"") -> bytes:
    """A GIF of ``frames`` 1x1 frames, 15 bytes each (``between`` after each)."""
    screen = struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    # LZW, 2-bit minimum code size: clear (4), index 0, end (5) in 3-bit codes.
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + (frame + between) * frames + b";"


def _tiff(frames: int, *, order: str = "<", big: bool = False, loop_to: int | None = None) -> bytes:
    """A TIFF whose IFD chain has ``frames`` IFDs of one entry (ImageWidth);
    with ``loop_to`` the last one links back to that IFD instead of ending."""
    mark = b"II" if order == "<" else b"MM"
    if big:
        header_size, ifd_size = 16, 8 + 20 + 8
    else:
        header_size, ifd_size = 8, 2 + 12 + 4
    offsets = [header_size + index * ifd_size for index in range(frames)]
    links = [*offsets[1:], 0 if loop_to is None else offsets[loop_to]]
    if big:
        parts = [mark + struct.pack(order + "HHHQ", 43, 8, 0, offsets[0])]
        parts += [struct.pack(order + "QHHQQQ", 1, 256, 4, 1, 1, link) for link in links]
    else:
        parts = [mark + struct.pack(order + "HI", 42, offsets[0])]
        parts += [struct.pack(order + "HHHIII", 1, 256, 4, 1, 1, link) for link in links]
    return b"".join(parts)


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


def _animated_webp(frames: int, *, flags: int = 0x02) -> bytes:
    """A WebP container with a VP8X header and ``frames`` ANMF chunks (each an
    odd-sized payload, so that padding is exercised)."""
    vp8x = bytes([flags, 0, 0, 0]) + (0).to_bytes(3, "little") * 2
    body = b"WEBP" + _riff_chunk(b"VP8X", vp8x) + _riff_chunk(b"ANIM", b"\x00" * 6)
    for _ in range(frames):
        body += _riff_chunk(b"ANMF", b"\x00" * 16 + b"\x01")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(*chunks: bytes) -> bytes:
    """A 1x1 grey PNG with ``chunks`` between its IHDR and IDAT."""
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    idat = _png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(chunks) + idat + _png_chunk(b"IEND", b"")


def _apng(frames: int) -> bytes:
    control = struct.pack(">IIIIIHHBB", 0, 1, 1, 0, 0, 1, 10, 0, 0)
    return _png(_png_chunk(b"acTL", struct.pack(">II", frames, 0)), _png_chunk(b"fcTL", control))


def _ico(entries: int) -> bytes:
    """An icon directory of ``entries`` 16x16 entries (the images are not there)."""
    entry = struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, 1128, 6 + 16 * entries)
    return struct.pack("<HHH", 0, 1, entries) + entry * entries


# -- frame counts -----------------------------------------------------------------


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_gif_frames(frames: int) -> None:
    data = animated_gif(frames)
    assert count_frames(data, _GIF, cap=100) == frames


def test_hand_built_gif_is_what_imagemagick_reads() -> None:
    assert _frames_read_by_imagemagick(_tiny_gif(3)) == 3
    assert count_frames(_tiny_gif(3), _GIF, cap=100) == 3


def test_gif_skips_stray_bytes_between_blocks_as_imagemagick_does() -> None:
    data = _tiny_gif(4, between=b"\x00garbage\x00")
    assert _frames_read_by_imagemagick(data) == 4
    assert count_frames(data, _GIF, cap=100) == 4


def test_gif_counting_stops_at_the_trailer_and_at_truncation() -> None:
    data = _tiny_gif(5)
    assert count_frames(data + _tiny_gif(5)[13:], _GIF, cap=100) == 5  # after ";"
    frames_start = 6 + 7 + 6  # signature, screen descriptor, 2-colour table
    cut = data[: frames_start + 15 * 2 + 12]  # the third frame's pixel data is cut
    assert count_frames(cut, _GIF, cap=100) == 3
    assert count_frames(data[: frames_start + 15 * 2 + 5], _GIF, cap=100) == 2


def test_gif_frame_bomb_counting_stops_above_the_cap() -> None:
    bomb = _tiny_gif(100_000)
    assert len(bomb) < 1_600_000
    start = time.perf_counter()
    assert count_frames(bomb, _GIF, cap=1000) == 1001
    assert _elapsed(start) < 0.1
    start = time.perf_counter()
    assert count_frames(bomb, _GIF, cap=1_000_000) == 100_000
    assert _elapsed(start) < 2.0


@pytest.mark.parametrize("coder", ["tiff", "tiff64"])
@pytest.mark.parametrize("frames", [1, 3])
def test_tiff_frames(coder: str, frames: int) -> None:
    data = _sequence(coder, [(16, 12)] * frames)
    assert data[2:4] in (b"*\x00", b"+\x00")
    assert count_frames(data, _TIFF, cap=100) == frames


def test_big_endian_tiff_from_imagemagick() -> None:
    with Image() as sequence:
        for _ in range(4):
            with Image(width=8, height=8, background=Color("red")) as frame:
                sequence.sequence.append(frame)
        sequence.options["tiff:endian"] = "msb"
        sequence.format = "tiff"
        data: bytes = sequence.make_blob()
    assert data[:4] == b"MM\x00*"
    assert count_frames(data, _TIFF, cap=100) == 4


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("big", [False, True], ids=["classic", "bigtiff"])
def test_hand_built_tiff_chains(order: str, big: bool) -> None:
    assert count_frames(_tiff(7, order=order, big=big), _TIFF, cap=100) == 7
    assert count_frames(_tiff(7, order=order, big=big), _TIFF, cap=3) == 4
    # A chain that loops ends at the first IFD seen twice.
    assert count_frames(_tiff(5, order=order, big=big, loop_to=0), _TIFF, cap=100) == 5
    assert count_frames(_tiff(5, order=order, big=big, loop_to=4), _TIFF, cap=100) == 5


def test_tiff_frame_bomb_counting_stops_above_the_cap() -> None:
    bomb = _tiff(100_000)
    start = time.perf_counter()
    assert count_frames(bomb, _TIFF, cap=500) == 501
    assert count_frames(bomb, _TIFF, cap=10**9) == 100_000
    assert _elapsed(start) < 2.0


def test_webp_frames() -> None:
    animation = _sequence("webp", [(16, 16), (16, 16), (16, 16)])
    assert b"ANMF" in animation
    assert count_frames(animation, _WEBP, cap=100) == 3
    assert count_frames(webp(40, 30), _WEBP, cap=100) == 1
    assert count_frames(_animated_webp(9), _WEBP, cap=100) == 9
    assert count_frames(_animated_webp(9), _WEBP, cap=4) == 5
    assert count_frames(_animated_webp(9, flags=0), _WEBP, cap=100) == 1  # no animation flag
    assert count_frames(_animated_webp(0), _WEBP, cap=100) == 1


def test_apng_frames() -> None:
    assert count_frames(png(16, 16), _PNG, cap=100) == 1
    assert count_frames(_apng(3), _PNG, cap=100) == 3
    assert count_frames(_apng(0), _PNG, cap=100) == 1
    assert count_frames(_apng(2**32 - 1), _PNG, cap=100) == 101
    with Image(blob=_apng(3)) as image:  # still a PNG to ImageMagick
        assert (image.width, image.height) == (1, 1)


def test_ico_frames() -> None:
    icon = _sequence("ico", [(16, 16), (32, 32), (48, 48)])
    assert count_frames(icon, _ICO, cap=100) == 3
    assert count_frames(_ico(1000), _ICO, cap=10) == 11
    assert count_frames(_ico(0), _ICO, cap=10) == 1
    cursor = b"\x00\x00\x02\x00" + _ico(4)[4:]
    assert count_frames(cursor, _ICO, cap=10) == 4


@pytest.mark.parametrize(
    ("data", "mimetype"),
    [
        (jpeg(20, 10), "image/jpeg"),
        (png(20, 10), "image/bmp"),
        (svg(), "image/svg+xml"),
        (animated_gif(3), "application/pdf"),
        (not_an_image(), _GIF),
        (not_an_image(), _TIFF),
        (b"", _WEBP),
        (b"", _PNG),
        (b"", _ICO),
    ],
)
def test_single_frame_otherwise(data: bytes, mimetype: str) -> None:
    assert count_frames(data, mimetype, cap=100) == 1


_SAMPLES = {
    _GIF: [_tiny_gif(3), animated_gif(3, 8, 8)],
    _TIFF: [_tiff(3), _tiff(3, order=">", big=True), _tiff(3, loop_to=1)],
    _WEBP: [_animated_webp(3)],
    _PNG: [_apng(3)],
    _ICO: [_ico(3)],
}


@_FUZZ
@given(
    st.sampled_from(
        [(mimetype, sample) for mimetype, samples in _SAMPLES.items() for sample in samples]
    ),
    st.integers(0, 400),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    st.integers(0, 20),
)
def test_frame_counting_of_damaged_files_never_raises(
    sample: tuple[str, bytes], cut: int, changes: list[tuple[int, int]], cap: int
) -> None:
    mimetype, data = sample
    damaged = bytearray(data[: len(data) - cut % max(1, len(data))])
    for position, value in changes:
        if position < len(damaged):
            damaged[position] = value
    assert 1 <= count_frames(bytes(damaged), mimetype, cap=cap) <= cap + 1


@_FUZZ
@given(
    st.sampled_from([*_SAMPLES, "image/jpeg"]),
    st.sampled_from([b"", b"GIF89a", b"II*\x00", b"MM\x00+", b"RIFF\x00\x00\x00\x00WEBPVP8X",
                     b"\x89PNG\r\n\x1a\n", b"\x00\x00\x01\x00"]),
    st.binary(max_size=2000),
    st.integers(0, 1000),
)  # fmt: skip
def test_frame_counting_of_garbage_never_raises(
    mimetype: str, magic: bytes, garbage: bytes, cap: int
) -> None:
    assert 1 <= count_frames(magic + garbage, mimetype, cap=cap) <= cap + 1


# -- PNG metadata --------------------------------------------------------------


def _text(kind: bytes, keyword: bytes, body: bytes) -> bytes:
    return _png_chunk(kind, keyword + b"\x00" + body)


def test_ancillary_bytes_count_inflated_sizes() -> None:
    text = b"A caption. " * 100
    profile = bytes(range(256)) * 8
    chunks = [
        _text(b"tEXt", b"Title", b"plain"),  # 11 bytes of data
        _text(b"zTXt", b"Comment", b"\x00" + zlib.compress(text)),  # 9 + 1100
        _text(b"iTXt", b"Note", b"\x01\x00en\x00Note\x00" + zlib.compress(text)),  # 15 + 1100
        _text(b"iTXt", b"Note", b"\x00\x00\x00\x00" + text),  # 9 + 1100
        _text(b"iCCP", b"icc", b"\x00" + zlib.compress(profile)),  # 5 + 2048
        _png_chunk(b"gAMA", struct.pack(">I", 45455)),  # 4
        _png_chunk(b"tRNS", b"\x00\x00"),  # image data, not counted
    ]
    data = _png(*chunks)
    expected = 11 + (9 + 1100) + (15 + 1100) + (9 + 1100) + (5 + 2048) + 4
    assert png_ancillary_bytes(data, cap=10**9) == expected
    assert png_ancillary_bytes(data, cap=expected) == expected
    assert expected - 5 < png_ancillary_bytes(data, cap=expected - 5) <= expected
    with Image(blob=data) as image:  # a valid PNG to ImageMagick
        assert image.width == 1


def test_ancillary_bytes_of_imagemagick_pngs() -> None:
    data = png(20, 10)
    position, expected = 8, 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        if data[position + 4 : position + 8] not in (b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"):
            expected += length
        position += 12 + length
    assert expected > 0
    assert png_ancillary_bytes(data, cap=10**9) == expected
    assert png_ancillary_bytes(_png(), cap=10**9) == 0


@pytest.mark.parametrize("data", [b"", jpeg(8, 8), animated_gif(2), svg(), b"\x89PNG\r\n"])
def test_no_ancillary_bytes_outside_png(data: bytes) -> None:
    assert png_ancillary_bytes(data, cap=0) == 0


def test_ancillary_bytes_stop_at_a_cut_chunk_or_broken_stream() -> None:
    whole = _png(_text(b"tEXt", b"a", b"x" * 100), _text(b"tEXt", b"b", b"y" * 1000))
    assert png_ancillary_bytes(whole, cap=10**9) == 102 + 1002
    assert png_ancillary_bytes(whole[: whole.index(b"y" * 1000) + 10], cap=10**9) == 102
    noise = random.Random(0).randbytes(100_000)  # inflates byte for byte
    broken = zlib.compress(noise)[:50_000] + b"not deflate"
    counted = png_ancillary_bytes(_png(_text(b"zTXt", b"a", b"\x00" + broken)), cap=10**9)
    assert 40_000 <= counted < 50_000


@pytest.fixture(scope="module")
def deflate_bomb() -> bytes:
    """256 MiB of zeros, deflated into about 250 KiB."""
    compressor = zlib.compressobj(9)
    zeros = bytes(1 << 20)
    stream = b"".join(compressor.compress(zeros) for _ in range(256)) + compressor.flush()
    assert len(stream) < 300_000
    return stream


@pytest.mark.parametrize("kind", [b"zTXt", b"iTXt", b"iCCP"])
def test_deflate_bomb_is_measured_only_up_to_the_cap(deflate_bomb: bytes, kind: bytes) -> None:
    header = b"\x00" if kind != b"iTXt" else b"\x01\x00\x00\x00"
    data = _png(_text(kind, b"bomb", header + deflate_bomb))
    cap = 8 << 20
    tracemalloc.start()
    try:
        start = time.perf_counter()
        counted = png_ancillary_bytes(data, cap=cap)
        elapsed = _elapsed(start)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cap < counted <= cap + 1 + 16
    assert peak < 1 << 20  # pieces of 64 KiB, never the 256 MiB
    assert elapsed < 1.0


def test_many_deflate_bombs_share_the_cap() -> None:
    small = zlib.compress(bytes(1 << 20))
    data = _png(*[_text(b"zTXt", b"k", b"\x00" + small) for _ in range(100)])
    start = time.perf_counter()
    counted = png_ancillary_bytes(data, cap=5 << 20)
    assert (5 << 20) < counted <= (5 << 20) + 4
    assert _elapsed(start) < 1.0


@_FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"tEXt", b"zTXt", b"iTXt", b"iCCP", b"IDAT", b"eXIf"]),
            st.binary(max_size=40),
            st.booleans(),
        ),
        max_size=6,
    ),
    st.integers(0, 300),
    st.integers(0, 100),
)
def test_ancillary_bytes_never_raise(
    chunks: list[tuple[bytes, bytes, bool]], cut: int, cap: int
) -> None:
    built = [
        _png_chunk(kind, body + (zlib.compress(body * 50) if compress else b""))
        for kind, body, compress in chunks
    ]
    data = _png(*built)
    counted = png_ancillary_bytes(data[: max(8, len(data) - cut)], cap=cap)
    assert counted >= 0
