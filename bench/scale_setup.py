"""What ``python -m bench scale`` runs against: moto behind the counting
proxy, fresh buckets holding the originals, the app servers' commands and
settings, and the resize URLs."""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import imageattach.imaging  # noqa: F401  (imageattach's ImageMagick policy before wand)

# isort: split
from imageattach.imaging import probe
from imageattach.sizing import thumbnail_size
from imageattach.stores.s3 import S3Store

from . import procs, s3count

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECRET = "bench-scale-secret-0123456789abcdef"
REGION = "us-east-1"
OBJECT_TYPE = "photo"
#: Credentials for moto, and no way to real AWS.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
KINDS = ("gunicorn", "uvicorn", "granian")
#: In each server's directory: a line per thumbnail it generated.
GENERATIONS_LOG = "generations.log"
_APP = "bench.apps.scale_app"


def command(kind: str, port: int) -> list[str]:
    """The command line of a ``kind`` server of :mod:`bench.apps.scale_app`."""
    python = (sys.executable, "-m")
    if kind == "gunicorn":
        # Threads enough to hold the requests that wait for a generation.
        return [
            *(*python, "gunicorn", "--workers", "1", "--worker-class", "gthread"),
            *("--threads", "64", "--bind", f"{HOST}:{port}", "--log-level", "warning"),
            f"{_APP}:wsgi()",
        ]
    if kind == "uvicorn":
        return [
            *(*python, "uvicorn", "--host", HOST, "--port", str(port), "--lifespan", "off"),
            *("--no-access-log", "--log-level", "warning", "--factory", f"{_APP}:asgi"),
        ]
    if kind == "granian":
        return [
            *(*python, "granian", "--interface", "asgi", "--workers", "1", "--host", HOST),
            *("--port", str(port), "--no-ws", "--log-level", "warning"),
            *("--factory", f"{_APP}:asgi"),
        ]
    raise ValueError(f"unknown server {kind!r}")


@dataclass(frozen=True)
class Thumbnail:
    """A resize URL's thumbnail: of original number ``original``, this size."""

    original: int
    width: int
    height: int


@dataclass
class _Original:
    """The columns of an original row a resize URL needs (no database)."""

    object_type: str
    object_id: int
    width: int
    height: int
    mimetype: str = "image/jpeg"
    created_at: datetime.datetime = datetime.datetime(2024, 1, 2, 3, 4, 5)
    original: bool = True


def thumbnails(
    sizes: Sequence[tuple[int, int]], count: int, *, first_width: int, step: int
) -> list[Thumbnail]:
    """``count`` distinct thumbnails of the originals of ``sizes``: of each
    in turn, ``step`` px wider each round."""
    made = []
    for index in range(count):
        number = index % len(sizes)
        width, height = sizes[number]
        wanted = first_width + step * (index // len(sizes))
        made.append(Thumbnail(number + 1, *thumbnail_size(width, height, width=wanted)))
    return made


class World:
    """moto, the counting proxy in front of it, and the originals' bytes."""

    def __init__(self, directory: Path, photos: Sequence[bytes]) -> None:
        self.directory = directory
        self.photos = list(photos)
        self.sizes = [(info.width, info.height) for info in map(probe, self.photos)]
        moto_port, self.proxy_port = procs.free_port(), procs.free_port()
        self.moto_url = f"http://{HOST}:{moto_port}"
        self.proxy_url = f"http://{HOST}:{self.proxy_port}"
        self.moto = procs.Server(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)],
            moto_port,
            log_path=directory / "moto.log",
            env={**os.environ, **FAKE_AWS},
        )
        self.proxy = procs.Server(
            "s3count",
            [
                *(sys.executable, "-m", "bench.s3count"),
                *("--port", str(self.proxy_port), "--upstream", self.moto_url),
            ],
            self.proxy_port,
            log_path=directory / "s3count.log",
            cwd=ROOT,
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """moto and the proxy, up inside the block and stopped after it."""
        with procs.running([self.moto, self.proxy], {"moto": "/", "s3count": s3count.COUNTS_PATH}):
            yield

    def bucket(self) -> S3Store:
        """A fresh bucket holding the originals, as a store that talks to
        moto directly (nothing it does is counted) and signs resize URLs."""
        store = S3Store(
            f"bench-scale-{uuid.uuid4().hex[:16]}",
            endpoint_url=self.moto_url,
            region=REGION,
            aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
            resize_secret_key=SECRET,
            resize_url_base=f"http://{HOST}/",
        )
        store.client.create_bucket(Bucket=store.bucket)
        for number, (data, size) in enumerate(zip(self.photos, self.sizes, strict=True), 1):
            store.put_file(io.BytesIO(data), OBJECT_TYPE, number, *size, "image/jpeg", False)
        return store

    def url_path(self, store: S3Store, thumbnail: Thumbnail) -> str:
        """The signed resize URL of ``thumbnail``, as a path and query."""
        size = self.sizes[thumbnail.original - 1]
        original = _Original(OBJECT_TYPE, thumbnail.original, *size)
        url = store.locate_resized(original, thumbnail.width, thumbnail.height)  # type: ignore[arg-type]
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"

    def servers(
        self, kinds: Sequence[str], labels: Sequence[str], store: S3Store, settings: Settings
    ) -> list[procs.Server]:
        """App servers (not started) of ``store``'s bucket, each with a
        directory of its own (its ``TMPDIR`` and, without Redis, its lock
        directory): they share only S3 and Redis."""
        servers = []
        for kind, label in zip(kinds, labels, strict=True):
            directory = self.directory / store.bucket / label
            directory.mkdir(parents=True)
            env = {
                **os.environ,
                **FAKE_AWS,
                "BENCH_SCALE_BUCKET": store.bucket,
                "BENCH_SCALE_ENDPOINT": self.proxy_url,
                "BENCH_SCALE_PUBLIC": f"{self.moto_url}/{store.bucket}",
                "BENCH_SCALE_SECRET": SECRET,
                "BENCH_SCALE_LOCK": settings.redis_url or "",
                "BENCH_SCALE_LOCK_PREFIX": settings.redis_prefix,
                "BENCH_SCALE_LOCK_DIR": str(directory / "locks"),
                "BENCH_SCALE_QUEUE": str(settings.queue),
                "BENCH_SCALE_LOG": str(directory / GENERATIONS_LOG),
                "TMPDIR": str(directory),
            }
            port = procs.free_port()
            log = directory / "server.log"
            servers.append(
                procs.Server(label, command(kind, port), port, log_path=log, env=env, cwd=ROOT)
            )
        return servers


def generations(server: procs.Server) -> int:
    """How many thumbnails ``server`` has generated so far (its log's lines)."""
    try:
        with open(server.log_path.parent / GENERATIONS_LOG, "rb") as log:
            return sum(1 for _ in log)
    except FileNotFoundError:
        return 0


@dataclass(frozen=True)
class Settings:
    """What the servers of one setup share."""

    #: Redis leases at this URL, or ``None``: a lock directory per server.
    redis_url: str | None
    #: The Redis key prefix (the setup's namespace).
    redis_prefix: str
    #: ``resize_queue``: room for every request in flight, so none is shed.
    queue: int


def forget(url: str, prefix: str) -> None:
    """Delete the Redis keys under ``prefix`` (leases a stopped server left)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        with contextlib.suppress(redis.RedisError):
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                client.delete(key)
    finally:
        client.close()
