"""Linear-time sniffers for text formats: is it an SVG, and which
``/MediaBox`` entries does a PDF give.

Both used to be regular expressions, and both backtracked exponentially (or
with a high polynomial degree) on crafted input: ``b"<!---->" * 26 + b"x"``
took seconds to *not* look like an SVG.  They are hand-written scanners
here, so that their cost is plainly linear in the input and stays so when
the grammar is touched: every byte is looked at a bounded number of times,
mostly by :meth:`bytes.find`.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["looks_like_svg", "pdf_media_boxes"]

#: How much of the data the SVG sniffer looks at.
SVG_WINDOW = 65536

#: The bytes Python's ``re`` means by ``\s`` in a bytes pattern (and
#: :meth:`bytes.split` by whitespace).
_SPACE = frozenset(b" \t\n\r\x0b\x0c")
_SPACE_OR_GT = _SPACE | {ord(">")}
_QUESTION, _CLOSE_BRACKET = ord("?"), ord("]")


def _skip_space(data: bytes, position: int) -> int:
    while position < len(data) and data[position] in _SPACE:
        position += 1
    return position


def _after_prolog(data: bytes) -> int | None:
    """Where the markup after the optional BOM, whitespace and
    ``<?xml ...?>`` declaration starts; ``None`` for a broken declaration."""
    position = _skip_space(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0)
    if not data.startswith(b"<?xml", position):
        return position
    end = data.find(b">", position + 5)  # the declaration cannot hold a ">"
    if end < position + 6 or data[end - 1] != _QUESTION:
        return None
    return end + 1


def looks_like_svg(data: bytes) -> bool:
    """Whether ``data`` starts like an SVG document (root element ``<svg``).

    Looks at the first 64 KiB: an optional UTF-8 BOM, whitespace, an optional
    ``<?xml ...?>`` declaration, then comments and ``<!DOCTYPE ...>``
    declarations (with an optional ``[...]`` internal subset) separated by
    whitespace, then ``<svg`` followed by whitespace or ``>``.

    The grammar is ambiguous on purpose, as the regular expression it
    replaces was: a comment may end at *any* later ``-->`` and an internal
    subset at any later ``]`` followed by ``>``.  So this tracks every way
    of reading the prolog at once, in one pass over the ``>`` bytes (every
    item ends with one): a comment or subset, once opened, can close at every
    later candidate, so only the earliest one opened matters.
    """
    data = data[:SVG_WINDOW]
    start = _after_prolog(data)
    if start is None:
        return False
    comment_from: int | None = None  # where a closing "-->" may start
    subset_from: int | None = None  # where a closing "]" may be
    boundary, reached = start, True  # a position just after a ">" (or the start)
    while True:
        reached_next = False  # whether the item read here ends at the next boundary
        if reached:
            position = _skip_space(data, boundary)
            if data.startswith(b"<svg", position):
                if position + 4 < len(data) and data[position + 4] in _SPACE_OR_GT:
                    return True
            elif data.startswith(b"<!--", position):
                if comment_from is None:
                    comment_from = position + 4
            elif data.startswith(b"<!DOCTYPE", position):
                # Its name part runs to the first "[" or ">"; no ">" lies
                # between the boundary and here, so that ">" is the next one.
                end = data.find(b">", position + 9)
                bracket = data.find(b"[", position + 9, len(data) if end < 0 else end)
                if bracket >= 0:
                    if subset_from is None:
                        subset_from = bracket + 1
                else:
                    reached_next = end >= 0
        if comment_from is None and subset_from is None and not reached_next:
            return False  # nothing is open: no later boundary can be reached
        end = data.find(b">", boundary)
        if end < 0:
            return False
        boundary = end + 1
        reached = reached_next or _open_item_ends(data, end, comment_from, subset_from)


def _open_item_ends(
    data: bytes, end: int, comment_from: int | None, subset_from: int | None
) -> bool:
    """Whether the open comment can end with the ">" at ``end`` (a "-->"
    starting at or after ``comment_from``), or the open internal subset can
    (a "]" at or after ``subset_from``, then only whitespace)."""
    if comment_from is not None and comment_from <= end - 2 and data[end - 2 : end] == b"--":
        return True
    if subset_from is None:
        return False
    position = end - 1
    while position >= subset_from and data[position] in _SPACE:
        position -= 1
    return position >= subset_from and data[position] == _CLOSE_BRACKET


_NUMBER_BYTES = b"-.0123456789"
_BOX_BYTES = _NUMBER_BYTES + bytes(_SPACE)


def pdf_media_boxes(data: bytes) -> Iterator[tuple[float, float, float, float]]:
    """Every ``/MediaBox [left bottom right top]`` in a PDF's bytes, in order.

    What ``/MediaBox\\s*\\[`` then four ``\\s*(-?[\\d.]+)`` then ``\\s*\\]``
    matched, including how that regular expression split numbers written
    without a space between them (greedily: ``[0 0 612792]`` is 0, 0, 61279,
    2); boxes whose numbers are not floats (``1.2.3``) are skipped.  Numbers
    too large for a float are ``inf``.  Boxes given by reference
    (``/MediaBox 5 0 R``) are not found.
    """
    position = data.find(b"/MediaBox")
    while position >= 0:
        following = data.find(b"/MediaBox", position + 9)
        # A box holds no "/", so it ends before the next /MediaBox: each part
        # of the data is searched once.
        close = data.find(b"]", position + 9, len(data) if following < 0 else following)
        if close >= 0:
            box = _media_box(data[position + 9 : close])
            if box is not None:
                yield box
        position = following


def _media_box(text: bytes) -> tuple[float, float, float, float] | None:
    """The box from what lies between ``/MediaBox`` and its ``]``."""
    text = text.lstrip()
    if not text.startswith(b"[") or text.translate(None, _BOX_BYTES) != b"[":
        return None
    # Each word is one or more numbers; a "-" can only start one.
    pieces = text[1:].replace(b"-", b" -").split()
    if any(piece == b"-" for piece in pieces):
        return None
    numbers = _split_numbers(pieces, 4)
    if numbers is None:
        return None
    try:
        left, bottom, right, top = (float(number) for number in numbers)
    except ValueError:
        return None
    return left, bottom, right, top


def _split_numbers(pieces: list[bytes], count: int) -> list[bytes] | None:
    """Cut ``pieces`` (each ``-?[\\d.]+``) into exactly ``count`` numbers the
    way a backtracking ``(-?[\\d.]+)`` repeated ``count`` times does: each
    number as long as the ones after it allow."""
    digits = [len(piece.lstrip(b"-")) for piece in pieces]
    if not len(pieces) <= count <= sum(digits):
        return None
    numbers: list[bytes] = []
    for index, piece in enumerate(pieces):
        # As few numbers from this piece as the later pieces allow: the
        # first one is then the longest, the others one digit each.
        cuts = max(0, count - len(numbers) - 1 - sum(digits[index + 1 :]))
        head = len(piece) - cuts
        numbers.append(piece[:head])
        numbers.extend(piece[head + i : head + i + 1] for i in range(cuts))
    return numbers
