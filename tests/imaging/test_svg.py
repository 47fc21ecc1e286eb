from __future__ import annotations

from pathlib import Path

import pytest
from images import msl_payload, png, svg
from wand.image import Image

from imageattach.exceptions import CorruptImageError
from imageattach.imaging import make_thumbnail, probe
from imageattach.imaging.sniff import looks_like_svg


@pytest.mark.parametrize(
    "data",
    [
        svg(),
        b"\xef\xbb\xbf<svg xmlns='http://www.w3.org/2000/svg'/>",
        b'<?xml version="1.0"?>\n<!-- made by hand -->\n<!DOCTYPE svg [<!ENTITY a "b">]>\n<svg>',
    ],
    ids=["fixture", "bom", "prolog"],
)
def test_recognised(data: bytes) -> None:
    assert looks_like_svg(data)


@pytest.mark.parametrize("data", [msl_payload(), b"<html><svg></svg></html>", png()])
def test_not_svg(data: bytes) -> None:
    assert not looks_like_svg(data)


def test_units_resolve_at_96_dpi() -> None:
    data = b'<svg xmlns="http://www.w3.org/2000/svg" width="1in" height="0.5in"/>'
    assert (probe(data).width, probe(data).height) == (96, 48)


def test_external_files_are_not_loaded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png(10, 10, color="lime"))
    data = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="10" height="10">'
        f'<image width="10" height="10" xlink:href="file://{secret}"/>'
        f'<image width="10" height="10" href="{secret}"/></svg>'
    ).encode()
    thumbnail, _ = make_thumbnail(data, width=10, height=10)
    with Image(blob=thumbnail) as image:
        assert image[2, 2].alpha == 0  # nothing was drawn


def test_entity_expansion_bomb_is_refused() -> None:
    entities = '<!ENTITY a0 "xxxxxxxxxx">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    data = (
        f'<?xml version="1.0"?><!DOCTYPE svg [{entities}]>'
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&a9;</text></svg>'
    ).encode()
    with pytest.raises(CorruptImageError):
        make_thumbnail(data, width=10, height=10)
