"""``python -m bench thumbnail``: a 12 MP JPEG to a 300 px wide thumbnail.

Runs, on the same bytes and in one process, alternating in rounds:

- ``imageattach``: :func:`imageattach.imaging.make_thumbnail` (probe, JPEG
  shrink-on-load, auto-orient, sRGB, resize, strip, encode);
- ``naive-wand``: what the seed did, a full Wand decode, ``resize()``, encode;
- ``pyvips``: ``pyvips.Image.thumbnail_buffer`` (operation cache off), with
  libvips' default thread pool and with one thread (ImageMagick runs with
  one thread under imageattach: parallelism is per request).

Prints the median milliseconds of each and the ratios to imageattach.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from images import large_jpeg
from wand.image import Image

from imageattach.imaging import make_thumbnail, probe
from imageattach.sizing import thumbnail_size


def contenders(data: bytes, width: int) -> dict[str, Callable[[], bytes]]:
    info = probe(data)
    size = thumbnail_size(info.width, info.height, width=width)

    def imageattach() -> bytes:
        return make_thumbnail(data, width=size[0], height=size[1])[0]

    def naive_wand() -> bytes:
        with Image(blob=data) as image:
            image.resize(*size)
            image.format = "jpeg"
            image.compression_quality = 85
            return bytes(image.make_blob())

    found: dict[str, Callable[[], bytes]] = {"imageattach": imageattach, "naive-wand": naive_wand}
    try:
        import pyvips
    except (ImportError, OSError):
        print("pyvips not available: skipped", file=sys.stderr)
        return found
    pyvips.cache_set_max(0)

    def vips(threads: int | None) -> Callable[[], bytes]:
        def run() -> bytes:
            if threads is not None:
                pyvips.concurrency_set(threads)
            try:
                thumbnail = pyvips.Image.thumbnail_buffer(data, width)
                return bytes(thumbnail.write_to_buffer(".jpg[Q=85]"))
            finally:
                if threads is not None:
                    pyvips.concurrency_set(0)  # back to libvips' default

        return run

    found["pyvips"] = vips(None)
    if hasattr(pyvips, "concurrency_set"):
        found["pyvips-1-thread"] = vips(1)
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench thumbnail", description=__doc__)
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds (default 9)")
    parser.add_argument("--width", type=int, default=300, help="thumbnail width (default 300)")
    options = parser.parse_args(argv)

    data = large_jpeg(4000, 3000)
    runs = contenders(data, options.width)
    for run in runs.values():  # warm up: load coders, fill caches
        run()
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(options.rounds):
        names = list(runs)
        if round_number % 2:
            names.reverse()
        for name in names:
            start = time.perf_counter()
            runs[name]()
            timings[name].append(time.perf_counter() - start)

    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    base = medians["imageattach"]
    print(f"12 MP JPEG ({len(data) / 1e6:.1f} MB) -> {options.width} px wide, "
          f"median of {options.rounds} rounds")  # fmt: skip
    for name, median in medians.items():
        print(f"  {name:16} {median:8.1f} ms   {median / base:5.2f}x imageattach")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
