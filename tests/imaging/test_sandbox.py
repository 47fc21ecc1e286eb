"""The decoding workers: a hostile image costs one job, never this process."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from images import jpeg, png

from imageattach.exceptions import (
    ConfigurationError,
    CorruptImageError,
    ImageTimeoutError,
    ImageTooLargeError,
    ImagingUnavailableError,
)
from imageattach.imaging import ImageInfo, Sandbox, make_thumbnail, probe
from imageattach.imaging.sandbox import get_sandbox
from imageattach.limits import DEFAULT_LIMITS, ImageLimits

#: A small SVG whose turbulence filter takes librsvg many seconds to render.
SLOW_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1500" height="1500">'
    b'<filter id="f"><feTurbulence baseFrequency="0.01" numOctaves="10000"/></filter>'
    b'<rect width="1500" height="1500" filter="url(#f)"/></svg>'
)
#: librsvg aborts the process (SIGABRT) on this filter.
ABORTING_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b'<filter id="f"><feFlood width="0" height="0"/><feTile/></filter>'
    b'<rect width="100" height="100" filter="url(#f)"/></svg>'
)


@pytest.fixture
def sandbox() -> Sandbox:
    sandbox = Sandbox(workers=1)
    yield sandbox
    sandbox.shutdown()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie not reaped yet counts as gone.
    status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    return status != "Z"


def _probe_in(sandbox: Sandbox, data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> ImageInfo:
    reply, _ = sandbox.run("probe", {"allow_active_svg": False}, data, limits)
    return ImageInfo(**reply["info"])


def _thumbnail_in(
    sandbox: Sandbox, data: bytes, width: int, height: int, limits: ImageLimits = DEFAULT_LIMITS
) -> bytes:
    params = {"width": width, "height": height, "info": None, "filter": "undefined",
              "quality": None}  # fmt: skip
    _, output = sandbox.run("thumbnail", params, data, limits)
    assert output is not None
    return output


def test_a_worker_serves_many_jobs(sandbox: Sandbox) -> None:
    assert _probe_in(sandbox, jpeg(40, 30)) == ImageInfo("image/jpeg", 40, 30, 1, 1)
    [pid] = sandbox.pids()
    assert pid != os.getpid()
    assert _probe_in(sandbox, png(8, 6)).width == 8
    assert sandbox.pids() == [pid]


def test_a_worker_is_replaced_after_jobs_per_worker() -> None:
    sandbox = Sandbox(workers=1, jobs_per_worker=2)
    try:
        _probe_in(sandbox, jpeg(4, 3))
        [first] = sandbox.pids()
        _probe_in(sandbox, jpeg(4, 3))
        assert sandbox.pids() == []
        _probe_in(sandbox, jpeg(4, 3))
        assert sandbox.pids() not in ([], [first])
    finally:
        sandbox.shutdown()


def test_an_open_file_is_passed_as_a_descriptor_and_keeps_its_position(tmp_path: Path) -> None:
    path = tmp_path / "prefixed"
    path.write_bytes(b"junk" + png(20, 10))
    with open(path, "rb") as file:
        file.seek(4)
        assert probe(file).width == 20
        assert file.tell() == 4
    buffered = io.BytesIO(b"xx" + jpeg(30, 20))
    buffered.seek(2)
    assert probe(buffered).height == 20
    assert buffered.tell() == 2


def test_a_crashing_decoder_costs_one_job(sandbox: Sandbox) -> None:
    with pytest.raises(CorruptImageError, match="cannot be decoded"):
        _thumbnail_in(sandbox, ABORTING_SVG, 100, 100)
    assert _probe_in(sandbox, jpeg(4, 3)).width == 4


def test_a_runaway_render_is_killed_at_the_deadline(sandbox: Sandbox) -> None:
    _probe_in(sandbox, jpeg(4, 3))
    [pid] = sandbox.pids()
    started = time.monotonic()
    with pytest.raises(ImageTimeoutError, match=r"longer than the limit of 0\.5 s"):
        _thumbnail_in(sandbox, SLOW_SVG, 1500, 1500, ImageLimits(time=0.5))
    assert time.monotonic() - started < 5
    assert not _alive(pid)
    assert _probe_in(sandbox, jpeg(4, 3)).width == 4


def test_pixels_that_cannot_fit_in_memory_are_refused_before_decoding(sandbox: Sandbox) -> None:
    big = png(3000, 3000)
    with pytest.raises(ImageTooLargeError, match=r"needs about 137 MiB .* limit of 64 MiB"):
        _thumbnail_in(sandbox, big, 60, 60, ImageLimits(memory=64 * 1024**2))
    # Enough memory: the same image is fine.
    assert _thumbnail_in(sandbox, big, 60, 60).startswith(b"\x89PNG")


def test_memory_is_bounded_by_the_operating_system(sandbox: Sandbox, tmp_path: Path) -> None:
    # 200 MB of trailing bytes: reading them needs more than the job may have.
    path = tmp_path / "padded.png"
    with open(path, "wb") as file:
        file.write(png(10, 10))
        file.truncate(200 * 1024**2)
    with open(path, "rb") as file, pytest.raises(ImageTooLargeError, match="64 MiB"):
        sandbox.run("probe", {"allow_active_svg": False}, file, ImageLimits(memory=64 * 1024**2))
    assert _probe_in(sandbox, jpeg(4, 3)).width == 4


def test_a_worker_killed_mid_job_fails_that_job_only(sandbox: Sandbox) -> None:
    _probe_in(sandbox, jpeg(4, 3))
    [pid] = sandbox.pids()
    killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
    killer.start()
    try:
        with pytest.raises(ImagingUnavailableError, match="stopped; retry later"):
            _thumbnail_in(sandbox, SLOW_SVG, 1500, 1500, ImageLimits(time=60))
    finally:
        killer.cancel()
    assert _probe_in(sandbox, jpeg(4, 3)).width == 4


def test_busy_workers_make_a_transient_error() -> None:
    sandbox = Sandbox(workers=1, acquire_timeout=0.2)
    errors: list[Exception] = []

    def render_slowly() -> None:
        try:
            _thumbnail_in(sandbox, SLOW_SVG, 1500, 1500, ImageLimits(time=3))
        except ImageTimeoutError as error:
            errors.append(error)

    slow = threading.Thread(target=render_slowly)
    try:
        _probe_in(sandbox, jpeg(4, 3))
        slow.start()
        time.sleep(0.5)
        with pytest.raises(ImagingUnavailableError, match="busy"):
            _probe_in(sandbox, jpeg(4, 3))
    finally:
        slow.join()
        sandbox.shutdown()
    assert len(errors) == 1


def test_svg_is_rendered_outside_this_process() -> None:
    # Were librsvg run here, the abort would end the test run.
    assert probe(ABORTING_SVG).width == 100
    with pytest.raises(CorruptImageError):
        make_thumbnail(ABORTING_SVG, width=50, height=50)
    data, mimetype = make_thumbnail(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20"/>', width=15, height=10
    )
    assert mimetype == "image/png" and data.startswith(b"\x89PNG")
    assert all(_alive(pid) for pid in get_sandbox().pids())


def test_worker_errors_are_short_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level("INFO", logger="imageattach.imaging"),
        pytest.raises(CorruptImageError) as raised,
    ):
        probe(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    assert ".c/" not in str(raised.value) and "@" not in str(raised.value)
    assert any("image refused" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "options",
    [{"workers": 0}, {"acquire_timeout": 0}, {"jobs_per_worker": True}, {"start_timeout": "1"}],
)
def test_options_are_checked_at_construction(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        Sandbox(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [{"pixels": 0}, {"frames": -1}, {"time": 0}, {"time": float("inf")}, {"memory": 1024}],
)
def test_limits_are_checked_at_construction(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ImageLimits(**options)  # type: ignore[arg-type]


def test_directories_of_servers_that_are_gone_are_removed() -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    root = Path(tempfile.gettempdir())
    stale = root / f"imageattach-worker-{finished.pid}-test"
    ours = root / f"imageattach-worker-{os.getpid()}-test"
    for directory in (stale, ours):
        directory.mkdir()
        (directory / "magick-cache").write_bytes(b"x")
    try:
        Sandbox(workers=1)
        assert not stale.exists()
        assert ours.exists()
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(ours, ignore_errors=True)
