"""Leases in a real Redis (imageattach.leases), held by real processes."""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from images import jpeg
from observed import metrics_registry, value
from originals import KEY, Original
from processes import stop_group

from imageattach.adapters.settings import store_from_settings
from imageattach.exceptions import ConfigurationError, StoreUnavailableError
from imageattach.leases import RedisLeases, resize_leases
from imageattach.middleware.miss import FILE_READY, MissResponse
from imageattach.stores.fs import HttpExposedFileSystemStore
from imageattach.stores.s3 import S3Store
from imageattach.storespec import parse_store

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def client(redis_url: str, service_namespace: str) -> Iterator[redis.Redis]:
    """A client of the test Redis; the test's keys are deleted afterwards."""
    connection = redis.Redis.from_url(redis_url)
    yield connection
    for key in connection.scan_iter(f"{service_namespace}*"):
        connection.delete(key)
    connection.close()


@pytest.fixture
def closed_url() -> str:
    """A Redis URL nothing listens at."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


Holder = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def holder(redis_url: str, service_namespace: str) -> Iterator[Holder]:
    """Start tests/leaseholder.py with the test's namespace; stopped after."""
    started: list[subprocess.Popen[str]] = []

    def start(ttl: float, *arguments: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [
                sys.executable,
                str(TESTS / "leaseholder.py"),
                redis_url,
                service_namespace,
                str(ttl),
                *arguments,
            ],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        stop_group(process)  # type: ignore[arg-type]


def wait_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"the holder exited with {process.wait()}"
    return line


def test_one_holder_at_a_time_across_processes(holder: Holder, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    processes = [holder(5, "count", "shared", "25", str(journal)) for _ in range(4)]
    for process in processes:
        assert process.wait(60) == 0
    lines = journal.read_text().splitlines()
    assert len(lines) == 4 * 25 * 2
    pids = set()
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        # Nobody else wrote between one holder's enter and exit.
        assert enter.split() == ["enter", leave.split()[1]] and leave.startswith("exit ")
        pids.add(leave.split()[1])
    assert len(pids) == 4


def test_a_killed_holder_frees_the_lease_within_its_ttl(
    holder: Holder, redis_url: str, service_namespace: str, client: redis.Redis
) -> None:
    ttl = 1.0
    process = holder(ttl, "hold", "orphan")
    assert wait_line(process) == "held\n"
    leases = RedisLeases(redis_url, prefix=service_namespace, ttl=ttl)
    with pytest.raises(TimeoutError), leases.hold("orphan", timeout=0.3):
        pass
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed = time.monotonic()
    with leases.hold("orphan", timeout=10):
        waited = time.monotonic() - killed
        token = client.get(leases.key("orphan"))
    assert token is not None
    assert waited < ttl + 2  # a hang guard: the lease expired, nobody released it
    assert client.get(leases.key("orphan")) is None


def test_renewal_keeps_a_lease_past_its_ttl(
    redis_url: str, service_namespace: str, client: redis.Redis
) -> None:
    leases = RedisLeases(redis_url, prefix=service_namespace, ttl=0.5)
    other = RedisLeases(redis_url, prefix=service_namespace, ttl=0.5)
    with leases.hold("long", timeout=1):
        token = client.get(leases.key("long"))
        started = time.monotonic()
        refused = 0
        while time.monotonic() - started < 1.6:  # over three TTLs
            with pytest.raises(TimeoutError), other.hold("long", timeout=0.1):
                pass
            refused += 1
        assert client.get(leases.key("long")) == token
    assert refused >= 4
    assert client.get(leases.key("long")) is None


def test_release_deletes_only_its_own_token(
    redis_url: str,
    service_namespace: str,
    client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    leases = RedisLeases(redis_url, prefix=service_namespace, ttl=0.3)
    key = leases.key("taken")
    with caplog.at_level(logging.WARNING, logger="imageattach.leases"):
        with leases.hold("taken", timeout=1):
            # As if the lease had expired and another server taken it.
            client.set(key, b"another-holder", px=5000)
            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.02)
        assert client.get(key) == b"another-holder"
    [record] = caplog.records
    assert "lost the lease" in record.getMessage()
    assert record.image_key == "taken"  # type: ignore[attr-defined]


def test_a_waiter_gets_the_lease_soon_after_release(
    holder: Holder, redis_url: str, service_namespace: str
) -> None:
    process = holder(5, "hold-for", "handover", "0.5")
    assert wait_line(process) == "held\n"
    leases = RedisLeases(redis_url, prefix=service_namespace, ttl=5)
    with leases.hold("handover", timeout=10):
        acquired = time.time()
    released = float(wait_line(process).split()[1])
    assert released <= acquired + 0.05  # not before it was released (clock granularity)
    assert acquired - released < 1.0  # a hang guard: woken, or polls 0.25 s apart at most


def test_release_wakes_the_waiters(
    redis_url: str, service_namespace: str, client: redis.Redis
) -> None:
    leases = RedisLeases(redis_url, prefix=service_namespace)
    channel = f"{leases.key('wake')}:released"
    with contextlib.closing(client.pubsub(ignore_subscribe_messages=True)) as waiter:
        waiter.subscribe(channel)
        with leases.hold("wake", timeout=1):
            # A lease taken over by another holder: releasing it is no release.
            client.set(leases.key("wake"), b"another-holder")
        quiet_until = time.monotonic() + 0.5
        while time.monotonic() < quiet_until:  # the subscription's own reply is skipped
            assert waiter.get_message(timeout=0.1) is None
        client.delete(leases.key("wake"))
        with leases.hold("wake", timeout=1):
            pass
        deadline = time.monotonic() + 5
        message = None
        while message is None and time.monotonic() < deadline:
            message = waiter.get_message(timeout=1)
    assert message is not None and message["channel"] == channel.encode()


def test_a_redis_client_and_fork(redis_url: str, service_namespace: str) -> None:
    leases = RedisLeases(redis.Redis.from_url(redis_url), prefix=service_namespace)
    with leases.hold("before-fork", timeout=1):
        pass
    # gunicorn forks after the store is built: the child uses its own connection.
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_hold_once, args=(leases,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    with leases.hold("after-fork", timeout=1):
        pass


def _hold_once(leases: RedisLeases) -> None:
    with leases.hold("in-child", timeout=5):
        pass


def test_nothing_connects_at_construction(closed_url: str, tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path, resize_lock=closed_url, secret_key=KEY)
    assert store.resize_lock is not None
    assert store.resizer.locks is store.resize_lock


def test_redis_down_falls_back_to_local_locks(
    closed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    leases = RedisLeases(closed_url, prefix="unused", ttl=1)
    inside = 0
    most = 0
    guard = threading.Lock()

    def hold() -> None:
        nonlocal inside, most
        with leases.hold("cold", timeout=10):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.01)
            with guard:
                inside -= 1

    with (
        caplog.at_level(logging.WARNING, logger="imageattach.leases"),
        ThreadPoolExecutor(8) as pool,
    ):
        for future in [pool.submit(hold) for _ in range(16)]:
            future.result()
    assert most == 1
    # Rate-limited: one warning, naming the key.
    [record] = caplog.records
    assert "unreachable" in record.getMessage()
    assert record.image_key == "cold"  # type: ignore[attr-defined]


def test_redis_failures_are_counted(closed_url: str) -> None:
    """Every lease Redis could not serve is counted (only the log is rate-limited)."""
    with metrics_registry() as registry:
        for _ in range(3):
            with RedisLeases(closed_url, prefix="unused").hold("cold", timeout=1):
                pass
        with (
            pytest.raises(StoreUnavailableError),
            RedisLeases(closed_url, prefix="unused", fallback="refuse").hold("cold", timeout=1),
        ):
            pass
    failures = [
        value(registry, "imageattach_lease_failures_total", outcome=outcome)
        for outcome in ("fallback", "refused", "lost")
    ]
    assert failures == [3, 1, 0]


def _fs_store(tmp_path: Path, **options: Any) -> tuple[HttpExposedFileSystemStore, str]:
    """A store with an original, and the path and query of a cold resize URL."""
    store = HttpExposedFileSystemStore(
        tmp_path / "images", "__images__", lambda: "http://testserver/", secret_key=KEY, **options
    )
    store.put_file(io.BytesIO(jpeg(64, 48)), "thing", 7, 64, 48, "image/jpeg", False)
    original = Original("thing", 7, 64, 48, "image/jpeg")
    parts = urlsplit(store.locate_resized(original, 32, 24))  # type: ignore[arg-type]
    return store, f"{parts.path.removeprefix('/__images__/')}?{parts.query}"


def test_redis_down_local_generates_once(
    closed_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, url = _fs_store(tmp_path, resize_lock=closed_url, resize_lock_ttl=1)
    try:
        logs = caplog.at_level(logging.WARNING, logger="imageattach.leases")
        with logs, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: store.resizer.handle(*url.split("?")), range(8)))
        assert answers == [FILE_READY] * 8
        assert store.resizer.generations == 1
        assert (tmp_path / "images" / "thing/7/0/7.32x24.jpe").is_file()
        assert [r.image_key for r in caplog.records] == [  # type: ignore[attr-defined]
            "thing/7/0/7.32x24.jpe"
        ]
    finally:
        store.resizer.shutdown()


def test_redis_down_refuse(closed_url: str, tmp_path: Path) -> None:
    leases = RedisLeases(closed_url, prefix="unused", fallback="refuse")
    with pytest.raises(StoreUnavailableError, match="unreachable"), leases.hold("x", timeout=1):
        pass
    store, url = _fs_store(tmp_path, resize_lock=closed_url, resize_lock_fallback="refuse")
    try:
        answer = store.resizer.handle(*url.split("?"))
        assert isinstance(answer, MissResponse) and answer.status == 503
        assert not (tmp_path / "images" / "thing/7/0/7.32x24.jpe").exists()
        assert store.resizer.generations == 0
    finally:
        store.resizer.shutdown()


def test_two_stores_on_one_redis_do_not_share_leases(tmp_path: Path) -> None:
    url = "redis://127.0.0.1:6379/0"
    one = HttpExposedFileSystemStore(tmp_path / "one", resize_lock=url)
    two = HttpExposedFileSystemStore(tmp_path / "two", resize_lock=url)
    assert one.resize_lock is not None and two.resize_lock is not None
    assert one.resize_lock.key("k") != two.resize_lock.key("k")
    shared = HttpExposedFileSystemStore(tmp_path / "one", resize_lock=url, resize_lock_prefix="p")
    assert shared.resize_lock is not None and shared.resize_lock.key("k") == "p:resize:k"
    s3 = S3Store("bucket", prefix="media", resize_lock=url, region="us-east-1")
    assert s3.resize_lock is not None
    assert s3.resize_lock.key("k") == "imageattach:s3:bucket/media:resize:k"
    assert s3._object_locks.key("thing/1") == "imageattach:s3:bucket/media:object:thing/1"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resize_lock": "http://127.0.0.1:6379"}, "resize_lock must be a redis://"),
        ({"resize_lock": 6379}, "resize_lock must be a redis:// URL or a redis.Redis client"),
        ({"resize_lock": "redis://h", "resize_lock_ttl": 0}, "resize_lock_ttl must be"),
        ({"resize_lock": "redis://h", "resize_lock_ttl": "30"}, "resize_lock_ttl must be"),
        ({"resize_lock": "redis://h", "resize_lock_fallback": "wait"}, "resize_lock_fallback"),
        ({"resize_lock": "redis://h", "resize_lock_prefix": ""}, "resize_lock_prefix must be"),
        ({"resize_lock_ttl": 10}, "resize_lock_ttl needs resize_lock="),
        ({"resize_lock_fallback": "refuse"}, "resize_lock_fallback needs resize_lock="),
    ],
)
def test_invalid_options(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        HttpExposedFileSystemStore(tmp_path, **options)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=message):
        S3Store("bucket", region="us-east-1", **options)  # type: ignore[arg-type]


