"""The fixed content type table."""

from __future__ import annotations

from imageattach.filetypes import EXTENSIONS, guess_mimetype
from imageattach.middleware.mimetypes import CONTENT_TYPES


def test_every_extension_the_store_writes_is_served_as_its_type() -> None:
    for extension in set(EXTENSIONS.values()):
        assert CONTENT_TYPES[extension] == guess_mimetype(extension)


def test_the_spec_types_are_all_there() -> None:
    expected = {
        "jpeg", "png", "gif", "webp", "avif", "svg+xml", "pdf", "bmp", "tiff", "heic", "jxl",
    }  # fmt: skip
    subtypes = {content_type.split("/")[1] for content_type in CONTENT_TYPES.values()}
    assert expected <= subtypes
    assert CONTENT_TYPES[".ico"].endswith("icon")
    assert CONTENT_TYPES[".jpe"] == CONTENT_TYPES[".jpg"] == "image/jpeg"


def test_no_text_or_script_types() -> None:
    assert not any(
        t.startswith("text/") or "javascript" in t or "html" in t for t in CONTENT_TYPES.values()
    )
