"""A generated corpus of hostile image files, for the hardening tests.

Every file is built here, byte by byte, with the standard library only: no
third-party sample, no download, no ImageMagick.  Nothing here imports
imageattach, so the corpus can be built (and checked by
``test_hostile_corpus.py``) whatever state the imaging code is in.

:func:`corpus` returns ``{name: HostileCase}``; :func:`case` builds one case
only.  Both are cached, and the whole corpus builds in about a second.  The
bytes are deterministic (no randomness, no timestamps).

Kinds (what a case threatens when decoded in the serving process):

``abort``
    kills the process (SIGABRT from a Rust panic in librsvg, SIGSEGV from
    stack exhaustion, or an ImageMagick/Wand abort on a header without pixels);
``freeze``
    unbounded CPU: filter work, regular-expression backtracking in the
    format sniffers, IFD loops;
``memory``
    memory blow-up: decompression bombs, frame/page bombs, huge intermediate
    surfaces;
``size``
    a header claiming a huge (or absurd) pixel size;
``active``
    SVG active content: scripts, event handlers, external references.

The sizes claimed in names are the ones written in the headers: e.g.
``png_claims_100000x100000`` has ``width == height == 100000`` in its IHDR.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
import zlib
from collections.abc import Callable

__all__ = [
    "GIF_FRAMES",
    "KINDS",
    "NOT_WELL_FORMED_SVG",
    "PDF_CASES",
    "TEXT_BOMB_BYTES",
    "TIFF_PAGES",
    "HostileCase",
    "adler32_of_repeated",
    "case",
    "corpus",
    "metadata",
    "names",
]

KINDS = frozenset({"abort", "freeze", "memory", "size", "active"})

#: Frames in ``gif_100000_frames``.
GIF_FRAMES = 100_000
#: Pages in ``tiff_200000_pages``.
TIFF_PAGES = 200_000
#: Bytes the compressed text of ``png_ztxt_bomb`` / ``png_itxt_bomb`` inflates to.
TEXT_BOMB_BYTES = 1850 * 2**20
#: Cases claimed as SVG that are deliberately not well-formed XML (sniffer bait).
NOT_WELL_FORMED_SVG = frozenset(
    {"sniff_svg_comments_26", "sniff_svg_comments_32", "sniff_svg_doctypes_30"}
)
#: Cases claimed as PDF (refused unless the ImageMagick policy allows the PDF coder).
PDF_CASES = frozenset({"pdf_mediabox_backtrack"})


@dataclasses.dataclass(frozen=True)
class HostileCase:
    """One hostile file and what it is meant to do."""

    name: str
    data: bytes = dataclasses.field(repr=False)
    #: The format the bytes are (or pretend to be), as a mimetype.
    mimetype_claimed: str
    #: One of :data:`KINDS`.
    kind: str
    note: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")

    def __repr__(self) -> str:
        return f"HostileCase({self.name!r}, {len(self.data)} bytes, {self.kind})"


@dataclasses.dataclass(frozen=True)
class _Recipe:
    build: Callable[[], bytes]
    mimetype: str
    kind: str
    note: str


_RECIPES: dict[str, _Recipe] = {}


def _recipe(name: str, mimetype: str, kind: str, note: str) -> Callable[..., Callable[[], bytes]]:
    def register(build: Callable[[], bytes]) -> Callable[[], bytes]:
        if name in _RECIPES:
            raise ValueError(f"duplicate case {name}")
        _RECIPES[name] = _Recipe(build, mimetype, kind, " ".join(note.split()))
        return build

    return register


def names() -> list[str]:
    """The case names, in a stable order."""
    return list(_RECIPES)


def metadata(name: str) -> tuple[str, str, str]:
    """``(mimetype_claimed, kind, note)`` of a case, without building its bytes."""
    recipe = _RECIPES[name]
    return recipe.mimetype, recipe.kind, recipe.note


@functools.cache
def case(name: str) -> HostileCase:
    """Build (once) the case called ``name``."""
    recipe = _RECIPES[name]
    return HostileCase(name, recipe.build(), recipe.mimetype, recipe.kind, recipe.note)


@functools.cache
def corpus() -> dict[str, HostileCase]:
    """Every case, by name (built once, then cached)."""
    return {name: case(name) for name in _RECIPES}


# ---------------------------------------------------------------- helpers


def adler32_of_repeated(byte: int, count: int) -> int:
    """zlib's Adler-32 of ``bytes([byte]) * count``, without making it."""
    modulus = 65521
    a = (1 + byte * count) % modulus
    b = (count + byte * (count * (count + 1) // 2)) % modulus
    return (b << 16) | a


def _deflate_repeated(byte: int, count: int, block: int = 2**20) -> bytes:
    """A zlib stream inflating to ``bytes([byte]) * count``, made in
    milliseconds however large ``count``: deflate's output for a block of
    identical bytes is the same once its window is full, so the steady-state
    block (byte-aligned by a sync flush) is compressed once and repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    chunk = bytes([byte]) * block
    full, remainder = divmod(count, block)
    parts: list[bytes] = []
    steady = b""
    for index in range(full):
        if index < 3:
            piece = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
            if index == 2 and piece != steady:  # pragma: no cover (zlib changed)
                raise AssertionError("deflate output of identical blocks differs")
            steady = piece
            parts.append(piece)
        else:
            parts.append(steady)
    parts.append(compressor.compress(bytes([byte]) * remainder) + compressor.flush())
    adler = adler32_of_repeated(byte, count)
    return b"\x78\xda" + b"".join(parts) + struct.pack(">I", adler)


def _png_chunk(kind: bytes, body: bytes, *, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return struct.pack(">I", size) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _ihdr(width: int, height: int, depth: int = 8, color_type: int = 0) -> bytes:
    return _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IEND = _png_chunk(b"IEND", b"")
#: The image data of a 1x1 8-bit grey PNG (filter byte 0, one black pixel).
_IDAT_1X1 = _png_chunk(b"IDAT", zlib.compress(b"\x00\x00", 9))


def _png(*chunks: bytes) -> bytes:
    return _PNG_SIGNATURE + b"".join(chunks) + _IEND


def _png_flood(width: int, height: int) -> bytes:
    """A width x height 8-bit grey PNG, all black: each row is a filter byte
    and ``width`` zero bytes, so the image data is one run of zeros."""
    data = _deflate_repeated(0, (width + 1) * height)
    return _png(_ihdr(width, height), _png_chunk(b"IDAT", data))


# GIF: an LZW stream (minimum code size 2) for one pixel of colour 0:
# clear code 4, pixel 0, end code 5, 3 bits each, packed LSB first.
_GIF_ONE_PIXEL = b"\x02\x02\x44\x01\x00"  # code size, sub-block of 2 bytes, terminator
_GIF_PALETTE = b"\x00\x00\x00\xff\xff\xff"  # 2 colours (size field 0)


def _gif_screen(width: int, height: int) -> bytes:
    # Global colour table present, 1 bit of colour resolution, 2 entries.
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + _GIF_PALETTE


def _gif_frame(width: int, height: int, delay: int = 0) -> bytes:
    control = b"\x21\xf9\x04\x00" + struct.pack("<H", delay) + b"\x00\x00"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return control + descriptor + _GIF_ONE_PIXEL


# JPEG pieces: a flat quantisation table, Huffman tables with one 1-bit code
# each (DC category 0, AC end-of-block), so that every 8x8 block is two 0 bits.
_JPEG_DQT = b"\xff\xdb" + struct.pack(">HB", 67, 0) + b"\x01" * 64
_JPEG_DHT = (
    b"\xff\xc4"
    + struct.pack(">H", 2 + 2 * 17 + 2)
    + b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00"  # DC table 0: one code of length 1 -> 0
    + b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00"  # AC table 0: one code of length 1 -> EOB
)  # fmt: skip


def _jpeg_sof(width: int, height: int) -> bytes:
    return b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"


_JPEG_SOS = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00" + b"\x00\x3f\x00"


def _jpeg(width: int, height: int) -> bytes:
    """A greyscale baseline JPEG whose SOF says ``width`` x ``height``, with a
    few blocks of (all grey) scan data and an end-of-image marker."""
    return (
        b"\xff\xd8"
        + _JPEG_DQT
        + _jpeg_sof(width, height)
        + _JPEG_DHT
        + _JPEG_SOS
        + (b"\x00" * 16 + b"\xff\xd9")
    )


def _bmp(width: int, height: int, bits: int = 24, pixels: bytes = b"\x00\x00\x00\x00") -> bytes:
    header_size = 14 + 40
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, len(pixels), 2835, 2835, 0, 0)
    file_header = b"BM" + struct.pack("<IHHI", header_size + len(pixels), 0, 0, header_size)
    return file_header + info + pixels


def _ico(entries: list[tuple[int, int, bytes]]) -> bytes:
    """An ICO of ``(width byte, height byte, image)`` entries (0 means 256)."""
    directory, images = b"", b""
    offset = 6 + 16 * len(entries)
    for width, height, image in entries:
        directory += struct.pack("<BBBBHHII", width, height, 0, 0, 1, 32, len(image), offset)
        images += image
        offset += len(image)
    return struct.pack("<HHH", 0, 1, len(entries)) + directory + images


# TIFF: little-endian, IFD entries of type SHORT (3) or LONG (4), one value each.
def _tiff_ifd(entries: list[tuple[int, int, int]], next_ifd: int) -> bytes:
    body = b"".join(
        struct.pack("<HHI", tag, kind, 1)
        + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, value in sorted(entries)
    )
    return struct.pack("<H", len(entries)) + body + struct.pack("<I", next_ifd)


def _tiff_grey_entries(width: int, height: int, strip_offset: int) -> list[tuple[int, int, int]]:
    return [
        (256, 4, width),  # ImageWidth
        (257, 4, height),  # ImageLength
        (258, 3, 8),  # BitsPerSample
        (259, 3, 1),  # Compression: none
        (262, 3, 1),  # PhotometricInterpretation: black is zero
        (273, 4, strip_offset),  # StripOffsets
        (277, 3, 1),  # SamplesPerPixel
        (278, 4, height),  # RowsPerStrip
        (279, 4, 1),  # StripByteCounts (a single byte, whatever the size)
    ]


def _webp(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"WEBP"
    for kind, data in chunks:
        body += kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _vp8l_header(width: int, height: int) -> bytes:
    """A VP8L bitstream start: signature, 14-bit width-1 and height-1, no
    alpha, version 0, then a few zero bytes where the image data would be."""
    bits = (width - 1) | ((height - 1) << 14)
    return b"\x2f" + struct.pack("<I", bits) + b"\x00" * 8


_SVG_OPEN = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    ' width="{w}" height="{h}">'
)


def _svg(body: str, width: int = 1000, height: int = 1000, *, prolog: str = "") -> bytes:
    return (prolog + _SVG_OPEN.format(w=width, h=height) + body + "</svg>").encode()


def _filtered_rect(primitives: str, rects: int = 1, fill: str = "red") -> str:
    """A 1000x1000 rect (``rects`` times) whose filter is ``primitives``,
    the filter region exactly the rect."""
    return (
        f'<filter id="f" x="0" y="0" width="1" height="1">{primitives}</filter>'
        + f'<rect width="1000" height="1000" fill="{fill}" filter="url(#f)"/>' * rects
    )


# ---------------------------------------------------------------- SVG filters


@_recipe(
    "svg_fetile_empty_flood",
    "image/svg+xml",
    "abort",
    """feTile of a 0x0 feFlood result: librsvg 2.54 panics ('assertion failed:
    width > 0 && height > 0' in shared_surface.rs) and the panic cannot unwind
    through C: SIGABRT.""",
)
def _svg_fetile_empty_flood() -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<filter id="f"><feFlood width="0" height="0"/><feTile/></filter>'
        b'<rect width="100" height="100" filter="url(#f)"/></svg>'
    )


@_recipe(
    "svg_feconvolve_order_100",
    "image/svg+xml",
    "abort",
    """feConvolveMatrix order="100" with its 10,000 kernel values: librsvg 2.54
    panics in nalgebra ('Data storage buffer dimension mismatch'): SIGABRT.""",
)
def _svg_feconvolve_order_100() -> bytes:
    kernel = " ".join(["1"] * 100 * 100)
    return _svg(_filtered_rect(f'<feConvolveMatrix order="100" kernelMatrix="{kernel}"/>'))


@_recipe(
    "svg_feturbulence_octaves",
    "image/svg+xml",
    "freeze",
    """feTurbulence numOctaves="10000" over the whole picture, the filtered
    1000x1000 rect drawn 4 times (each ~5 s of CPU at a 100x100 thumbnail:
    the work is per output pixel and per octave).""",
)
def _svg_feturbulence_octaves() -> bytes:
    return _svg(_filtered_rect('<feTurbulence baseFrequency="0.01" numOctaves="10000"/>', rects=4))


@_recipe(
    "svg_femorphology_radius",
    "image/svg+xml",
    "freeze",
    """feMorphology radius="100000" (clamped by librsvg to the region, so one
    is cheap at thumbnail size) chained 800 times in one filter.""",
)
def _svg_femorphology_radius() -> bytes:
    return _svg(_filtered_rect('<feMorphology operator="dilate" radius="100000"/>' * 800))


@_recipe(
    "svg_fediffuse_lighting",
    "image/svg+xml",
    "memory",
    """feDiffuseLighting with a spot light and kernelUnitLength="0.05" on a
    1000x1000 rect: librsvg lights at 1/kernelUnitLength resolution, i.e. on
    20000x20000 surfaces even for a 100x100 thumbnail (~3 GB, ~12 s).""",
)
def _svg_fediffuse_lighting() -> bytes:
    return _svg(
        _filtered_rect(
            '<feDiffuseLighting kernelUnitLength="0.05" surfaceScale="5">'
            '<feSpotLight x="1" y="2" z="3" specularExponent="100"/></feDiffuseLighting>'
        )
    )


@_recipe(
    "svg_fespecular_lighting",
    "image/svg+xml",
    "freeze",
    """4 chained feSpecularLighting (point light, specularExponent 128,
    kernelUnitLength="0.1": 10000x10000 surfaces) on a 1000x1000 rect:
    ~10 s of CPU each, ~800 MB.""",
)
def _svg_fespecular_lighting() -> bytes:
    light = (
        '<feSpecularLighting specularExponent="128" kernelUnitLength="0.1">'
        '<fePointLight x="1" y="2" z="3"/></feSpecularLighting>'
    )
    return _svg(_filtered_rect(light * 4))


@_recipe(
    "svg_filter_fanin",
    "image/svg+xml",
    "memory",
    """One filter of 4000 feMerge primitives, each merging the previous
    result 64 times (256,000 references to named results, all kept alive).""",
)
def _svg_filter_fanin() -> bytes:
    primitives = ['<feFlood flood-color="red" result="m0"/>']
    primitives += [
        f'<feMerge result="m{i}">' + f'<feMergeNode in="m{i - 1}"/>' * 64 + "</feMerge>"
        for i in range(1, 4000)
    ]
    return _svg(_filtered_rect("".join(primitives)))


@_recipe(
    "svg_feimage_bomb",
    "image/svg+xml",
    "freeze",
    """Nested filters: element g_k's filter renders g_(k-1) twice through
    feImage, 24 levels deep: 2^24 renders of the innermost rect.""",
)
def _svg_feimage_bomb() -> bytes:
    body = '<defs><rect id="g0" width="100" height="100" fill="red"/>'
    for k in range(1, 25):
        body += (
            f'<filter id="f{k}" x="0" y="0" width="1" height="1">'
            f'<feImage xlink:href="#g{k - 1}" result="a"/>'
            f'<feImage xlink:href="#g{k - 1}" result="b"/>'
            '<feComposite in="a" in2="b"/></filter>'
            f'<rect id="g{k}" width="100" height="100" filter="url(#f{k})"/>'
        )
    return _svg(body + '</defs><use xlink:href="#g24"/>', 100, 100)


# ---------------------------------------------------------------- SVG structure


@_recipe(
    "svg_path_300000_segments",
    "image/svg+xml",
    "memory",
    """One path of 300,000 line segments zig-zagging across the picture,
    stroked with a 0.1-unit dash pattern (millions of dashes for cairo).""",
)
def _svg_path_segments() -> bytes:
    data = "M0 0" + "l999 1l-999 1" * 150_000
    return _svg(
        '<path fill="none" stroke="black" stroke-width="3" stroke-dasharray="0.1 0.1"'
        f' stroke-linejoin="round" d="{data}"/>'
    )


@_recipe(
    "svg_deep_groups",
    "image/svg+xml",
    "abort",
    """100,000 nested <g> (stack exhaustion in a recursive parser or
    renderer); libxml2 stops at depth 256 without XML_PARSE_HUGE.""",
)
def _svg_deep_groups() -> bytes:
    depth = 100_000
    return _svg("<g>" * depth + '<rect width="10" height="10"/>' + "</g>" * depth, 100, 100)


@_recipe(
    "svg_use_chain_deep",
    "image/svg+xml",
    "abort",
    """A chain of 10,000 <use>, each referencing the previous one (flat XML,
    so no parser depth limit): librsvg 2.54 recurses once per link and
    overflows its stack (SIGSEGV) from ~3,000.""",
)
def _svg_use_chain_deep() -> bytes:
    count = 10_000
    uses = "".join(f'<use id="u{i}" xlink:href="#u{i - 1}"/>' for i in range(1, count))
    body = f'<defs><rect id="u0" width="10" height="10"/>{uses}</defs>'
    return _svg(body + f'<use xlink:href="#u{count - 1}"/>', 100, 100)


@_recipe(
    "svg_use_bomb",
    "image/svg+xml",
    "freeze",
    """'Billion laughs' with <use>: 9 levels of groups of 10 uses of the level
    below, 10^9 rects (librsvg stops at 500,000 referenced elements).""",
)
def _svg_use_bomb() -> bytes:
    body = '<defs><rect id="a0" width="1" height="1"/>'
    for k in range(1, 10):
        body += f'<g id="a{k}">' + f'<use xlink:href="#a{k - 1}"/>' * 10 + "</g>"
    return _svg(body + '</defs><use xlink:href="#a9"/>', 100, 100)


@_recipe(
    "svg_entity_bomb",
    "image/svg+xml",
    "memory",
    """XML 'billion laughs': 10 levels of entities of 10 references each in
    the internal DTD subset, 10^9 copies of 'lol' in a <text> (libxml2
    refuses entity amplification).""",
)
def _svg_entity_bomb() -> bytes:
    entities = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{k} "' + f"&l{k - 1};" * 10 + '">' for k in range(1, 10)
    )
    return _svg("<text y='20'>&l9;</text>", 100, 100, prolog=f"<!DOCTYPE svg [{entities}]>")


@_recipe(
    "svg_wide_40000x100",
    "image/svg+xml",
    "size",
    """Intrinsic size 40000x100 (4 MP, under the pixel limit): a thumbnail as
    wide as the original is wider than cairo's 32767-pixel surfaces.""",
)
def _svg_wide() -> bytes:
    return _svg('<rect width="40000" height="100" fill="red"/>', 40000, 100)


@_recipe(
    "svg_claims_100000x100000",
    "image/svg+xml",
    "size",
    "Intrinsic size 100000x100000 (10 gigapixels) for one small rect.",
)
def _svg_claims_huge() -> bytes:
    return _svg('<rect width="10" height="10" fill="red"/>', 100000, 100000)


# ---------------------------------------------------------------- SVG active content

_SVG_ACTIVE: dict[str, tuple[str, str, str]] = {
    "svg_script": (
        "<script> element (would run in a browser showing the original).",
        '<script type="application/ecmascript">alert(document.cookie)</script>'
        '<rect width="10" height="10"/>',
        "",
    ),
    "svg_onload": (
        "onload= event handler attributes on the root and a rect.",
        '<rect width="10" height="10" onload="alert(1)" onclick="alert(2)"/>',
        "",
    ),
    "svg_foreign_object": (
        "<foreignObject> embedding XHTML with an iframe to an external site.",
        '<foreignObject width="100" height="100">'
        '<div xmlns="http://www.w3.org/1999/xhtml"><iframe src="http://hostile.invalid/"/>'
        "</div></foreignObject>",
        "",
    ),
    "svg_external_image": (
        "<image xlink:href> to http://hostile.invalid/ and to file:///etc/passwd"
        " (SSRF / local file read if resolved).",
        '<image width="10" height="10" xlink:href="http://hostile.invalid/a.png"/>'
        '<image width="10" height="10" href="file:///etc/passwd"/>',
        "",
    ),
    "svg_external_use": (
        "<use> of an element in an external document, and a CSS @import.",
        "<style>@import url(http://hostile.invalid/a.css);</style>"
        '<use xlink:href="http://hostile.invalid/a.svg#x"/>',
        "",
    ),
    "svg_xml_stylesheet": (
        "<?xml-stylesheet href='http://hostile.invalid/...'?> processing"
        " instruction (no XML declaration, so the SVG sniffer still matches).",
        '<rect width="10" height="10"/>',
        '<?xml-stylesheet href="http://hostile.invalid/s.css" type="text/css"?>\n',
    ),
    "svg_xxe_file": (
        "External entity (XXE) reading file:///etc/passwd into a <text>.",
        "<text y='20'>&xxe;</text>",
        '<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n',
    ),
}


def _active_builder(body: str, prolog: str) -> Callable[[], bytes]:
    def build() -> bytes:
        if "onload" in body:
            return _svg(body, 100, 100).replace(b"<svg ", b'<svg onload="alert(0)" ', 1)
        return _svg(body, 100, 100, prolog=prolog)

    return build


for _name, (_note, _body, _prolog) in _SVG_ACTIVE.items():
    _recipe(_name, "image/svg+xml", "active", _note)(_active_builder(_body, _prolog))


# ---------------------------------------------------------------- sniffer backtracking


@_recipe(
    "sniff_svg_comments_26",
    "image/svg+xml",
    "freeze",
    """b'<!---->' * 26 + b'x': the SVG sniffer's '(?:<!--.*?-->\\s*|...)*<svg'
    tries every way to group the comments (2^26) before failing.""",
)
def _sniff_comments_26() -> bytes:
    return b"<!---->" * 26 + b"x"


@_recipe(
    "sniff_svg_comments_32",
    "image/svg+xml",
    "freeze",
    "b'<!---->' * 32 + b'x': as sniff_svg_comments_26, 64 times the work.",
)
def _sniff_comments_32() -> bytes:
    return b"<!---->" * 32 + b"x"


@_recipe(
    "sniff_svg_doctypes_30",
    "image/svg+xml",
    "freeze",
    """b'<!DOCTYPE a[]>' * 30 + b'x': each DOCTYPE's '\\[.*?\\]' can also
    swallow the following ones (2^30 ways) before the sniffer fails.""",
)
def _sniff_doctypes_30() -> bytes:
    return b"<!DOCTYPE a[]>" * 30 + b"x"


@_recipe(
    "pdf_mediabox_backtrack",
    "application/pdf",
    "freeze",
    """~2 KB PDF: '%PDF-1.4' then 6 '/MediaBox [' each followed by a run of
    300 digits and no ']': a MediaBox regex of four '\\s*(-?[\\d.]+)' tries
    every split of each run (~n^4/24).  Reached only where PDF is accepted.""",
)
def _pdf_mediabox_backtrack() -> bytes:
    fragment = b"/MediaBox [ " + b"1" * 300 + b" "
    return b"%PDF-1.4\n1 0 obj\n<< /Type /Page " + fragment * 6 + b">>\nendobj\n%%EOF\n"


# ---------------------------------------------------------------- raster bombs


@_recipe(
    "gif_100000_frames",
    "image/gif",
    "memory",
    f"""A 1x1 GIF of {GIF_FRAMES:,} frames (graphic control extension, image
    descriptor and 2 bytes of LZW each, ~2.3 MB): every frame becomes an
    ImageMagick Image when the file is pinged or read whole.""",
)
def _gif_frames() -> bytes:
    return _gif_screen(1, 1) + _gif_frame(1, 1) * GIF_FRAMES + b"\x3b"


@_recipe(
    "tiff_200000_pages",
    "image/tiff",
    "memory",
    f"""A TIFF of {TIFF_PAGES:,} 1x1 grey pages: a chain of IFDs (9 entries,
    114 bytes each, ~23 MB) all pointing at the same strip byte.""",
)
def _tiff_pages() -> bytes:
    strip_offset = 8
    first_ifd = 10  # header, strip byte, padding byte
    ifd_size = len(_tiff_ifd(_tiff_grey_entries(1, 1, strip_offset), 0))
    head = _tiff_ifd(_tiff_grey_entries(1, 1, strip_offset), 0)[:-4]
    ifds = [
        head + struct.pack("<I", first_ifd + (index + 1) * ifd_size)
        for index in range(TIFF_PAGES - 1)
    ]
    ifds.append(head + b"\x00\x00\x00\x00")
    return b"II*\x00" + struct.pack("<I", first_ifd) + b"\x80\x00" + b"".join(ifds)


@functools.cache
def _text_bomb_stream() -> bytes:
    return _deflate_repeated(ord(" "), TEXT_BOMB_BYTES)


@_recipe(
    "png_ztxt_bomb",
    "image/png",
    "memory",
    f"""A valid 1x1 PNG with a zTXt chunk whose text inflates to
    {TEXT_BOMB_BYTES / 2**30:.2f} GiB of spaces (~1.9 MB file).""",
)
def _png_ztxt_bomb() -> bytes:
    text = _png_chunk(b"zTXt", b"Comment\x00\x00" + _text_bomb_stream())
    return _png(_ihdr(1, 1), text, _IDAT_1X1)


@_recipe(
    "png_itxt_bomb",
    "image/png",
    "memory",
    f"""A valid 1x1 PNG with a compressed iTXt chunk (XML:com.adobe.xmp) whose
    text inflates to {TEXT_BOMB_BYTES / 2**30:.2f} GiB (~1.9 MB file).""",
)
def _png_itxt_bomb() -> bytes:
    body = b"XML:com.adobe.xmp\x00\x01\x00en\x00\x00" + _text_bomb_stream()
    return _png(_ihdr(1, 1), _png_chunk(b"iTXt", body), _IDAT_1X1)


@_recipe(
    "png_flood_20000x20000",
    "image/png",
    "memory",
    """Classic pixel flood: a 20000x20000 8-bit grey PNG of zeros, 400 MB of
    image data deflated into ~390 KB.""",
)
def _png_flood_big() -> bytes:
    return _png_flood(20000, 20000)


@_recipe(
    "png_flood_7071x7071",
    "image/png",
    "memory",
    """A 7071x7071 (49,999,041 px, just under the default 50 MP limit) grey
    PNG of zeros, ~49 KB: accepted by the size check, ~400 MB of Q16 pixels.""",
)
def _png_flood_limit() -> bytes:
    return _png_flood(7071, 7071)


# ---------------------------------------------------------------- size claims


@_recipe(
    "png_claims_100000x100000",
    "image/png",
    "size",
    "IHDR claims 100000x100000 (8-bit grey); the image data is one row.",
)
def _png_claims() -> bytes:
    return _png(_ihdr(100000, 100000), _png_chunk(b"IDAT", zlib.compress(b"\x00" * 100001)))


@_recipe(
    "jpeg_claims_65535x65535",
    "image/jpeg",
    "size",
    "Baseline greyscale JPEG whose SOF0 claims 65535x65535 (the maximum), 16 bytes of scan.",
)
def _jpeg_claims() -> bytes:
    return _jpeg(65535, 65535)


@_recipe(
    "gif_claims_65535x65535",
    "image/gif",
    "size",
    "GIF whose logical screen and only image descriptor claim 65535x65535; 1 pixel of LZW.",
)
def _gif_claims() -> bytes:
    return _gif_screen(65535, 65535) + _gif_frame(65535, 65535) + b"\x3b"


@_recipe(
    "webp_vp8x_claims_100000x100000",
    "image/webp",
    "size",
    "Extended WebP whose VP8X canvas claims 100000x100000, then a VP8L header of 1x1.",
)
def _webp_vp8x_claims() -> bytes:
    vp8x = b"\x00\x00\x00\x00" + (100000 - 1).to_bytes(3, "little") * 2
    return _webp((b"VP8X", vp8x), (b"VP8L", _vp8l_header(1, 1)))


@_recipe(
    "webp_vp8l_claims_16384x16384",
    "image/webp",
    "size",
    "Lossless WebP whose VP8L header claims 16384x16384 (the 14-bit maximum), no image data.",
)
def _webp_vp8l_claims() -> bytes:
    return _webp((b"VP8L", _vp8l_header(16384, 16384)))


@_recipe(
    "bmp_claims_100000x100000",
    "image/bmp",
    "size",
    "24-bit BMP (BITMAPINFOHEADER) claiming 100000x100000, with 4 bytes of pixels.",
)
def _bmp_claims() -> bytes:
    return _bmp(100000, 100000)


@_recipe(
    "bmp_height_int_min",
    "image/bmp",
    "size",
    """BMP of width 1 and height -2^31 (top-down): negating the height
    overflows a 32-bit int.""",
)
def _bmp_int_min() -> bytes:
    return _bmp(1, -(2**31))


@_recipe(
    "ico_png_claims_100000x100000",
    "image/vnd.microsoft.icon",
    "size",
    "ICO with one (256x256) entry holding a PNG whose IHDR claims 100000x100000.",
)
def _ico_png_claims() -> bytes:
    return _ico([(0, 0, _png_claims())])


@_recipe(
    "ico_bmp_claims_65535x65535",
    "image/vnd.microsoft.icon",
    "size",
    """ICO with one entry holding a DIB (BITMAPINFOHEADER) claiming 65535 wide
    and 131070 high (65535 after ICO's doubling for the mask), 32 bits.""",
)
def _ico_bmp_claims() -> bytes:
    dib = struct.pack("<IiiHHIIiiII", 40, 65535, 2 * 65535, 1, 32, 0, 0, 0, 0, 0, 0)
    return _ico([(0, 0, dib + b"\x00" * 16)])


@_recipe(
    "tiff_claims_100000x100000",
    "image/tiff",
    "size",
    "One-page grey TIFF whose IFD claims 100000x100000 in one strip of 1 byte.",
)
def _tiff_claims() -> bytes:
    return (
        b"II*\x00"
        + struct.pack("<I", 10)
        + b"\x80\x00"
        + _tiff_ifd(_tiff_grey_entries(100000, 100000, 8), 0)
    )


# ---------------------------------------------------------------- malformed headers


@_recipe(
    "jpeg_truncated_after_sof",
    "image/jpeg",
    "abort",
    "JPEG cut right after its SOF0 (64x64): no Huffman tables, no scan, no EOI.",
)
def _jpeg_truncated() -> bytes:
    return b"\xff\xd8" + _JPEG_DQT + _jpeg_sof(64, 64)


@_recipe(
    "png_ihdr_bad_length",
    "image/png",
    "abort",
    """PNG whose IHDR length field says 0x7fffffff (not 13); the 13 bytes of
    a 1x1 header and a valid CRC follow, then IDAT and IEND.""",
)
def _png_ihdr_bad_length() -> bytes:
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0), length=0x7FFFFFFF)
    return _png(ihdr, _IDAT_1X1)


