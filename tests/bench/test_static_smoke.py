"""The static benchmark's cheap parts: its apps serve the exact file, and
its wrk report parser and ratios read what they should; and one short
round of ``python -m bench static --auto`` on one server runs (its numbers
are not checked)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from bench import wrk
from bench.apps import ours, servestatic_peer, starlette_peer, whitenoise_peer
from bench.contenders import OURS_AUTO, build
from bench.fixtures import SPECS, File, Spec, make_jpeg, write_files, write_negotiated_copies
from bench.report import Ratio, Series, median_interval
from bench.static import ACCEPT
from imageattach.stores.fs import HttpExposedFileSystemStore

PREFIX = "__images__"


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, File]:
    root = tmp_path_factory.mktemp("bench-images")
    small = Spec("small", 7, 64, 48, 2048, 1.0)
    (file,) = write_files(HttpExposedFileSystemStore(root, PREFIX), (small,))
    return root, file


def test_files_are_deterministic_jpegs_near_their_target() -> None:
    spec = SPECS[0]
    data = make_jpeg(spec)
    assert data[:3] == b"\xff\xd8\xff"
    assert abs(len(data) - spec.target_bytes) < spec.target_bytes * 0.1
    assert make_jpeg(spec) == data


def _wsgi_get(app: Any, path: str) -> tuple[int, str, bytes]:
    response = Client(app).get(path)
    return response.status_code, response.headers.get("Content-Type", ""), response.get_data()


def _asgi_get(app: Any, path: str) -> tuple[int, str, bytes]:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            return await client.get(path)

    response = asyncio.run(get())
    return response.status_code, response.headers.get("content-type", ""), response.content


PEERS: list[tuple[str, Callable[[str], Any], Callable[[Any, str], tuple[int, str, bytes]]]] = [
    ("whitenoise", whitenoise_peer.build_wsgi, _wsgi_get),
    ("servestatic", servestatic_peer.build_asgi, _asgi_get),
    ("starlette", starlette_peer.build_asgi, _asgi_get),
]


@pytest.mark.parametrize(("name", "build", "get"), PEERS, ids=[p[0] for p in PEERS])
def test_peer_serves_the_exact_file_from_its_root(
    stored: tuple[Path, File],
    name: str,
    build: Callable[[str], Any],
    get: Callable[[Any, str], tuple[int, str, bytes]],
) -> None:
    root, file = stored
    app = build(str(root))
    assert get(app, f"/{file.path}") == (200, "image/jpeg", file.data)
    assert get(app, "/bench/no-such-file.jpe")[0] == 404


@pytest.mark.parametrize(
    ("build", "get"),
    [(ours.build_wsgi, _wsgi_get), (ours.build_asgi, _asgi_get)],
    ids=["wsgi", "asgi"],
)
def test_ours_serves_the_exact_file_under_the_prefix(
    stored: tuple[Path, File],
    build: Callable[[str, str], Any],
    get: Callable[[Any, str], tuple[int, str, bytes]],
) -> None:
    root, file = stored
    app = build(str(root), PREFIX)
    status, content_type, body = get(app, f"/{PREFIX}/{file.path}")
    assert (status, content_type.split(";")[0], body) == (200, "image/jpeg", file.data)
    assert get(app, "/elsewhere")[0] == 404


def test_auto_url_serves_the_same_bytes_with_vary_accept(
    stored: tuple[Path, File], tmp_path: Path
) -> None:
    root, file = stored
    (copy,) = write_negotiated_copies(root, [file], ACCEPT)
    assert copy.endswith(".avif") and (root / copy).read_bytes() == file.data
    (auto,) = [
        c
        for c in build(
            ["granian-wsgi"],
            ours_wsgi=True,
            ours_asgi=True,
            prefix=PREFIX,
            nginx_dir=tmp_path,
            root=root,
            ours_auto=True,
        )
        if c.name == OURS_AUTO
    ]
    path = auto.url_path(file.path)
    assert path.endswith(".auto.jpe")
    response = Client(ours.build_wsgi(str(root), PREFIX)).get(path, headers={"Accept": ACCEPT})
    assert (response.status_code, response.get_data()) == (200, file.data)
    assert response.headers["Content-Type"].startswith("image/avif")
    assert "Accept" in response.headers["Vary"]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_bench_static_auto_runs_one_round(tmp_path: Path) -> None:
    output = tmp_path / "static.md"
    argv = ["--rounds", "1", "--auto", "--servers", "granian-wsgi", "--output", str(output)]
    result = subprocess.run(
        [sys.executable, "-m", "bench", "static", *argv],
        cwd=Path(__file__).resolve().parent.parent.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "left out" not in result.stderr
    assert re.search(r"\| granian, WSGI \| 20 KB \| [\d,]+ .*\| [\d.]+ \(", result.stdout)
    assert "| auto/plain |" in result.stdout
    assert "| granian, WSGI / ours, auto URL | image/avif |" in result.stdout


WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:8000/bench/1/0/1.640x480.jpe
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  210.10us   4.10ms   80.00%
    Req/Sec    21.10k     1.02k   22.30k    70.00%
  63012 requests in 3.00s, 1.21GB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:  20990.53
Transfer/sec:    413.20MB
"""


def test_wrk_report_is_read() -> None:
    result = wrk.parse(WRK_OUTPUT)
    assert result.requests_per_second == pytest.approx(20990.53)
    assert result.requests == 63012
    assert (result.non_2xx, result.socket_errors) == (12, 4)
    assert result.bytes_read == pytest.approx(1.21 * 1024**3)


def test_wrk_failure_is_not_a_report() -> None:
    with pytest.raises(ValueError, match="not a wrk report"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_ratio_is_paired_per_round_against_the_faster_peer() -> None:
    ours_ = Series((100.0, 90.0, 110.0))
    slow, fast = Series((50.0, 100.0, 50.0)), Series((100.0, 50.0, 100.0))
    ratio = Ratio.of(ours_, [slow, fast])
    assert ratio.per_round == (1.0, 0.9, 1.1)
    assert ratio.median == 1.0
    assert ratio.verdict == "tie"
    assert Ratio.of(ours_, [Series((200.0, 200.0, 200.0))]).verdict == "behind"
    assert ours_.median == 100.0
    assert ours_.spread == pytest.approx(0.1)


def test_median_interval_uses_order_statistics() -> None:
    assert median_interval([3.0, 1.0, 2.0]) == (1.0, 3.0)
    assert median_interval([float(n) for n in range(10, 0, -1)]) == (2.0, 9.0)
    assert median_interval([float(n) for n in range(1, 21)]) == (6.0, 15.0)
