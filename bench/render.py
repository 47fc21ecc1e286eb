"""``python -m bench render``: rendered variants of a 12 MP JPEG, cold,
through :func:`imageattach.imaging.render` (a decoding worker: probe, JPEG
shrink-on-load, auto-orient, sRGB, crop, resize, strip, encode) against
pyvips doing the same work, alternating in rounds on the same bytes:

- ``webp``: 300 px wide WebP, quality 80, encoder effort 4 on both sides
  (``webp:method=4``; pyvips ``webpsave_buffer(Q=80, effort=4)``);
- ``cover``: a 300x300 centre crop as JPEG quality 85 (pyvips
  ``thumbnail_buffer(..., height=300, crop="centre")`` + ``Q=85``);
- ``avif``: 300 px wide AVIF, quality 60 (libheif's scale) on both sides
  (pyvips ``heifsave_buffer(Q=60, compression="av1")``, default effort 4,
  i.e. libaom speed 5, and ``effort=3``; ImageMagick 6 sets no speed, so
  libheif's default is used, which times like effort 3).

The source is a 12 MP colour JPEG (``--grey``: the greyscale one of
``bench thumbnail``, for which ImageMagick's default resize filter is
Mitchell, not Lanczos: smoother, so half the WebP bytes).  Both sides
shrink on load (libjpeg at 1/8 here) and then resize with Lanczos-3.
pyvips runs with its operation cache off, with libvips' default thread pool
and with one thread (ImageMagick runs one thread per worker: parallelism is
per request).  Prints, per case, the median and the spread (min-max) of
each, the output sizes, and the ratio of ours to pyvips' medians (targets:
WebP and cover <= 1.2x; AVIF reported, > 3x means AVIF stays opt-in), and
of the fastest runs, which other load on the machine disturbs least.

``--quality-table`` prints instead the bytes and SSIM of each output format
at qualities around its default, for a 600 px render.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import imageattach.imaging  # noqa: F401  (imageattach's ImageMagick policy before wand)

# isort: split
from images import large_colour_jpeg, large_jpeg

from imageattach.imaging import RenderSpec, get_sandbox, render
from imageattach.imaging.render import DEFAULT_QUALITY, FORMATS

#: Case -> (our spec, the target it is held to, or None for "report only").
CASES: dict[str, tuple[RenderSpec, float | None]] = {
    "webp": (RenderSpec(width=300, format="webp", quality=80), 1.2),
    "cover": (RenderSpec(width=300, height=300, fit="cover", format="jpeg", quality=85), 1.2),
    "avif": (RenderSpec(width=300, format="avif", quality=60), None),
}
#: AVIF slower than this many times pyvips is said to be kept opt-in.
AVIF_OPT_IN = 3.0


def ours(data: bytes, spec: RenderSpec) -> Callable[[], bytes]:
    def run() -> bytes:
        return render(data, spec).data

    return run


def vips_contenders(data: bytes, case: str) -> dict[str, Callable[[], bytes]]:
    try:
        import pyvips
    except (ImportError, OSError):
        print("pyvips not available: skipped", file=sys.stderr)
        return {}
    pyvips.cache_set_max(0)

    def encode() -> bytes:
        if case == "cover":
            image = pyvips.Image.thumbnail_buffer(data, 300, height=300, crop="centre")
            return bytes(image.jpegsave_buffer(Q=85))
        image = pyvips.Image.thumbnail_buffer(data, 300)
        if case == "webp":
            return bytes(image.webpsave_buffer(Q=80, effort=4))
        return bytes(image.heifsave_buffer(Q=60, compression="av1"))

    def with_threads(threads: int | None) -> Callable[[], bytes]:
        def run() -> bytes:
            if threads is not None:
                pyvips.concurrency_set(threads)
            try:
                return encode()
            finally:
                if threads is not None:
                    pyvips.concurrency_set(0)  # back to libvips' default

        return run

    found = {"pyvips": with_threads(None)}
    if hasattr(pyvips, "concurrency_set"):
        found["pyvips-1-thread"] = with_threads(1)
    if case == "avif":
        # libvips' effort 4 is libaom speed 5; ImageMagick leaves libheif's
        # default speed, nearer effort 3 (speed 6).
        def effort_3() -> bytes:
            image = pyvips.Image.thumbnail_buffer(data, 300)
            return bytes(image.heifsave_buffer(Q=60, compression="av1", effort=3))

        found["pyvips-effort-3"] = effort_3
    return found


#: Qualities compared by ``--quality-table``, around each default.
TABLE_QUALITIES = {"jpeg": (75, 85, 90), "webp": (70, 75, 80, 85), "avif": (50, 55, 60, 65, 70)}


def ssim(reference: bytes, other: bytes) -> float:
    """Mean SSIM of the luminance of two encoded images of one size
    (Gaussian window, sigma 1.5, the usual constants), computed by libvips."""
    import pyvips

    def luminance(data: bytes) -> pyvips.Image:
        image = pyvips.Image.new_from_buffer(data, "")
        if image.hasalpha():
            image = image.flatten(background=255)
        return image.colourspace("b-w").cast("float")

    x, y = luminance(reference), luminance(other)

    def blur(image: pyvips.Image) -> pyvips.Image:
        return image.gaussblur(1.5)

    mean_x, mean_y = blur(x), blur(y)
    var_x = blur(x * x) - mean_x * mean_x
    var_y = blur(y * y) - mean_y * mean_y
    covariance = blur(x * y) - mean_x * mean_y
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    numerator = (2 * mean_x * mean_y + c1) * (2 * covariance + c2)
    denominator = (mean_x * mean_x + mean_y * mean_y + c1) * (var_x + var_y + c2)
    return float((numerator / denominator).avg())


def quality_table(data: bytes, width: int) -> None:
    """Bytes and SSIM (against a lossless render) of each format at the
    qualities of :data:`TABLE_QUALITIES`, all through :func:`render`."""
    reference = render(data, RenderSpec(width=width, format="png")).data
    base = len(render(data, RenderSpec(width=width, format="jpeg")).data)
    print(f"{width} px wide, bytes and SSIM against a lossless render (JPEG 85 = {base} bytes)")
    for fmt, qualities in TABLE_QUALITIES.items():
        for quality in qualities:
            out = render(data, RenderSpec(width=width, format=fmt, quality=quality)).data
            default = " (default)" if quality == DEFAULT_QUALITY[FORMATS[fmt]] else ""
            print(
                f"  {fmt:5} q{quality:<3} {len(out):8d} bytes  {len(out) / base:5.2f}x JPEG 85  "
                f"SSIM {ssim(reference, out):.4f}{default}"
            )


def measure(runs: dict[str, Callable[[], bytes]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each run, ``rounds`` times, alternating the order."""
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(rounds):
        names = list(runs)
        if round_number % 2:
            names.reverse()
        for name in names:
            start = time.perf_counter()
            runs[name]()
            timings[name].append(time.perf_counter() - start)
    return timings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench render", description=__doc__)
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument(
        "--case", action="append", choices=sorted(CASES), help="only these cases (repeatable)"
    )
    parser.add_argument(
        "--grey",
        action="store_true",
        help="the greyscale 12 MP JPEG of bench thumbnail instead of the colour one",
    )
    parser.add_argument(
        "--quality-table",
        action="store_true",
        help="instead of timing, print bytes and SSIM per format and quality (needs pyvips)",
    )
    options = parser.parse_args(argv)

    data = large_jpeg(4000, 3000) if options.grey else large_colour_jpeg(4000, 3000)
    get_sandbox().start()
    if options.quality_table:
        quality_table(data, 600)
        return 0
    kind = "greyscale" if options.grey else "colour"
    print(f"12 MP {kind} JPEG ({len(data) / 1e6:.1f} MB), cold renders, {options.rounds} rounds")
    for case in options.case or list(CASES):
        spec, target = CASES[case]
        runs = {"imageattach": ours(data, spec), **vips_contenders(data, case)}
        sizes = {name: len(run()) for name, run in runs.items()}  # warm up, output sizes
        timings = measure(runs, options.rounds)
        medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
        print(f"{case}:")
        for name, values in timings.items():
            spread = f"{min(values) * 1000:.1f}-{max(values) * 1000:.1f}"
            print(f"  {name:16} {medians[name]:8.1f} ms  ({spread:>13} ms)  {sizes[name]:7d} bytes")
        if "pyvips" not in medians:
            continue
        ratio = medians["imageattach"] / medians["pyvips"]
        # The fastest runs are the least disturbed by other load.
        fastest = min(timings["imageattach"]) / min(timings["pyvips"])
        if target is not None:
            verdict = "met" if ratio <= target else "MISSED"
            print(
                f"  {case} imageattach / pyvips = {ratio:.2f} (target <= {target}: {verdict}), "
                f"fastest runs {fastest:.2f}"
            )
        else:
            verdict = "opt-in: slower than 3x" if ratio > AVIF_OPT_IN else "within 3x"
            print(f"  {case} imageattach / pyvips = {ratio:.2f} ({verdict})")
            if "pyvips-effort-3" in medians:
                ratio = medians["imageattach"] / medians["pyvips-effort-3"]
                print(f"  {case} imageattach / pyvips-effort-3 = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
