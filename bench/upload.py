"""``python -m bench.upload``: what isolating the upload probe costs.

``from_file`` of a 12 MP JPEG, flushed and committed through a real
SQLAlchemy session (SQLite in memory) into a :class:`FileSystemStore`,
in alternating rounds:

- ``isolated``: as shipped, the header is read in a decoding worker;
- ``in-process``: the same probe code run in this process, as before the
  worker pool (``imageattach.imaging.identify.identify`` called directly).

Prints the medians and the difference (target: at most 5 ms more).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import imageattach.imaging  # noqa: F401  (imageattach's ImageMagick policy before wand)

# isort: split
from images import large_jpeg
from sqlalchemy import Column, ForeignKey, Integer, create_engine
from sqlalchemy.orm import Session, declarative_base, relationship

from imageattach import imaging
from imageattach.context import store_context
from imageattach.entity import Image, image_attachment
from imageattach.imaging.identify import identify
from imageattach.imaging.sandbox import read_source
from imageattach.limits import DEFAULT_LIMITS
from imageattach.stores.fs import FileSystemStore

Base = declarative_base()


class Photo(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "photo"
    id = Column(Integer, primary_key=True)
    picture = image_attachment("PhotoPicture", back_populates="photo")


class PhotoPicture(Base, Image):  # type: ignore[valid-type,misc]
    __tablename__ = "photo_picture"
    photo_id = Column(Integer, ForeignKey(Photo.id), primary_key=True)
    photo = relationship(Photo, back_populates="picture")


def _in_process_probe(source: bytes | IO[bytes], **options: Any) -> imaging.ImageInfo:
    return identify(read_source(source), limits=options.get("limits") or DEFAULT_LIMITS)


@contextmanager
def _in_process() -> Iterator[None]:
    isolated = imaging.probe
    imaging.probe = _in_process_probe  # type: ignore[assignment]
    try:
        yield
    finally:
        imaging.probe = isolated


def upload(store: FileSystemStore, data: bytes) -> Callable[[], None]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)

    def run() -> None:
        with Session(engine) as session, store_context(store):
            photo = Photo()
            session.add(photo)
            photo.picture.from_file(io.BytesIO(data))
            session.commit()

    return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.upload", description=__doc__)
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds (default 30)")
    options = parser.parse_args(argv)
    data = large_jpeg(4000, 3000)
    with tempfile.TemporaryDirectory(prefix="imageattach-bench-upload-") as directory:
        run = upload(FileSystemStore(directory, "http://bench/"), data)
        run()  # start the worker and warm the caches
        with _in_process():
            run()
        times: dict[str, list[float]] = {"isolated": [], "in-process": []}
        for _ in range(options.rounds):
            for name in times:
                with _in_process() if name == "in-process" else _nothing():
                    started = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\nfrom_file + commit, 4000x3000 JPEG ({len(data) // 1024} KiB), "
          f"median of {options.rounds} rounds")  # fmt: skip
    for name, median in medians.items():
        print(f"  {name:<12} {median * 1000:7.1f} ms")
    extra = (medians["isolated"] - medians["in-process"]) * 1000
    verdict = "met" if extra <= 5 else "MISSED"
    print(f"  isolation costs {extra:+.1f} ms (target <= 5 ms: {verdict})")
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
