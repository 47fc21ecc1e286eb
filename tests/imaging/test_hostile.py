"""Every file of the hostile corpus through ``probe`` and ``make_thumbnail``
in this process (the decoding happens in workers): each ends with a result or
an ``ImageError`` within its time limit, the GIL is never held long here,
and a killed worker leaves nothing behind.  Entity operations refuse hostile
files without storing anything."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from entity_models import Something, sessions
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from storefiles import image_files, temporary_files

from imageattach.context import store_context
from imageattach.exceptions import (
    CorruptImageError,
    ImageError,
    ImageTimeoutError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from imageattach.imaging import Sandbox, make_thumbnail, probe
from imageattach.limits import DEFAULT_LIMITS, ImageLimits
from imageattach.sizing import thumbnail_size
from imageattach.stores.fs import FileSystemStore

from .hostile import case, corpus

CASES = corpus()
LIMITS = ImageLimits(time=2.0, memory=384 * 1024**2)
#: The longest this process's GIL may be held while a job runs elsewhere.
MAX_GIL_HOLD = 0.1


@contextmanager
def gil_watch() -> Iterator[list[float]]:
    """Yield a list that ends up holding the longest gap, in seconds,
    between the wake-ups of a thread that sleeps 5 ms at a time: a gap well
    above 5 ms means another thread of this process held the GIL."""
    gaps = [0.0]
    stop = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not stop.wait(0.005):
            now = time.perf_counter()
            gaps[0] = max(gaps[0], now - last - 0.005)
            last = now

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield gaps
    finally:
        stop.set()
        ticker.join()


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_file_costs_one_bounded_job(name: str) -> None:
    data = CASES[name].data
    with gil_watch() as gaps:
        started = time.monotonic()
        try:
            info = probe(data, limits=LIMITS)
        except ImageError:
            pass
        else:
            width, height = thumbnail_size(info.width, info.height, width=min(info.width, 100))
            try:
                output, _ = make_thumbnail(data, width=width, height=height, limits=LIMITS)
                assert output
            except ImageError:
                pass
        elapsed = time.monotonic() - started
    assert elapsed < 2 * LIMITS.time + 5
    assert gaps[0] < MAX_GIL_HOLD, f"GIL held {gaps[0] * 1000:.0f} ms"


def test_a_killed_worker_leaves_no_temporary_files() -> None:
    # 50 MP: ImageMagick puts the pixel cache on disk, in the worker's own
    # directory, and the worker is killed at the deadline while decoding.
    sandbox = Sandbox(workers=1)
    params = {"width": 100, "height": 100, "info": None, "filter": "undefined", "quality": None}
    seen: list[Path] = []

    def watch() -> None:
        for _ in range(100):
            seen.extend(Path(tempfile.gettempdir()).glob(f"imageattach-worker-{os.getpid()}-*/*"))
            if seen:
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(ImageTimeoutError):
            sandbox.run(
                "thumbnail",
                params,
                case("png_flood_7071x7071").data,
                DEFAULT_LIMITS.replace(time=1.5),
            )
    finally:
        watcher.join()
        sandbox.shutdown()
    assert seen, "the pixel cache was not on disk"
    assert not any(path.parent.exists() for path in seen)


def test_an_svg_wider_than_cairo_can_render_is_too_large() -> None:
    data = case("svg_wide_40000x100").data
    assert probe(data).width == 40000
    with pytest.raises(ImageTooLargeError, match="32767"):
        make_thumbnail(data, width=40000, height=100)


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


def _stored(root: Path) -> list[str]:
    assert temporary_files(root) == []
    return image_files(root)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("svg_script", UnsupportedImageError),
        ("gif_100000_frames", ImageTooLargeError),
        ("png_ztxt_bomb", ImageTooLargeError),
        ("bmp_claims_100000x100000", ImageTooLargeError),
        ("sniff_svg_comments_32", CorruptImageError),
    ],
)
def test_hostile_uploads_store_nothing(
    factory: sessionmaker[Session], fs_store: FileSystemStore, name: str, error: type[Exception]
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        with pytest.raises(error):
            thing.cover.from_blob(case(name).data)
        session.commit()
        assert (
            session.scalar(select(func.count()).select_from(Something.cover.property.mapper)) == 0
        )
    assert _stored(Path(fs_store.path)) == []


def test_a_thumbnail_that_crashes_the_decoder_stores_nothing(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        thing.cover.from_blob(case("svg_fetile_empty_flood").data)  # only its render crashes
        session.commit()
        with pytest.raises(CorruptImageError, match="cannot be decoded"):
            thing.cover.generate_thumbnail(width=50)
        session.commit()
        assert [(i.width, i.height) for i in thing.cover] == [(100, 100)]
    assert len(_stored(Path(fs_store.path))) == 1
