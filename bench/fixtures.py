"""The benchmark's JPEG files: made by Wand, deterministic, stored in the
store's own layout so that every contender serves the very same bytes."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from wand.image import Image

from imageattach.stores.fs import HttpExposedFileSystemStore
from imageattach.variants import auto_path, negotiate

OBJECT_TYPE = "bench"


@dataclass(frozen=True)
class Spec:
    """A file to make: its label, pixel size, and the JPEG size to aim for."""

    label: str
    object_id: int
    width: int
    height: int
    target_bytes: int
    #: Blur of the noise: a smoother picture compresses smaller.
    sigma: float


SPECS = (
    Spec("20 KB", 1, 640, 480, 20 * 1024, 2.0),
    Spec("400 KB", 2, 1600, 1200, 400 * 1024, 1.0),
)


@dataclass(frozen=True)
class File:
    """A stored file: ``path`` relative to the store root, with ``/``."""

    label: str
    path: str
    data: bytes


def make_jpeg(spec: Spec) -> bytes:
    """Blurred seeded noise encoded at the quality whose size is closest to
    ``spec.target_bytes``; the same ImageMagick makes the same bytes."""
    noise = random.Random(spec.object_id).randbytes(spec.width * spec.height * 3)
    # Pixels imported directly: imageattach's ImageMagick policy (in force once
    # anything imports imageattach.imaging) refuses the raw RGB coder.
    with Image(width=spec.width, height=spec.height, background="black") as image:
        image.import_pixels(channel_map="RGB", storage="char", data=noise)
        image.gaussian_blur(sigma=spec.sigma)
        image.strip()

        def encode(quality: int) -> bytes:
            with image.clone() as copy:
                copy.format = "jpeg"
                copy.compression_quality = quality
                return bytes(copy.make_blob())

        # The size grows with the quality: bisect for the last one under the target.
        low, high = 1, 100
        while low < high:
            middle = (low + high + 1) // 2
            if len(encode(middle)) <= spec.target_bytes:
                low = middle
            else:
                high = middle - 1
        candidates = [encode(low), encode(min(low + 1, 100))]
    return min(candidates, key=lambda blob: abs(len(blob) - spec.target_bytes))


def write_files(store: HttpExposedFileSystemStore, specs: tuple[Spec, ...] = SPECS) -> list[File]:
    """Make each file and store it as an original of object type ``bench``."""
    files = []
    for spec in specs:
        data = make_jpeg(spec)
        key = (OBJECT_TYPE, spec.object_id, spec.width, spec.height, "image/jpeg")
        store.put_file(io.BytesIO(data), *key, reproducible=False)
        files.append(File(spec.label, "/".join(store.get_path(*key)), data))
    return files


def write_negotiated_copies(root: Path, files: list[File], accept: str) -> list[str]:
    """Store each file's bytes also under the name that its ``format="auto"``
    URL path negotiates to for ``accept`` (``….avif`` for a browser's), so
    that the auto URL serves the very same bytes; the copies' paths."""
    written = []
    for file in files:
        concrete = negotiate(auto_path(file.path), accept)
        assert concrete is not None, file.path
        if concrete != file.path:
            (root / concrete).write_bytes(file.data)
        written.append(concrete)
    return written