@_recipe(
    "gif_zero_screen",
    "image/gif",
    "abort",
    "GIF whose logical screen and image descriptor are 0x0 (a header without pixels).",
)
def _gif_zero() -> bytes:
    return _gif_screen(0, 0) + _gif_frame(0, 0) + b"\x3b"


@_recipe(
    "bmp_negative_size",
    "image/bmp",
    "abort",
    "BMP of width -16 and height -16 (a negative width is invalid).",
)
def _bmp_negative() -> bytes:
    return _bmp(-16, -16)


@_recipe(
    "bmp_zero_size",
    "image/bmp",
    "abort",
    "BMP of width 0 and height 0.",
)
def _bmp_zero() -> bytes:
    return _bmp(0, 0)


@_recipe(
    "ico_count_65535",
    "image/vnd.microsoft.icon",
    "abort",
    "ICO header with a directory count of 65535 and no directory entry at all.",
)
def _ico_count() -> bytes:
    return struct.pack("<HHH", 0, 1, 65535)


@_recipe(
    "tiff_ifd_loop",
    "image/tiff",
    "freeze",
    "1x1 grey TIFF whose only IFD's next-IFD offset points to itself.",
)
def _tiff_loop() -> bytes:
    return (
        b"II*\x00"
        + struct.pack("<I", 10)
        + b"\x80\x00"
        + _tiff_ifd(_tiff_grey_entries(1, 1, 8), 10)
    )


@_recipe(
    "tiff_ifd_cycle",
    "image/tiff",
    "freeze",
    "1x1 grey TIFF of two IFDs pointing at each other (A -> B -> A).",
)
def _tiff_cycle() -> bytes:
    size = len(_tiff_ifd(_tiff_grey_entries(1, 1, 8), 0))
    first, second = 10, 10 + size
    return (
        b"II*\x00"
        + struct.pack("<I", first)
        + b"\x80\x00"
        + _tiff_ifd(_tiff_grey_entries(1, 1, 8), second)
        + _tiff_ifd(_tiff_grey_entries(1, 1, 8), first)
    )
