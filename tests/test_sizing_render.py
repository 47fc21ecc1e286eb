"""The size rule of rendered variants (:func:`imageattach.sizing.render_size`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageattach.exceptions import ArgumentError, ArgumentTypeError, ImageTooLargeError
from imageattach.sizing import render_size, thumbnail_size

sides = st.integers(min_value=1, max_value=20_000)
boxes = st.integers(min_value=1, max_value=20_000)


@given(sides, sides, boxes, boxes)
def test_cover_without_upscale_never_exceeds_the_original_and_keeps_the_box_shape(
    ow: int, oh: int, w: int, h: int
) -> None:
    width, height = render_size(ow, oh, width=w, height=h, fit="cover")
    assert 1 <= width <= min(w, ow)
    assert 1 <= height <= min(h, oh)
    if (width, height) != (w, h):
        # Scaled down: one side is the original's, the other within rounding
        # of the box's aspect ratio (each side is at least one pixel).
        assert width == ow or height == oh
        assert abs(width * h - height * w) <= max(w, h)


@given(sides, sides, boxes, boxes)
def test_cover_with_upscale_is_the_exact_box(ow: int, oh: int, w: int, h: int) -> None:
    assert render_size(ow, oh, width=w, height=h, fit="cover", upscale=True) == (w, h)


@given(sides, sides, st.one_of(st.none(), boxes), st.one_of(st.none(), boxes), st.booleans())
def test_contain_fits_the_box_and_keeps_the_aspect_ratio(
    ow: int, oh: int, w: int | None, h: int | None, upscale: bool
) -> None:
    if w is None and h is None:
        return
    width, height = render_size(ow, oh, width=w, height=h, upscale=upscale)
    if not upscale:
        assert width <= ow and height <= oh
    if (width, height) != (ow, oh):
        assert w is None or width <= w
        assert h is None or height <= h
        assert width == w or height == h  # one side binds
    # The aspect ratio within the rounding of one side (half a pixel, or
    # the one-pixel minimum).
    assert abs(width * oh - height * ow) <= max(ow, oh)


@given(sides, sides, boxes)
def test_contain_by_width_matches_thumbnail_size_when_it_shrinks(ow: int, oh: int, w: int) -> None:
    expected = thumbnail_size(ow, oh, width=w) if w < ow else (ow, oh)
    assert render_size(ow, oh, width=w, height=None) == expected
    assert render_size(ow, oh, width=w, height=None, upscale=True) == thumbnail_size(
        ow, oh, width=w
    )


@given(sides, sides, boxes)
def test_contain_by_height_matches_thumbnail_size(ow: int, oh: int, h: int) -> None:
    assert render_size(ow, oh, width=None, height=h, upscale=True) == thumbnail_size(
        ow, oh, height=h
    )


def test_examples() -> None:
    assert render_size(4000, 3000, width=300, height=None) == (300, 225)
    assert render_size(4000, 3000, width=300, height=300) == (300, 225)
    assert render_size(3000, 4000, width=300, height=300) == (225, 300)
    assert render_size(4000, 3000, width=150, height=150, fit="cover") == (150, 150)
    assert render_size(400, 300, width=800, height=200, fit="cover") == (400, 100)
    assert render_size(400, 300, width=1000, height=1000, fit="cover") == (300, 300)
    assert render_size(1, 1, width=300, height=100, fit="cover") == (1, 1)
    assert render_size(400, 300, width=800, height=None) == (400, 300)
    assert render_size(400, 300, width=800, height=None, upscale=True) == (800, 600)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"width": None, "height": None}, ArgumentTypeError),
        ({"width": 100, "height": None, "fit": "cover"}, ArgumentTypeError),
        ({"width": 100, "height": 100, "fit": "fill"}, ArgumentError),
        ({"width": 0, "height": None}, ArgumentError),
        ({"width": 1.5, "height": None}, ArgumentTypeError),
        ({"width": True, "height": None}, ArgumentTypeError),
        ({"width": 10**7, "height": None}, ImageTooLargeError),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        render_size(400, 300, **kwargs)  # type: ignore[arg-type]


def test_a_bad_original_size() -> None:
    with pytest.raises(ArgumentError):
        render_size(0, 300, width=10, height=None)
