"""``python -m bench.ondemand``: on-demand thumbnails, end to end.

1. Cold miss: a 12 MP JPEG to a 300 px wide thumbnail, requested through
   ``HttpExposedFileSystemStore.wsgi_middleware`` in process (URL check,
   single flight, pool, lock, probe, shrink-on-load resize, atomic store,
   then the static response), a fresh key every time.  Side by side, in
   alternating rounds on the same bytes:

   - ``pyvips``: ``pyvips.Image.thumbnail_buffer`` + JPEG encode, libvips'
     default thread pool, and with one thread (ImageMagick runs with one
     thread under imageattach: parallelism is per request);
   - ``naive-wand``: what the seed did, a full Wand decode, ``resize()``, encode;
   - ``make_thumbnail``: imageattach's imaging alone, no HTTP, no store (the
     difference to the miss is the on-demand machinery's cost).

   Prints medians and the ratios (targets: <= 1.1x pyvips, >= 5x faster
   than naive).

2. Stampede: N concurrent requests for one cold URL: how many generations
   (the target is one), and the p50/p99 latency of the requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import imageattach.imaging  # noqa: F401  (imageattach's ImageMagick policy before wand)

# isort: split
from images import large_jpeg
from wand.image import Image
from werkzeug.test import Client

from imageattach.imaging import make_thumbnail, probe
from imageattach.sizing import thumbnail_size
from imageattach.stores.fs import HttpExposedFileSystemStore

KEY = "bench-secret-key-0123456789abcdef"
HOST = "http://bench/"


class Original:
    """The columns of an original row that a resize URL needs (no database)."""

    original = True
    created_at = None

    def __init__(self, object_id: int, width: int, height: int) -> None:
        self.object_type = "photo"
        self.object_id = object_id
        self.width = width
        self.height = height
        self.mimetype = "image/jpeg"


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not an image"]


class OnDemand:
    """Cold misses through the store's WSGI middleware, a fresh key each call."""

    def __init__(self, root: Path, data: bytes, width: int) -> None:
        self.store = HttpExposedFileSystemStore(root, "__images__", lambda: HOST, secret_key=KEY)
        self.client = Client(self.store.wsgi_middleware(_app))
        info = probe(data)
        self.source_size = (info.width, info.height)
        self.size = thumbnail_size(*self.source_size, width=width)
        self.data = data
        self.next_id = 1
        self.source: str | None = None

    def fresh_url(self) -> str:
        """The URL of a thumbnail not made yet, of a new original (a hard
        link of the first, so making it costs no copy)."""
        object_id, self.next_id = self.next_id, self.next_id + 1
        key = ("photo", object_id, *self.source_size, "image/jpeg")
        path = os.path.join(self.store.path, *self.store.get_path(*key))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if self.source is None:
            with open(path, "wb") as file:
                file.write(self.data)
            self.source = path
        else:
            os.link(self.source, path)
        url = self.store.locate_resized(Original(object_id, *self.source_size), *self.size)  # type: ignore[arg-type]
        return url.removeprefix(HOST.rstrip("/"))

    def get(self, target: str) -> bytes:
        response = self.client.get(target)
        try:
            if response.status_code != 200:
                raise RuntimeError(f"{target}: {response.status}: {response.get_data()!r}")
            return response.get_data()
        finally:
            response.close()

    def __call__(self) -> bytes:
        return self.get(self.fresh_url())


def peers(data: bytes, width: int) -> dict[str, Callable[[], bytes]]:
    """The same thumbnail made by imaging alone, by pyvips and the seed's way."""
    info = probe(data)
    size = thumbnail_size(info.width, info.height, width=width)

    def naive_wand() -> bytes:
        with Image(blob=data, format="jpeg") as image:
            image.resize(*size)
            image.compression_quality = 85
            return bytes(image.make_blob("jpeg"))

    def imaging_only() -> bytes:
        return make_thumbnail(data, width=size[0], height=size[1], info=probe(data))[0]

    found: dict[str, Callable[[], bytes]] = {
        "make_thumbnail": imaging_only,
        "naive-wand": naive_wand,
    }
    try:
        import pyvips
    except (ImportError, OSError) as error:
        print(f"pyvips not available ({error}): skipped", file=sys.stderr)
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
                    pyvips.concurrency_set(0)

        return run

    found["pyvips"] = vips(None)
    found["pyvips-1-thread"] = vips(1)
    return found


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def cold_miss(root: Path, data: bytes, width: int, rounds: int) -> None:
    ondemand = OnDemand(root, data, width)
    contenders: dict[str, Callable[[], bytes]] = {"on-demand miss": ondemand, **peers(data, width)}
    for run in contenders.values():  # warm up: libraries loaded, caches filled
        run()
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    ours = medians["on-demand miss"]
    source = f"{ondemand.source_size[0]}x{ondemand.source_size[1]} JPEG ({len(data) // 1024} KiB)"
    size = f"{ondemand.size[0]}x{ondemand.size[1]}"
    print(f"\ncold miss, {source} -> {size}, median of {rounds} rounds")
    for name, median in medians.items():
        ratio = "" if name == "on-demand miss" else f"   on-demand / {name} = {ours / median:.2f}"
        print(f"  {name:16} {_ms(median)}{ratio}")
    if "pyvips" in medians:
        verdict = "met" if ours <= 1.1 * medians["pyvips"] else "NOT met"
        print(f"  target on-demand <= 1.1x pyvips: {verdict}")
    speedup = medians["naive-wand"] / ours
    verdict = "met" if speedup >= 5 else "NOT met"
    print(f"  naive-wand / on-demand = {speedup:.1f}x (target >= 5x: {verdict})")
    print(f"  generations: {ondemand.store.resizer.generations} (one per call, warm-up included)")


def stampede(root: Path, data: bytes, width: int, clients: int) -> None:
    ondemand = OnDemand(root, data, width)
    target = ondemand.fresh_url()
    before = ondemand.store.resizer.generations
    barrier = threading.Barrier(clients)

    def request() -> tuple[float, bytes]:
        barrier.wait()
        started = time.perf_counter()
        body = ondemand.get(target)
        return time.perf_counter() - started, body

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: request(), range(clients)))
    latencies = sorted(seconds for seconds, _ in results)
    bodies = {body for _, body in results}
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    generations = ondemand.store.resizer.generations - before
    print(f"\nstampede, {clients} concurrent requests for one cold URL")
    print(f"  generations: {generations} (target 1); distinct bodies: {len(bodies)}")
    print(f"  latency p50 {_ms(statistics.median(latencies))}, p99 {_ms(p99)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ondemand",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--width", type=int, default=300, help="thumbnail width (default 300)")
    parser.add_argument("--clients", type=int, default=64, help="stampede clients (default 64)")
    parser.add_argument(
        "--source",
        type=Path,
        help="a JPEG to use (default: tests/images.py's 12 MP large_jpeg(), noisy, ~6 MB)",
    )
    options = parser.parse_args(argv)
    data = options.source.read_bytes() if options.source else large_jpeg(4000, 3000)
    with tempfile.TemporaryDirectory(prefix="imageattach-bench-ondemand-") as directory:
        cold_miss(Path(directory) / "cold", data, options.width, options.rounds)
        stampede(Path(directory) / "stampede", data, options.width, options.clients)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