def test_resize_lock_and_resize_lock_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="resize_lock or resize_lock_dir, not both"):
        S3Store(
            "bucket", region="us-east-1", resize_lock="redis://h", resize_lock_dir=str(tmp_path)
        )


def test_no_resize_lock() -> None:
    assert resize_leases(None, where="fs:/x") is None


def test_from_a_store_spec(redis_url: str) -> None:
    from urllib.parse import quote

    store = parse_store(
        f"s3://bucket/media?region=us-east-1&resize_lock={quote(redis_url, safe='')}"
        "&resize_lock_ttl=5&resize_lock_fallback=refuse&conditional_writes=false"
    )
    assert isinstance(store, S3Store)
    assert store.resize_lock is not None
    assert (store.resize_lock.ttl, store.resize_lock.fallback) == (5.0, "refuse")
    assert store.resize_lock.key("k") == "imageattach:s3:bucket/media:resize:k"
    assert not store.conditional_writes
    with pytest.raises(ConfigurationError, match="resize_lock must be a redis://"):
        parse_store("s3://bucket?resize_lock=localhost")


def test_from_framework_settings(redis_url: str, tmp_path: Path) -> None:
    def key(name: str) -> str:
        return f"imageattach.{name}"

    store = store_from_settings(
        {
            "imageattach.store_path": str(tmp_path),
            "imageattach.resize_lock": redis_url,
            "imageattach.resize_lock_ttl": "5",
            "imageattach.resize_lock_prefix": "site",
        },
        key=key,
    )
    assert store.resize_lock is not None
    assert (store.resize_lock.ttl, store.resize_lock.key("k")) == (5.0, "site:resize:k")
    with pytest.raises(ConfigurationError, match=r"imageattach.resize_lock_ttl must be"):
        store_from_settings(
            {"imageattach.store_path": str(tmp_path), "imageattach.resize_lock_ttl": "soon"},
            key=key,
        )
    with pytest.raises(ConfigurationError, match="resize_lock_fallback must be"):
        store_from_settings(
            {
                "imageattach.store_path": str(tmp_path),
                "imageattach.resize_lock": redis_url,
                "imageattach.resize_lock_fallback": "never",
            },
            key=key,
        )


