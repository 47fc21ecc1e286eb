"""Every file of the hostile corpus, uploaded and resized on demand through
real servers (gunicorn for WSGI, uvicorn for ASGI): each request gets a
short answer within its time limit, the server process is the same one
afterwards (no crash, no restart), and the whole process tree stays within
its configured memory."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from ondemand.servers import running

from imageattach.limits import ImageLimits
from imageattach.stores.fs import EXTENSIONS, HttpExposedFileSystemStore

from .hostile import HostileCase, case, corpus

pytestmark = pytest.mark.e2e

KEY = "hostile-corpus-test-key-0123456789"
#: The servers' limits: jobs of at most 2 s and 384 MiB, two decoding workers.
LIMITS = ImageLimits(time=2.0, memory=384 * 1024**2)
WORKERS = 2
#: "size" cases that are fine as uploads: ImageMagick reads an ICO's BMP
#: entry as 256x256 whatever its header says; a 40000x100 SVG is 4 MP (its
#: danger is a thumbnail wider than cairo can render, tested elsewhere).
ACCEPTABLE_SIZES = {"ico_bmp_claims_65535x65535", "svg_wide_40000x100"}
CASES = corpus()
#: A worker's memory besides its job's: Python, ImageMagick, librsvg, GLib.
WORKER_BASELINE = 160 * 1024**2


@dataclass
class Server:
    kind: str
    url: str
    root: Path
    pid: bytes
    peak_rss: int = 0
    start_rss: int = 0
    slowest: dict[str, float] = field(default_factory=dict)

    def request(self, method: str, target: str, body: bytes | None = None) -> tuple[int, bytes]:
        address = urlsplit(self.url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        try:
            connection.request(method, target, body=body)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def _tree_rss(group: int) -> int:
    """Resident bytes of every process in process group ``group``."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != group:
                continue
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return total


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    kind = request.param
    root = tmp_path_factory.mktemp(f"hostile-{kind}")
    env = {"IA_ROOT": str(root), "IA_KEY": KEY, "IA_TIME": str(LIMITS.time),
           "IA_MEMORY": str(LIMITS.memory), "IA_WORKERS": str(WORKERS)}  # fmt: skip
    with running(kind, env, root / "server.log", app="imaging.hostile_app") as url:
        address = urlsplit(url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        connection.request("GET", "/health")
        pid = connection.getresponse().read()
        connection.close()
        server = Server(kind, url, root, pid)
        group = os.getpgid(int(pid))
        server.start_rss = _tree_rss(group)
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.02):
                server.peak_rss = max(server.peak_rss, _tree_rss(group))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield server
        finally:
            stop.set()
            sampler.join()


class _Original:
    """What a resize URL needs of an original row (no database)."""

    original = True
    created_at = None

    def __init__(self, object_id: int, mimetype: str) -> None:
        self.object_type = "hostile"
        self.object_id = object_id
        self.width = self.height = 1000
        self.mimetype = mimetype


def _resize_target(server: Server, number: int, case: HostileCase) -> str:
    """Put ``case`` in the store as a 1000x1000 original; its 100 px URL."""
    store = HttpExposedFileSystemStore(
        server.root, "__images__", secret_key=KEY, host_url_getter=lambda: server.url + "/"
    )
    original = _Original(number, case.mimetype_claimed)
    key = ("hostile", number, 1000, 1000, case.mimetype_claimed)
    path = server.root.joinpath(*store.get_path(*key))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.data)
    url = store.locate_resized(original, 100, 100)  # type: ignore[arg-type]
    return url.removeprefix(server.url)


def _timed(server: Server, name: str, method: str, target: str, body: bytes | None = None) -> int:
    started = time.monotonic()
    status, text = server.request(method, target, body)
    elapsed = time.monotonic() - started
    server.slowest[name] = max(server.slowest.get(name, 0.0), elapsed)
    # One job (probe at upload, thumbnail on demand), bounded by its limit.
    assert elapsed < LIMITS.time + 5, f"{name}: {elapsed:.1f} s"
    assert b"Traceback" not in text and b".c:" not in text and b".rs:" not in text, text
    return status


@pytest.mark.parametrize("name", list(CASES))
def test_upload_and_on_demand_leave_the_server_up(server: Server, name: str) -> None:
    case = CASES[name]
    number = list(CASES).index(name) + 1
    status = _timed(server, name, "POST", "/upload", case.data)
    assert status in (201, 422)
    if case.kind in ("active", "size") and name not in ACCEPTABLE_SIZES:
        assert status == 422, name  # refused before any decoding
    if case.mimetype_claimed in EXTENSIONS:
        status = _timed(server, name, "GET", _resize_target(server, number, case))
        assert status in (200, 404, 422), name
    assert server.request("GET", "/health") == (200, server.pid)


def _decoding_workers(pid: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.update(int(c) for c in (task / "children").read_text().split())
    return children


def test_a_worker_killed_mid_job_fails_that_request_only(server: Server) -> None:
    slow = _resize_target(server, 10_000, case("svg_feturbulence_octaves"))
    answers: list[tuple[int, bytes]] = []
    request = threading.Thread(target=lambda: answers.append(server.request("GET", slow)))
    request.start()
    deadline = time.monotonic() + 5
    busy: set[int] = set()
    while not busy and time.monotonic() < deadline:
        # The worker with the job is the one whose CPU time grows.
        workers = _decoding_workers(int(server.pid))
        spent = {pid: _cpu_seconds(pid) for pid in workers}
        time.sleep(0.3)
        busy = {pid for pid in workers if _cpu_seconds(pid) - spent[pid] > 0.1}
    for pid in busy:
        os.kill(pid, signal.SIGKILL)
    request.join()
    assert busy and answers[0][0] == 503, answers
    assert server.request("GET", "/health") == (200, server.pid)
    fine = _resize_target(server, 10_001, case("ico_bmp_claims_65535x65535"))
    assert server.request("GET", fine)[0] == 200


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_process_tree_stayed_within_its_memory(server: Server) -> None:
    bound = server.start_rss + WORKERS * (WORKER_BASELINE + LIMITS.memory)
    print(
        f"\n{server.kind}: tree RSS {server.start_rss >> 20} MiB at start, peak "
        f"{server.peak_rss >> 20} MiB (bound {bound >> 20} MiB); slowest: "
        + ", ".join(f"{n} {s:.1f} s" for n, s in sorted(server.slowest.items(),
                                                         key=lambda i: -i[1])[:5])
    )  # fmt: skip
    assert server.start_rss > 0 and server.peak_rss >= server.start_rss
    assert server.peak_rss < bound
