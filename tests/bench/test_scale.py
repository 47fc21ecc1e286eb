"""``python -m bench scale`` (docs/benchmarks.md, "Scale-out") end to end in
a tiny configuration (real moto, Redis, gunicorn, uvicorn and granian):
every request answered, every thumbnail generated and PUT once; and the
same servers without the shared Redis lease are caught generating a URL
more than once.  Its numbers are not checked."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench import loadclient, s3count, scale
from bench.procs import Server, free_port, running
from bench.trees import usage

ROOT = Path(__file__).resolve().parent.parent.parent
TINY = ("--urls", "4", "--originals", "2", "--megapixels", "1", "--concurrency", "8")


def bench_scale(tmp_path: Path, *argv: str) -> tuple[int, str, dict[str, Any]]:
    """Run ``python -m bench scale`` with ``argv``: its exit status, output
    and JSON results.  On a time-out it is sent SIGTERM, on which it stops
    its servers before exiting."""
    results = tmp_path / "results.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "scale", *argv, "--json", str(results)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        pytest.fail(f"bench scale did not finish in 120 s:\n{output[-3000:]}")
    found = json.loads(results.read_text()) if results.exists() else {}
    return process.returncode, output, found


@pytest.mark.e2e
def test_three_servers_and_one_generate_each_thumbnail_once(
    tmp_path: Path, redis_url: str, service_namespace: str
) -> None:
    status, output, results = bench_scale(
        tmp_path, *TINY, "--repeat", "4", "--redis", redis_url, "--redis-prefix", service_namespace
    )
    assert status == 0, output[-3000:]
    many, one = results["setups"]
    assert (many["title"], one["title"]) == ("3 servers", "1 server (gunicorn)")
    for setup in (many, one):
        assert setup["problems"] == [], setup["problems"]
        assert (setup["requests"], setup["failed"]) == (16, 0)
        assert setup["puts_per_url"] == [1, 1, 1, 1]
        assert sum(use["generations"] for use in setup["servers"].values()) == 4
    assert set(many["servers"]) == {"gunicorn", "uvicorn", "granian"}
    for use in [*many["servers"].values(), *one["servers"].values()]:
        assert use["requests"] > 0
        assert use["peak_rss"] >= use["start_rss"] > 0
    assert "3 servers / 1 server (gunicorn): generations/s" in output


@pytest.mark.e2e
def test_servers_without_the_shared_lease_are_caught_generating_twice(tmp_path: Path) -> None:
    # Each URL's 6 requests reach each of the 3 servers twice, all at once;
    # with a lock directory each, every server generates what it is asked.
    status, output, results = bench_scale(
        tmp_path, *TINY, "--repeat", "6", "--concurrency", "24", "--lock", "dir", "--no-single"
    )
    assert status == 1, output[-3000:]
    [setup] = results["setups"]
    assert setup["failed"] == 0
    assert max(setup["puts_per_url"]) > 1
    assert sum(use["generations"] for use in setup["servers"].values()) > 4
    assert any("not once" in problem for problem in setup["problems"])
    assert "!!! 3 servers:" in output
    assert "PUTs per URL" in output and "(!)" in output


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--redis", "redis://192.0.2.1:6379/0"], "--redis"),
        (["--redis", "redis://127.0.0.1:1/0"], "--redis: no Redis at redis://127.0.0.1:1/0"),
        (["--servers", "gunicorn,nginx"], "--servers"),
        (["--urls", "0"], "--urls"),
        (["--megapixels", "0"], "--megapixels"),
        (["--single", "waitress"], "--single"),
        (["--megapixels", "0.02", "--urls", "16", "--lock", "dir"], "--urls 16 over 4 originals"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        scale.parse(argv)
    assert exit.value.code == 2
    assert named in capsys.readouterr().err


def test_the_proxy_counts_each_request_by_method_path_and_status(tmp_path: Path) -> None:
    upstream_port, proxy_port = free_port(), free_port()
    upstream = Server(
        "upstream",
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(upstream_port)],
        upstream_port,
        log_path=tmp_path / "upstream.log",
        cwd=tmp_path,
    )
    proxy = Server(
        "proxy",
        [
            *(sys.executable, "-m", "bench.s3count", "--port", str(proxy_port)),
            *("--upstream", f"http://127.0.0.1:{upstream_port}"),
        ],
        proxy_port,
        log_path=tmp_path / "proxy.log",
        cwd=ROOT,
    )
    (tmp_path / "here.txt").write_text("here")
    with running([upstream, proxy], {"upstream": "/", "proxy": s3count.COUNTS_PATH}):
        requests = [
            loadclient.Request(n, "proxy", proxy_port, path)
            for n, path in enumerate(["/here.txt", "/here.txt", "/gone.txt"])
        ]
        run = loadclient.run(requests, concurrency=3, time_limit=30)
        counted = s3count.counts(proxy_port)
    assert sorted(answer.status for answer in run.answers) == [200, 200, 404]
    assert sorted(counted) == [("GET", "/gone.txt", 404, 1), ("GET", "/here.txt", 200, 2)]


def test_a_tree_counts_the_processes_outside_its_session() -> None:
    # A child that starts a grandchild in a session of its own, as
    # imageattach starts its decoding workers; the grandchild holds 64 MiB.
    script = (
        "import subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c',"
        " 'import time; b = bytearray(64 << 20); time.sleep(60)'], start_new_session=True);"
        "time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        for _ in range(100):
            used = usage({"child": child.pid})["child"]
            if used.rss > 64 << 20:
                break
            time.sleep(0.05)
        assert used.rss > 64 << 20
        assert usage({"gone": 2**22 + 1})["gone"].rss == 0
    finally:
        for pid in _tree(child.pid):
            os.kill(pid, signal.SIGKILL)
        child.wait()


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from ``/proc``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_bytes()
            except OSError:
                continue
            parents[int(entry.name)] = int(text[text.rindex(b")") + 2 :].split()[1])
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += [child for child, parent in parents.items() if parent == pid]
    return found


def test_the_client_gives_up_at_its_time_limit() -> None:
    # A server that accepts connections and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        requests = [loadclient.Request(n, "silent", port, "/") for n in range(3)]
        started = time.monotonic()
        run = loadclient.run(requests, concurrency=1, time_limit=1)
        # A hang guard, not a timing: one request waits out the limit.
        assert time.monotonic() - started < 30
    first, *rest = run.answers
    assert (first.status, first.error) == (0, "TimeoutError: timed out")
    assert [(a.status, a.error) for a in rest] == [(0, "not sent: time limit reached")] * 2