def test_without_redis_py(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["redis"] = None  # as if the redis extra were not installed
from imageattach.exceptions import ConfigurationError
from imageattach.stores.fs import HttpExposedFileSystemStore
HttpExposedFileSystemStore({str(tmp_path)!r}, secret_key="k" * 16)
try:
    HttpExposedFileSystemStore({str(tmp_path)!r}, resize_lock="redis://127.0.0.1:6379/0")
except ConfigurationError as error:
    print(error)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout == "resize_lock needs redis-py: pip install 'imageattach[redis]'\n"


class Cuttable:
    """A TCP forwarder to Redis whose connections can be cut (Redis going
    away for this client only; the shared Redis stays up)."""

    def __init__(self, redis_url: str) -> None:
        import socket

        target = urlsplit(redis_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 6379)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"
        self._sockets: list[Any] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._target)
                self._sockets += [client, upstream]
                for one, other in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(one, other), daemon=True).start()

    @staticmethod
    def _pipe(source: Any, sink: Any) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def cut(self) -> None:
        """Close the listener and every connection: Redis is gone."""
        import socket

        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_redis_gone_while_holding(
    redis_url: str,
    service_namespace: str,
    client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    forwarder = Cuttable(redis_url)
    leases = RedisLeases(forwarder.url, prefix=service_namespace, ttl=1.5)
    with caplog.at_level(logging.WARNING, logger="imageattach.leases"):
        with leases.hold("cut", timeout=1):
            assert client.pttl(leases.key("cut")) > 0
            forwarder.cut()
            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.02)
        # Neither renewed nor released: it expires by itself.
        assert 0 < client.pttl(leases.key("cut")) <= 1500
    [record] = caplog.records  # rate-limited: renewals and the release say it once
    assert "could not renew a lease" in record.getMessage()
    assert record.image_key == "cut"  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while client.get(leases.key("cut")) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
