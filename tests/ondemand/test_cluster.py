"""Three app servers (gunicorn, uvicorn, granian) that share no lock
directory, only the moto S3 server (or a shared directory) and Redis: one
cold resize URL is generated once across them (tests/ondemand/clusterapp.py),
also when the server generating it is killed."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from images import jpeg
from originals import KEY, Original
from stores.s3server import FaultProxy, MotoServer, s3_options

from imageattach.stores.fs import HttpExposedFileSystemStore
from imageattach.stores.s3 import S3Store

from .servers import Server, started

pytestmark = pytest.mark.e2e

KINDS = ("gunicorn", "uvicorn", "granian")
ORIGINAL: Any = Original("thing", 9, 640, 480, "image/jpeg")


@dataclass
class Answer:
    server: str
    status: int
    location: str | None
    body: bytes
    seconds: float


@contextlib.contextmanager
def cluster(env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Server]]:
    """The three servers of clusterapp, each with its own temp dir."""
    with contextlib.ExitStack() as stack:
        servers = {}
        for kind in KINDS:
            own = tmp_path / kind
            own.mkdir()
            server_env = {**env, "IA_NAME": kind, "TMPDIR": str(own)}
            output = tmp_path / f"{kind}.out"
            servers[kind] = stack.enter_context(
                started(kind, server_env, output, "ondemand.clusterapp")
            )
        yield servers


def base_env(tmp_path: Path, redis_url: str, namespace: str, **more: str) -> dict[str, str]:
    return {
        "IA_LOG": str(tmp_path / "generations.log"),
        "IA_KEY": KEY,
        "IA_REDIS": redis_url,
        "IA_LOCK_PREFIX": namespace,
        **more,
    }


def log_lines(tmp_path: Path, word: str) -> list[list[str]]:
    """``[pid, server, message...]`` of the log lines whose message starts with ``word``."""
    path = tmp_path / "generations.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.split() for line in lines if line.split()[2:3] == [word]]


def get(client: httpx.Client, server: str, url: str) -> Answer:
    began = time.monotonic()
    response = client.get(url)
    location = response.headers.get("location")
    return Answer(
        server, response.status_code, location, response.content, time.monotonic() - began
    )


def stampede(servers: dict[str, Server], path: str, count: int) -> list[Answer]:
    """``count`` concurrent GETs of ``path``, spread over the servers."""
    targets = [(kind, servers[kind].url + path) for kind in KINDS] * (count // 3 + 1)
    with (
        httpx.Client(timeout=60, limits=httpx.Limits(max_connections=count)) as client,
        ThreadPoolExecutor(count) as pool,
    ):
        return list(pool.map(lambda target: get(client, *target), targets[:count]))


def s3_cluster_env(
    tmp_path: Path, redis_url: str, namespace: str, proxy: FaultProxy, bucket: str, **more: str
) -> dict[str, str]:
    return base_env(
        tmp_path,
        redis_url,
        namespace,
        IA_STORE="s3",
        IA_ENDPOINT=proxy.url,
        IA_BUCKET=bucket,
        **more,
    )


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    """A recording proxy in front of the moto server (counts the PUTs)."""
    proxy = FaultProxy(moto_server.url)
    yield proxy
    proxy.close()


def s3_original(moto_server: MotoServer, proxy: FaultProxy) -> tuple[S3Store, str]:
    """A fresh bucket with the original; the path and query of its cold URL."""
    store = S3Store(
        moto_server.new_bucket(),
        **s3_options(proxy.url, resize_secret_key=KEY, resize_url_base="http://x/"),
    )
    store.put_file(io.BytesIO(jpeg(640, 480)), "thing", 9, 640, 480, "image/jpeg", False)
    parts = urlsplit(store.locate_resized(ORIGINAL, 150, 113))
    return store, f"{parts.path}?{parts.query}"


def thumbnail_puts(proxy: FaultProxy, store: S3Store) -> list[int]:
    key = store.get_key("thing", 9, 150, 113, "image/jpeg")
    return [status for method, path, status in proxy.answers if method == "PUT" and key in path]


def test_64_requests_over_three_servers_make_one_s3_put(
    moto_server: MotoServer,
    proxy: FaultProxy,
    redis_url: str,
    service_namespace: str,
    tmp_path: Path,
) -> None:
    store, path = s3_original(moto_server, proxy)
    env = s3_cluster_env(
        tmp_path, redis_url, service_namespace, proxy, store.bucket, IA_DELAY="0.3"
    )
    with cluster(env, tmp_path) as servers:
        began = time.monotonic()
        answers = stampede(servers, path, 64)
        took = time.monotonic() - began
    assert [a.status for a in answers] == [302] * 64
    assert {a.server for a in answers} == set(KINDS)
    [location] = {a.location for a in answers}
    assert location is not None
    assert thumbnail_puts(proxy, store) == [200]
    with httpx.Client() as client:
        bodies = {client.get(a.location or "").content for a in answers}
    assert len(bodies) == 1
    assert bodies.pop()[:3] == b"\xff\xd8\xff"  # a JPEG
    assert len(log_lines(tmp_path, "generated")) == 1
    print(f"64 requests over three servers: {took:.2f} s")


def test_without_leases_conditional_writes_still_publish_once(
    moto_server: MotoServer, proxy: FaultProxy, service_namespace: str, tmp_path: Path
) -> None:
    store, path = s3_original(moto_server, proxy)
    env = s3_cluster_env(tmp_path, "none", service_namespace, proxy, store.bucket, IA_DELAY="0.3")
    with cluster(env, tmp_path) as servers:
        answers = stampede(servers, path, 24)
    assert [a.status for a in answers] == [302] * 24
    # Each server generated (nothing made them wait for each other); the
    # first PUT won, moto refused the others (412), which count as stored.
    puts = thumbnail_puts(proxy, store)
    assert puts.count(200) == 1 and set(puts) <= {200, 412}
    assert len(log_lines(tmp_path, "generated")) == len(puts)


def test_a_shared_volume_with_redis_leases_generates_once(
    redis_url: str, service_namespace: str, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    local = HttpExposedFileSystemStore(volume, host_url_getter=lambda: "http://x/", secret_key=KEY)
    local.put_file(io.BytesIO(jpeg(640, 480)), "thing", 9, 640, 480, "image/jpeg", False)
    parts = urlsplit(local.locate_resized(ORIGINAL, 150, 113))
    env = base_env(
        tmp_path, redis_url, service_namespace, IA_STORE="fs", IA_ROOT=str(volume), IA_DELAY="0.3"
    )
    with cluster(env, tmp_path) as servers:
        answers = stampede(servers, f"{parts.path}?{parts.query}", 64)
    assert [a.status for a in answers] == [200] * 64
    assert {a.server for a in answers} == set(KINDS)
    assert len({a.body for a in answers}) == 1
    assert (volume / "thing/9/0/9.150x113.jpe").read_bytes() == answers[0].body
    assert len(log_lines(tmp_path, "generating")) == 1
    assert len(log_lines(tmp_path, "generated")) == 1


def test_a_server_killed_mid_generation(
    moto_server: MotoServer,
    proxy: FaultProxy,
    redis_url: str,
    service_namespace: str,
    tmp_path: Path,
) -> None:
    ttl, delay = 2.0, 1.5
    store, path = s3_original(moto_server, proxy)
    env = s3_cluster_env(
        tmp_path,
        redis_url,
        service_namespace,
        proxy,
        store.bucket,
        IA_DELAY=str(delay),
        IA_LOCK_TTL=str(ttl),
    )
    with (
        cluster(env, tmp_path) as servers,
        httpx.Client(timeout=60) as client,
        ThreadPoolExecutor(16) as pool,
    ):
        victim = servers["gunicorn"]
        doomed = pool.submit(get, client, "gunicorn", victim.url + path)
        deadline = time.monotonic() + 30
        while not log_lines(tmp_path, "generating"):
            assert time.monotonic() < deadline and not doomed.done()
            time.sleep(0.02)
        # gunicorn holds the lease and is generating: the others wait for it.
        others = [kind for kind in KINDS if kind != "gunicorn"]
        waiting = [pool.submit(get, client, kind, servers[kind].url + path) for kind in others * 3]
        time.sleep(0.3)
        os.killpg(victim.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        arriving = [pool.submit(get, client, kind, servers[kind].url + path) for kind in others]
        answers = [future.result() for future in waiting + arriving]
        settled = time.monotonic() - killed
        with pytest.raises(httpx.HTTPError):
            doomed.result()
    assert [a.status for a in answers] == [302] * len(answers)
    # A hang guard, generous: the lease expires within its TTL, then one
    # generation; a request waiting past it would have had its 503.
    assert settled < ttl + delay + 10
    generating = log_lines(tmp_path, "generating")
    assert [line[1] for line in generating[:1]] == ["gunicorn"]
    assert len(generating) == 2 and generating[1][1] in others
    [generated] = log_lines(tmp_path, "generated")
    assert generated[1] == generating[1][1]
    assert thumbnail_puts(proxy, store) == [200]
    print(f"answered {settled:.2f} s after the kill (ttl {ttl}, generation {delay} s)")
