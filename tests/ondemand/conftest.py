"""Fixtures for the on-demand resizer tests: a store holding real originals."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import imageattach.imaging  # noqa: F401  (the policy must be in force before wand loads)

# isort: split
from originals import KEY, Original
from wand.image import Image as WandImage

from imageattach.imaging import probe
from imageattach.ondemand.resizer import Resizer
from imageattach.stores.fs import HttpExposedFileSystemStore

HOST = "http://testserver/"


class CountingStore(HttpExposedFileSystemStore):
    """A real filesystem store that counts how often files are opened."""

    opened = 0

    def get_file(self, *key: object) -> io.BufferedReader:  # type: ignore[override]
        self.opened += 1
        return super().get_file(*key)  # type: ignore[arg-type,return-value]


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    store = CountingStore(tmp_path / "images", "__images__", lambda: HOST)
    store.opened = 0
    return store


AddOriginal = Callable[..., Original]


@pytest.fixture
def add_original(store: CountingStore) -> AddOriginal:
    """Store ``data`` as the original of ``object_type``/``object_id``,
    recorded with its displayed size (or ``size`` if given)."""

    def add(
        data: bytes,
        *,
        object_type: str = "user-picture",
        object_id: int = 1234,
        size: tuple[int, int] | None = None,
        mimetype: str | None = None,
    ) -> Original:
        if size is None or mimetype is None:
            info = probe(data)
            size = size or (info.width, info.height)
            mimetype = mimetype or info.mimetype
        original = Original(object_type, object_id, size[0], size[1], mimetype)
        store.put_file(io.BytesIO(data), object_type, object_id, *size, mimetype, False)
        store.opened = 0
        return original

    return add


@pytest.fixture
def make_resizer(store: CountingStore) -> Iterator[Callable[..., Resizer]]:
    made: list[Resizer] = []

    def make(**options: object) -> Resizer:
        options.setdefault("secret_key", KEY)
        resizer = Resizer(store, **options)  # type: ignore[arg-type]
        made.append(resizer)
        return resizer

    yield make
    for resizer in made:
        resizer.shutdown()


def split(url: str, prefix: str = "/__images__/") -> tuple[str, str]:
    """``(relative_path, query_string)`` of a URL the store made."""
    parts = urlsplit(url)
    assert parts.path.startswith(prefix), url
    return parts.path[len(prefix) :], parts.query


def decode_size(data: bytes) -> tuple[str, int, int]:
    with WandImage(blob=data) as image:
        return image.format, image.width, image.height
