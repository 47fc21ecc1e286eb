"""A decoding worker seen from the server: its replies are not trusted."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from images import jpeg

from imageattach.exceptions import CorruptImageError, UnsupportedImageError
from imageattach.imaging import Sandbox, channel, jobs
from imageattach.imaging.process import WorkerProcess, _reported

from .helpers import run_json


def test_only_image_errors_are_believed() -> None:
    assert isinstance(_reported({"error": "UnsupportedImageError", "message": "no"}),
                      UnsupportedImageError)  # fmt: skip
    for name in ("FileNotFoundInStoreError", "ImagingUnavailableError", "KeyError", "nonsense"):
        assert type(_reported({"error": name, "message": "x"})) is CorruptImageError


@pytest.mark.parametrize(
    "info",
    [
        {"mimetype": "text/html", "width": 1, "height": 1, "orientation": 1, "frames": 1},
        {"mimetype": "image/png", "width": "w", "height": 1, "orientation": 1, "frames": 1},
        {"mimetype": "image/png", "width": 1, "height": -1, "orientation": 1, "frames": 1},
        {"mimetype": "image/png", "width": 1, "height": 1, "orientation": 99, "frames": 1},
        {"mimetype": "image/png", "width": 1, "height": 1, "orientation": 1, "frames": 0},
        {"mimetype": "image/png", "width": True, "height": 1, "orientation": 1, "frames": 1},
        {"mimetype": "image/png", "width": 1},
        None,
    ],
)
def test_a_forged_probe_reply_is_refused(info: object) -> None:
    with pytest.raises(CorruptImageError):
        jobs._checked_info(info)


@pytest.mark.parametrize("kind", ["pipe", "wrong length", "too long"])
def test_a_forged_output_is_refused_and_the_worker_killed(kind: str) -> None:
    worker = WorkerProcess(start_timeout=30)
    try:
        if kind == "pipe":
            fd, other = os.pipe()
            os.close(other)
            length = 10
        else:
            fd = channel.anonymous_file(b"x" * 10)
            length = 11 if kind == "wrong length" else 2**40
        try:
            with pytest.raises(CorruptImageError):
                worker._output(fd, length)
        finally:
            os.close(fd)
        assert worker.retired and not worker.alive
        assert not Path(worker.temp_dir).exists()
    finally:
        worker.kill()


def test_limits_of_the_worker_process_are_restored_after_a_job() -> None:
    soft, hard = run_json(
        """
import json, resource
from imageattach.imaging import worker
from imageattach.limits import DEFAULT_LIMITS
resource.setrlimit(resource.RLIMIT_AS, (8 * 1024**3, resource.RLIM_INFINITY))
with worker._bounded(DEFAULT_LIMITS, worker._address_space()):
    inside = resource.getrlimit(resource.RLIMIT_AS)[0]
    assert inside < 8 * 1024**3, inside
print(json.dumps(resource.getrlimit(resource.RLIMIT_AS)))
"""
    )
    assert soft == 8 * 1024**3
    assert hard == -1  # RLIM_INFINITY


def test_a_forked_server_process_starts_workers_of_its_own() -> None:
    result = run_json(
        f"""
import json, os
from imageattach.imaging import probe, get_sandbox
data = {jpeg(8, 6)!r}
assert probe(data).width == 8
parent_workers = get_sandbox().pids()
read, write = os.pipe()
child = os.fork()
if child == 0:
    os.close(read)
    try:
        width = probe(data).width
        mine = get_sandbox().pids()
        os.write(write, json.dumps([width, mine]).encode())
    finally:
        os._exit(0)
os.close(write)
os.waitpid(child, 0)
width, child_workers = json.loads(os.read(read, 1000))
print(json.dumps([parent_workers, width, child_workers, probe(data).width]))
"""
    )
    parent_workers, width, child_workers, again = result
    assert width == 8 and again == 8
    assert child_workers and not set(child_workers) & set(parent_workers)


def test_an_idle_worker_that_died_is_reaped_with_its_files() -> None:
    sandbox = Sandbox(workers=1)
    params = {"allow_active_svg": False}
    try:
        sandbox.run("probe", params, jpeg(4, 3), jobs.DEFAULT_LIMITS)
        [pid] = sandbox.pids()
        directory = Path(sandbox._idle[0].temp_dir)
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        reply, _ = sandbox.run("probe", params, jpeg(4, 3), jobs.DEFAULT_LIMITS)
        assert reply["info"]["width"] == 4
        assert not directory.exists()
        assert sandbox.pids() != [pid]
    finally:
        sandbox.shutdown()
