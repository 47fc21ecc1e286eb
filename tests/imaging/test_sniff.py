"""The linear-time SVG and PDF ``/MediaBox`` sniffers: they accept what the
regular expressions they replace accepted, and stay fast on the inputs that
made those backtrack for ever."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from images import msl_payload, not_an_image, pdf, png, svg

from imageattach.imaging.sniff import SVG_WINDOW, looks_like_svg, pdf_media_boxes

#: The regular expressions the sniffers replace, kept here as a reference
#: only: they backtrack exponentially, so they only see short inputs.
_OLD_SVG_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?"
    rb"(?:<!--.*?-->\s*|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)*<svg[\s>]",
    re.DOTALL,
)
_OLD_NUMBER = rb"\s*(-?[\d.]+)"
_OLD_MEDIABOX = re.compile(rb"/MediaBox\s*\[" + _OLD_NUMBER * 4 + rb"\s*\]")

#: A bound no linear scan of a megabyte comes near, and no exponential one meets.
_FAST = 1.0

#: Per-input time bound for the fuzzing: far above a linear scan of a few KB.
_FUZZ = settings(deadline=500, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def _old_looks_like_svg(data: bytes) -> bool:
    return _OLD_SVG_START.match(data[:SVG_WINDOW]) is not None


def _old_media_boxes(data: bytes) -> list[tuple[float, ...]]:
    boxes = []
    for match in _OLD_MEDIABOX.finditer(data):
        try:
            boxes.append(tuple(float(value) for value in match.groups()))
        except ValueError:  # the old code raised here
            continue
    return boxes


def _elapsed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# -- SVG ---------------------------------------------------------------------

_SVG_CASES = [
    svg(),
    b"<svg>",
    b"<svg\n xmlns='http://www.w3.org/2000/svg'/>",
    b"\xef\xbb\xbf<svg xmlns='http://www.w3.org/2000/svg'/>",
    b"\xef\xbb\xbf \n\t<svg>",
    b'<?xml version="1.0"?>\n<!-- made by hand -->\n<!DOCTYPE svg [<!ENTITY a "b">]>\n<svg>',
    b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<svg width="1" height="1"/>',
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg>',
    b"<!-- one --> <!-- two -->\n<!DOCTYPE svg>\n<svg>",
    b"<!-- a comment holding --> and more --><svg>",
    b"<!-- --><svgx --><svg>",
    b"<!DOCTYPE svg [ <!ENTITY x '>'> ] ><svg>",
    b"<!DOCTYPE svg [ ] > ] ><svg>",
    b"<!DOCTYPE svg [<!-- ]> -->]><svg\t",
    b"<!---->" * 5 + b"<svg>",
    b"<?xml?><svg>",
    b"\x0b\x0c<svg>",
    # Not SVG:
    b"",
    b"<svg",
    b"<svgx>",
    b"<SVG>",
    b"<!-- unclosed <svg>",
    b"<!--><svg>",
    b"<!DOCTYPE svg [ <svg>",
    b"<!doctype svg><svg>",
    b"<?xml><svg>",
    b"<?xml version='1.0'><svg>",
    b"\xef\xbb\xbf\xef\xbb\xbf<svg>",
    b"\x1c<svg>",
    b"<html><svg></svg></html>",
    b"<!---->" * 12 + b"x",
    b"<!--" + b"a" * SVG_WINDOW + b"--><svg>",  # the <svg is past the window
    msl_payload(),
    not_an_image(),
    png(8, 8),
    pdf(),
]


@pytest.mark.parametrize("data", _SVG_CASES)
def test_svg_same_as_the_regular_expression(data: bytes) -> None:
    assert looks_like_svg(data) is _old_looks_like_svg(data)


def test_svg_cases_cover_both_answers() -> None:
    answers = [looks_like_svg(data) for data in _SVG_CASES]
    assert answers.count(True) >= 15 and answers.count(False) >= 15


#: The pieces the SVG prolog grammar is made of, and near misses.
_SVG_TOKENS = [
    b"\xef\xbb\xbf", b" ", b"\n", b"\x0b", b"\x1c", b"x", b"<", b"!", b"-", b"?", b">",
    b"[", b"]", b"<!--", b"-->", b"--", b"<!DOCTYPE", b"<!DOCTYPE svg", b"<?xml", b"?>",
    b'<?xml version="1.0"?>', b"<svg", b"<svg>", b"<svg ", b"<svgx", b"<!---->",
]  # fmt: skip


@_FUZZ
@given(st.lists(st.sampled_from(_SVG_TOKENS), max_size=14).map(b"".join))
def test_svg_same_as_the_regular_expression_on_token_soup(data: bytes) -> None:
    assert looks_like_svg(data) is _old_looks_like_svg(data)


@_FUZZ
@given(st.binary(max_size=200))
def test_svg_same_as_the_regular_expression_on_bytes(data: bytes) -> None:
    assert looks_like_svg(data) is _old_looks_like_svg(data)


@_FUZZ
@given(
    st.lists(st.sampled_from(_SVG_TOKENS), max_size=200).map(b"".join),
    st.binary(max_size=2000),
)
def test_svg_never_raises(tokens: bytes, tail: bytes) -> None:
    assert looks_like_svg(tokens + tail) in (True, False)


@pytest.mark.parametrize(
    "data",
    [
        b"<!---->" * 10_000 + b"x",
        b"<!--" + b"-->" * 30_000 + b"x",
        b"<!-- " + b"--> " * 20_000,
        b"<!DOCTYPE a [" + b"]>" * 30_000 + b"x",
        b"<!DOCTYPE a [" + b"] \n>" * 15_000 + b"x",
        (b"<!-- -->" + b"<!DOCTYPE a [] >") * 3_000 + b"x",
        b"<!--" + b" " * 60_000 + b"-->x",
        b"<!DOCTYPE" + b" " * 60_000,
        b"\n" * 1_000_000,
        b"<!---->" * 200_000,
    ],
    ids=[
        "comments",
        "comment-ends",
        "spaced-comment-ends",
        "subset-ends",
        "spaced-subset-ends",
        "mixed",
        "long-comment",
        "long-doctype",
        "whitespace",
        "megabytes-of-comments",
    ],
)
def test_svg_backtracking_inputs_are_fast(data: bytes) -> None:
    assert _elapsed(lambda: looks_like_svg(data)) < _FAST
    assert not looks_like_svg(data)


def test_svg_found_after_many_comments() -> None:
    data = b"<!---->" * 9_000 + b"<svg>"
    assert _elapsed(lambda: looks_like_svg(data)) < _FAST
    assert looks_like_svg(data)


# -- PDF /MediaBox -------------------------------------------------------------

_PDF_CASES = [
    pdf(),
    pdf(612, 792),
    b"/MediaBox[0 0 612 792]",
    b"/MediaBox [ 0 0 612 792 ]",
    b"/MediaBox\n[\n-10.5\t-.5 612. 792.25\r]",
    b"<< /MediaBox [0 0 100 200] >> << /MediaBox [0 0 300 400] >>",
    b"/MediaBox [0 0 612792]",  # glued numbers: split as the regex did
    b"/MediaBox [1-2-3-4]",
    b"/MediaBox [12345]",
    b"/MediaBox [-12-34]",
    b"/MediaBox [1.2.3 0 0 0]",  # not floats: skipped (the old code raised)
    b"/MediaBox [. . . .] /MediaBox [0 0 1 1]",
    b"/MediaBox [0 0 1 1 1]",
    b"/MediaBox [0 0 1]",
    b"/MediaBox [0 0 1 1",
    b"/MediaBox [0 0 1 --1]",
    b"/MediaBox [0 0 1 1-]",
    b"/MediaBox 5 0 R",
    b"/MediaBox [0 0 1 [1]]",
    b"/MediaBox [0 /MediaBox [0 0 5 5]",
    b"/MediaBox ] [0 0 1 1]",
    b"/Mediabox [0 0 1 1]",
    b"/MediaBox\x1c[0 0 1 1]",
    b"/MediaBox [0\x1c0 1 1]",
    b"",
]


@pytest.mark.parametrize("data", _PDF_CASES)
def test_media_boxes_same_as_the_regular_expression(data: bytes) -> None:
    assert list(pdf_media_boxes(data)) == _old_media_boxes(data)


def test_media_boxes_of_a_pdf() -> None:
    assert list(pdf_media_boxes(pdf(200, 100))) == [(0.0, 0.0, 200.0, 100.0)]
    assert list(pdf_media_boxes(b"/MediaBox [0 0 612792]")) == [(0.0, 0.0, 61279.0, 2.0)]
    assert list(pdf_media_boxes(b"/MediaBox [1.2.3 0 0 0]")) == []
    assert list(pdf_media_boxes(b"/MediaBox [0 0 " + b"9" * 400 + b" 1]")) == [
        (0.0, 0.0, float("inf"), 1.0)
    ]


_PDF_TOKENS = [
    b"/MediaBox", b"/MediaBox [", b"[", b"]", b" ", b"\n", b"\x0b", b"\x1c", b"-", b".",
    b"0", b"7", b"12", b"3.5", b"-4", b"x", b"/", b"R",
]  # fmt: skip


@_FUZZ
@given(st.lists(st.sampled_from(_PDF_TOKENS), max_size=20).map(b"".join))
def test_media_boxes_same_as_the_regular_expression_on_token_soup(data: bytes) -> None:
    assert list(pdf_media_boxes(data)) == _old_media_boxes(data)


@_FUZZ
@given(
    st.lists(st.sampled_from(_PDF_TOKENS), max_size=300).map(b"".join),
    st.binary(max_size=2000),
)
def test_media_boxes_never_raise(tokens: bytes, tail: bytes) -> None:
    for box in pdf_media_boxes(tokens + tail + tokens):
        assert len(box) == 4 and all(isinstance(value, float) for value in box)


_MEGABYTE = 1 << 20


@pytest.mark.parametrize(
    "data",
    [
        b"/MediaBox [" * (_MEGABYTE // 11),
        (b"/MediaBox [" + b"1 2.3 " * 5) * (_MEGABYTE // 41),
        (b"/MediaBox [1 2 3 4 5 6" + b"." * 20) * (_MEGABYTE // 42),
        b"/MediaBox [" + b"1." * (_MEGABYTE // 2),
        b"/MediaBox [" + b"1 " * (_MEGABYTE // 2),
        b"/MediaBox [" + b"1 " * (_MEGABYTE // 2) + b"]",
        b"/MediaBox [" + b"-1" * (_MEGABYTE // 2) + b"]",
        b"/MediaBox [" + b"9" * _MEGABYTE + b"]",
        b"/MediaBox" + b" " * _MEGABYTE,
    ],
    ids=[
        "open-boxes",
        "unclosed-numbers",
        "dots",
        "one-long-number-run",
        "many-numbers",
        "many-numbers-closed",
        "many-negatives-closed",
        "one-huge-number",
        "whitespace",
    ],
)
def test_media_box_backtracking_inputs_are_fast(data: bytes) -> None:
    assert len(data) >= _MEGABYTE - 64
    assert _elapsed(lambda: list(pdf_media_boxes(data))) < _FAST


def test_many_boxes_are_all_found_fast() -> None:
    data = b"/MediaBox [0 0 612 792] " * 40_000
    start = time.perf_counter()
    boxes = list(pdf_media_boxes(data))
    assert time.perf_counter() - start < _FAST
    assert boxes == [(0.0, 0.0, 612.0, 792.0)] * 40_000
