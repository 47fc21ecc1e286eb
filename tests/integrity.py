"""Scenario code for tests/test_integrity.py: models, stores with injected
latency, worker processes, and the checker that compares the database with
the store.

A worker is ``python -m integrity`` (with tests/ on ``PYTHONPATH``): it reads
one JSON command per line on stdin and answers each with one line on stdout
(prefixed with :data:`MARK`; anything else on stdout is ignored).  Each
command names its database and store (:class:`Setup`), so long-lived workers
serve every test of a module.  Commands may carry ``at``: a wall-clock time
(``time.time()``) to start at, so that two workers start together.

Each original is a solid colour that encodes its *version* (the owner's
``version`` column), so the checker can tell from any thumbnail which
original it was made from.
"""

from __future__ import annotations

import imageattach.imaging  # first: the policy must be in force before wand loads

# isort: split
import contextlib
import io
import json
import logging
import os
import queue
import re
import secrets
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, ForeignKey, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from wand.image import Image as WandImage
from werkzeug.test import Client

from imageattach.context import store_context
from imageattach.entity import Image, SingleImageSet, image_attachment
from imageattach.ondemand.resizer import is_derived_size
from imageattach.store import Store
from imageattach.stores.fs import HttpExposedFileSystemStore
from imageattach.variants import split_mimetype, split_suffix

TESTS = Path(__file__).resolve().parent
#: Signs the resize URLs (the same in every process).
KEY = "integrity-secret-key-0123456789abcdef"
#: The host the resize URLs are made for (answered by a test client).
HOST = "http://testserver/"
PREFIX = "__images__"
OBJECT_TYPE = "iai-thing-cover"
#: Starts every answer line of a worker.
MARK = "@@integrity "
S3_REGION = "us-east-1"
S3_ACCESS_KEY = S3_SECRET_KEY = "testing"

logger = logging.getLogger("integrity")

#: The prefix of this test run's table names: its own, as the databases may
#: be shared with other runs at the same time.  Chosen by the first process
#: (pytest's), inherited by the workers through the environment.
TABLES = os.environ.setdefault("IA_INTEGRITY_TABLES", f"iai_{secrets.token_hex(4)}")


# -- models (own tables: clear of other tests' in the shared databases) ----------


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = f"{TABLES}_thing"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Which picture the cover's original is (its colour, see colour()).
    version: Mapped[int] = mapped_column(default=0)
    cover: Mapped[SingleImageSet[ThingCover]] = image_attachment(
        "ThingCover", back_populates="thing"
    )


class ThingCover(Base, Image):
    __tablename__ = f"{TABLES}_thing_cover"
    object_type = OBJECT_TYPE  # the same store paths whatever the table names

    thing_id: Mapped[int] = mapped_column(ForeignKey(Thing.id), primary_key=True)
    thing: Mapped[Thing] = relationship(back_populates="cover")


# -- pictures: a solid colour per version ----------------------------------------------

VERSIONS = 512


def colour(version: int) -> tuple[int, int, int]:
    """The colour of version ``version`` (three base-8 digits, 32 apart)."""
    v = version % VERSIONS
    return 16 + 32 * (v % 8), 16 + 32 * (v // 8 % 8), 16 + 32 * (v // 64)


def version_of_colour(rgb: tuple[int, int, int]) -> int | None:
    """The version whose colour ``rgb`` is (within 10 per channel), else ``None``."""
    digits = []
    for channel in rgb:
        digit = round((channel - 16) / 32)
        if not 0 <= digit <= 7 or abs(channel - (16 + 32 * digit)) > 10:
            return None
        digits.append(digit)
    return digits[0] + 8 * digits[1] + 64 * digits[2]


def solid_png(width: int, height: int, version: int, *, level: int = 6) -> bytes:
    """A PNG filled with ``colour(version)`` (``level=0``: stored uncompressed,
    about 3 bytes a pixel)."""
    row = b"\x00" + bytes(colour(version)) * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, level))
        + chunk(b"IEND", b"")
    )


def picture_version(data: bytes) -> int | None:
    """The version whose colour the image in ``data`` is (its centre pixel)."""
    with WandImage(blob=data) as image:
        pixel = image[image.width // 2, image.height // 2]
        rgb = (pixel.red_int8, pixel.green_int8, pixel.blue_int8)
    return version_of_colour(rgb)


# -- latency ---------------------------------------------------------------------------

#: Operation -> seconds; ``"*"`` for the others.  Filesystem operations are
#: ``put``, ``get``, ``delete``, ``list``; S3's are HTTP methods (the proxy's).
Latency = dict[str, float]


def parse_latency(text: str) -> Latency:
    """``"0.2"`` (every operation) or ``"put=0.2,*=0.02"``."""
    latency: Latency = {}
    for part in text.split(","):
        name, _, seconds = part.strip().rpartition("=")
        latency[name.strip() or "*"] = float(seconds)
    return latency


def s3_delays(latency: Latency) -> dict[str, float]:
    """The proxy's per-method delays for a filesystem-style ``latency``."""
    methods = {"put": "PUT", "get": "GET", "delete": "DELETE", "list": "GET", "head": "HEAD"}
    delays = {"*": latency.get("*", 0.0)}
    for name, seconds in latency.items():
        if name != "*":
            delays[methods.get(name, name.upper())] = seconds
    return delays


class SlowFileSystemStore(HttpExposedFileSystemStore):
    """A real filesystem store whose primitives first wait as a remote store's
    requests would (``latency``: see :data:`Latency`)."""

    def __init__(self, *args: Any, latency: Mapping[str, float] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.latency = dict(latency or {})

    def _wait(self, operation: str, key: tuple[Any, ...]) -> None:
        seconds = self.latency.get(operation, self.latency.get("*", 0.0))
        if seconds:
            time.sleep(seconds)
        logger.info("%s %s", operation, key)  # IA_INTEGRITY_TRACE=1 shows them

    def put_file(self, *args: Any, **kwargs: Any) -> None:
        self._wait("put", args[1:6])
        super().put_file(*args, **kwargs)

    def get_file(self, *args: Any, **kwargs: Any) -> Any:
        self._wait("get", args)
        return super().get_file(*args, **kwargs)

    def delete_file(self, *args: Any, **kwargs: Any) -> None:
        self._wait("delete", args)
        super().delete_file(*args, **kwargs)

    def list_files(self, *args: Any, **kwargs: Any) -> list[tuple[int, int, str]]:
        self._wait("list", args)
        return super().list_files(*args, **kwargs)


class SlowReader(io.BytesIO):
    """An upload arriving slowly: each read of more than 64 KiB waits ``delay``."""

    def __init__(self, data: bytes, delay: float) -> None:
        super().__init__(data)
        self.delay = delay

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > 65536:
            time.sleep(self.delay)
        return super().read(size)


# -- a database and a store, as every process builds them ------------------------------


@dataclass(frozen=True)
class Setup:
    """Where a scenario runs: the database URL and the store.

    ``store`` is ``{"kind": "fs", "root": ..., "latency": {...}}`` or
    ``{"kind": "s3", "bucket": ..., "endpoint": <the proxy>, "direct": <moto>,
    "lock_dir": <resize_lock_dir or None>}`` (S3 latency is the proxy's; or
    ``"resize_lock"`` and ``"resize_lock_prefix"``: Redis leases instead).
    """

    database: str
    store: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"database": self.database, "store": self.store}


def build_store(spec: Mapping[str, Any], *, direct: bool = False) -> Store:
    """The store of ``spec``; ``direct``: without latency (S3: not through the proxy)."""
    if spec["kind"] == "fs":
        return SlowFileSystemStore(
            spec["root"],
            PREFIX,
            lambda: HOST,
            secret_key=KEY,
            latency=None if direct else spec.get("latency"),
            resize_workers=4,
            resize_queue=32,
        )
    from imageattach.stores.s3 import S3Store

    return S3Store(
        spec["bucket"],
        endpoint_url=spec["direct"] if direct else spec["endpoint"],
        region=S3_REGION,
        public_base_url=f"{spec['direct']}/{spec['bucket']}",
        acl="public-read",
        resize_secret_key=KEY,
        resize_url_base=HOST,
        resize_prefix=PREFIX,
        resize_lock_dir=spec.get("lock_dir"),
        resize_lock=spec.get("resize_lock"),
        resize_lock_prefix=spec.get("resize_lock_prefix"),
        resize_workers=4,
        resize_queue=32,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
    )


def close_store(store: Store) -> None:
    resizer = getattr(store, "resizer", None)
    if resizer is not None:
        resizer.shutdown()


def make_engine(url: str, *, immediate: bool = False) -> Engine:
    """An engine on ``url``.  SQLite: transactions begin with ``BEGIN
    IMMEDIATE`` if ``immediate`` (writers queue up instead of failing), else
    ``BEGIN`` (pysqlite's own handling would commit at SAVEPOINT release)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60})
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


class Env:
    """A worker's database engines and store for one :class:`Setup`."""

    def __init__(self, setup: Mapping[str, Any]) -> None:
        self.writer = make_engine(setup["database"], immediate=True)
        self.reader = make_engine(setup["database"])
        self.store = build_store(setup["store"])
        self.kind = setup["store"]["kind"]
        self.app = self.store.wsgi_middleware(not_found_app)  # type: ignore[attr-defined]

    def write(self) -> Session:
        """A session whose transaction may write (the owner is then locked)."""
        return Session(self.writer, expire_on_commit=False)

    def read(self) -> Session:
        return Session(self.reader)

    def close(self) -> None:
        close_store(self.store)
        self.writer.dispose()
        self.reader.dispose()


def not_found_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not the store"]


# -- the worker's operations -----------------------------------------------------------


def op_create(env: Env, version: int, size: list[int], thumb_width: int | None = None) -> int:
    """A new thing whose cover is a picture of ``version`` (and a thumbnail)."""
    with env.write() as session, store_context(env.store):
        thing = Thing(version=version)
        session.add(thing)
        thing.cover.from_blob(solid_png(size[0], size[1], version))
        if thumb_width:
            thing.cover.generate_thumbnail(width=thumb_width)
        session.commit()
        return thing.id


def _locked(session: Session, thing_id: int) -> Thing | None:
    # FOR UPDATE (ignored by SQLite, whose writers begin IMMEDIATE): the
    # application serialises its writers of one owner, as it should.
    return session.get(Thing, thing_id, with_for_update=True)


def op_replace(
    env: Env, thing_id: int, version: int, size: list[int], thumb_width: int | None = None
) -> bool:
    """Replace the cover's original by a picture of ``version`` of ``size``."""
    with env.write() as session, store_context(env.store):
        thing = _locked(session, thing_id)
        if thing is None:
            return False
        thing.version = version
        thing.cover.from_blob(solid_png(size[0], size[1], version))
        if thumb_width:
            thing.cover.generate_thumbnail(width=thumb_width)
        session.commit()
        return True


def op_delete(env: Env, thing_id: int, mode: str) -> bool:
    """Delete the thing (``mode="entity"``) or only its cover's original."""
    with env.write() as session, store_context(env.store):
        thing = _locked(session, thing_id)
        if thing is None:
            return False
        if mode == "entity":
            session.delete(thing)
        else:
            original = thing.cover.original
            if original is None:
                return False
            session.delete(original)
        session.commit()
        return True


def op_generate(env: Env, thing_id: int, width: int) -> None:
    """Make a thumbnail with a row (``generate_thumbnail``) and commit."""
    with env.write() as session, store_context(env.store):
        thing = _locked(session, thing_id)
        assert thing is not None
        thing.cover.generate_thumbnail(width=width)
        session.commit()


def current_url(env: Env, thing_id: int, width: int) -> tuple[str, int] | None:
    """The on-demand URL of the cover at ``width`` and the version it shows,
    or ``None`` without an original.  The version is read first: should a
    replacement commit in between, the URL is the newer one."""
    with env.read() as session, store_context(env.store):
        version = session.scalar(select(Thing.version).where(Thing.id == thing_id))
        thing = session.get(Thing, thing_id)
        if version is None or thing is None or not thing.cover:
            return None
        # Plain thumbnails, and variants (cover crops in WebP, or "auto" with
        # a quality: PNG here, the request has no Accept) whose generation
        # and cleanup must go the same ways.
        if width % 3 == 1:
            url = thing.cover.locate(width=width, height=width, fit="cover", format="webp")
        elif width % 3 == 2:
            url = thing.cover.locate(
                width=width, height=width // 2, fit="cover", format="auto", quality=70
            )
        else:
            url = thing.cover.locate(width=width)
        return url, version


def get(env: Env, url: str) -> dict[str, Any]:
    """GET ``url`` through the store's middleware (following S3's redirect):
    the status and the version of the picture served."""
    parts = urlsplit(url)
    response = Client(env.app).get(parts.path, query_string=parts.query)
    status, body = response.status_code, response.get_data()
    answer: dict[str, Any] = {"url": url, "status": status}
    if status in (301, 302, 303, 307, 308):
        location = response.headers["Location"]
        answer["location"] = location
        try:
            with urllib.request.urlopen(location, timeout=30) as redirected:
                status, body = redirected.status, redirected.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, b""
        answer["status"] = status
    if status == 200:
        answer["served"] = picture_version(body)
    else:
        answer["body"] = body[:200].decode("utf-8", "replace")
    return answer


def op_fetch(
    env: Env,
    thing_id: int | None = None,
    widths: list[int] | None = None,
    urls: list[list[Any]] | None = None,
    threads: int = 2,
    stagger: float = 0.0,
) -> list[dict[str, Any]]:
    """GET each width's on-demand URL (read from the database right before
    its request), or each ``[url, version]`` of ``urls``: ``threads``
    clients, each its share of them one after the other, the ``k``-th
    starting ``k * stagger`` seconds after the first (so that their
    generations are not in step).  Each answer has ``requested`` (the version
    the URL is of; ``None``: there was no original) and ``served``."""

    def one(item: Any) -> dict[str, Any]:
        if urls is not None:
            url, version = item
        else:
            assert thing_id is not None
            located = current_url(env, thing_id, item)
            if located is None:
                return {"width": item, "requested": None, "status": None}
            url, version = located
        answer = get(env, url)
        answer["requested"] = version
        if urls is None:
            answer["width"] = item
        return answer

    items: list[Any] = urls if urls is not None else list(widths or [])
    answers: list[dict[str, Any] | None] = [None] * len(items)
    threads = max(1, min(threads, len(items)))

    def client(index: int) -> None:
        time.sleep(index * stagger)
        for position in range(index, len(items), threads):
            answers[position] = one(items[position])

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(client, index) for index in range(threads)]:
            future.result()
    return [answer for answer in answers if answer is not None]


def op_put_big(env: Env, size: list[int], delay: float) -> int:
    """Attach a big upload that arrives slowly (read while the row is
    flushed, so ``put_file`` takes long) and commit; the test kills us first."""
    data = solid_png(size[0], size[1], 1, level=0)
    with env.write() as session, store_context(env.store):
        thing = Thing(version=1)
        session.add(thing)
        thing.cover.from_raw_file(SlowReader(data, delay))
        session.commit()
        return thing.id


def op_urls(env: Env, thing_id: int, widths: list[int]) -> list[tuple[str, int] | None]:
    """The current on-demand URL (and version) of each width."""
    return [current_url(env, thing_id, width) for width in widths]


def op_noop(env: Env) -> None:
    """Nothing much: makes the worker build the setup's engines and store,
    and start its decoding worker (so that the first real operation does
    not wait for them)."""
    imageattach.imaging.probe(solid_png(2, 2, 0))


OPERATIONS: dict[str, Callable[..., Any]] = {
    "noop": op_noop,
    "urls": op_urls,
    "create": op_create,
    "replace": op_replace,
    "delete": op_delete,
    "generate": op_generate,
    "fetch": op_fetch,
    "put_big": op_put_big,
}


def serve() -> None:
    """The worker's loop: one command a line on stdin, one answer a line on stdout."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if os.environ.get("IA_INTEGRITY_TRACE") == "1" else logging.WARNING,
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    envs: dict[str, Env] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if command["op"] == "exit":
            break
        started = time.time()
        try:
            key = json.dumps(command["setup"], sort_keys=True)
            if key not in envs:
                for old in envs.values():
                    old.close()
                envs = {key: Env(command["setup"])}
            at = command.get("at")
            if at is not None:
                time.sleep(max(0.0, at - time.time()))
                started = time.time()
            logger.info("start %s %s", command["op"], command.get("args"))
            value = OPERATIONS[command["op"]](envs[key], **command.get("args", {}))
            logger.info("end %s", command["op"])
            answer = {"ok": True, "value": value, "started": started, "ended": time.time()}
        except Exception as error:
            logger.exception("%s failed", command["op"])
            answer = {
                "ok": False,
                "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc(),
                "started": started,
                "ended": time.time(),
            }
        print(MARK + json.dumps(answer), flush=True)
    for env in envs.values():
        env.close()


# -- the parent's side -------------------------------------------------------------------


class WorkerError(Exception):
    pass


class Worker:
    """A ``python -m integrity`` process."""

    def __init__(self, log: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.log = log
        path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "integrity"],
                cwd=TESTS,
                env={**os.environ, **(extra_env or {}), "PYTHONPATH": path},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=output,
                text=True,
                bufsize=1,
            )
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(MARK):
                self._answers.put(json.loads(line[len(MARK) :]))
        self._answers.put(None)  # the end of the process

    def send(self, op: str, setup: Setup, at: float | None = None, **args: Any) -> None:
        assert self.process.stdin is not None
        command = {"op": op, "setup": setup.as_json(), "at": at, "args": args}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def receive(self, timeout: float = 180.0) -> dict[str, Any]:
        """The next answer (``ok``, ``value`` or ``error``, ``started``, ``ended``)."""
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise WorkerError(f"no answer in {timeout} s; log: {self.log_tail()}") from None
        if answer is None:
            raise WorkerError(f"the worker ended; log: {self.log_tail()}")
        return answer

    def call(self, op: str, setup: Setup, **args: Any) -> Any:
        """Run ``op`` and return its value; its error is raised."""
        self.send(op, setup, **args)
        answer = self.receive()
        if not answer["ok"]:
            raise WorkerError(f"{op} failed: {answer['traceback']}")
        return answer["value"]

    def log_tail(self, size: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-size:]
        return ""

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def run_together(calls: list[tuple[Worker, str, Setup, float | None, dict[str, Any]]]) -> list[Any]:
    """Send each ``(worker, op, setup, at, args)`` at once, then collect the
    answers in order (each a dict, see :meth:`Worker.receive`)."""
    for worker, op, setup, at, args in calls:
        worker.send(op, setup, at=at, **args)
    return [worker.receive() for worker, *_ in calls]


# -- the checker -----------------------------------------------------------------------

_TEMPORARY = re.compile(r"(^\.tmp-|tmp|temp)", re.IGNORECASE)
# ``ext`` is ``<ext>`` or a variant's ``.<token><ext>`` (imageattach.variants).
_S3_KEY = re.compile(r"^(?P<type>[^/]+)/(?P<id>\d+)/(?P<w>\d+)x(?P<h>\d+)(?P<ext>\.[a-z0-9.-]+)$")
_FS_NAME = re.compile(r"^(?P<id>\d+)\.(?P<w>\d+)x(?P<h>\d+)(?P<ext>\.[a-z0-9.-]+)$")
#: A file this big that is no image of the store is the remains of an upload.
PARTIAL_UPLOAD_SIZE = 1024 * 1024

#: ``(object_id, width, height, mimetype)`` of an image file in the store.
FileKey = tuple[int, int, int, str]


@dataclass
class StoreFiles:
    """The files of a store: its image files (and how to read each), and
    what is left that is no image (temporary files, partial uploads)."""

    images: dict[FileKey, Callable[[], bytes]] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)


def store_files(spec: Mapping[str, Any]) -> StoreFiles:
    """Every file in the store of ``spec``, read directly (no latency)."""
    found = StoreFiles()
    if spec["kind"] == "fs":
        root = Path(spec["root"])
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            relative = path.relative_to(root)
            parts = relative.parts
            if parts[0].startswith("."):  # the store's own bookkeeping
                big = path.stat().st_size >= PARTIAL_UPLOAD_SIZE
                if big or any(_TEMPORARY.search(part) for part in parts):
                    found.leftovers.append(str(relative))
                continue
            name = _FS_NAME.match(parts[-1])
            mimetype = split_suffix(name["ext"]) if name else None
            if (
                len(parts) != 4
                or parts[0] != OBJECT_TYPE
                or name is None
                or mimetype is None
                or parts[1:3] != (str(int(name["id"]) % 1000), str(int(name["id"]) // 1000))
            ):
                found.leftovers.append(str(relative))
                continue
            key = (int(name["id"]), int(name["w"]), int(name["h"]), mimetype)
            found.images[key] = path.read_bytes
        return found
    client = s3_client(spec)
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=spec["bucket"]):
        for item in page.get("Contents", []):
            name = _S3_KEY.match(item["Key"])
            mimetype = split_suffix(name["ext"]) if name else None
            if name is None or mimetype is None or name["type"] != OBJECT_TYPE:
                found.leftovers.append(item["Key"])
                continue
            key = (int(name["id"]), int(name["w"]), int(name["h"]), mimetype)
            found.images[key] = _s3_reader(client, spec["bucket"], item["Key"])
    return found


def s3_client(spec: Mapping[str, Any]) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=spec["direct"],
        region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
    )


def _s3_reader(client: Any, bucket: str, key: str) -> Callable[[], bytes]:
    def read() -> bytes:
        data: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    return read


@dataclass(frozen=True)
class Row:
    thing_id: int
    width: int
    height: int
    mimetype: str
    original: bool


def database_rows(engine: Engine) -> tuple[dict[int, int], list[Row]]:
    """The things (id -> version) and the cover rows, as committed."""
    with Session(engine) as session:
        things = {id_: version for id_, version in session.execute(select(Thing.id, Thing.version))}
        rows = [
            Row(*row)
            for row in session.execute(
                select(
                    ThingCover.thing_id,
                    ThingCover.width,
                    ThingCover.height,
                    ThingCover.mimetype,
                    ThingCover.original,
                )
            )
        ]
    return things, rows


def check(engine: Engine, spec: Mapping[str, Any]) -> list[str]:
    """What is wrong between the committed rows and the store, once nothing
    runs any more:

    - every image row has its file, and an original's file is the picture
      of its owner's version, a thumbnail row's file that of its original;
    - every image file has a row, except on-demand thumbnails of a current
      original: a size that can be derived from it (``is_derived_size``)
      and a picture of that original;
    - no temporary files or partial uploads are left.
    """
    things, rows = database_rows(engine)
    files = store_files(spec)
    problems = [f"left in the store: {name}" for name in sorted(files.leftovers)]
    pictures: dict[FileKey, int | None] = {}

    def picture(key: FileKey) -> int | None:
        if key not in pictures:
            try:
                pictures[key] = picture_version(files.images[key]())
            except Exception as error:
                problems.append(f"cannot read {_name(key)}: {error}")
                pictures[key] = None
        return pictures[key]

    originals: dict[int, Row] = {}
    for row in rows:
        if row.original:
            if row.thing_id in originals:
                problems.append(f"thing {row.thing_id} has several original rows")
            originals[row.thing_id] = row
    keyed = {(row.thing_id, row.width, row.height, row.mimetype): row for row in rows}
    for key, row in sorted(keyed.items()):
        kind = "original" if row.original else "thumbnail"
        if key not in files.images:
            problems.append(f"committed {kind} row {_name(key)} has no file")
            continue
        if row.original:
            expected = things.get(row.thing_id)
            if expected is not None and picture(key) != expected % VERSIONS:
                problems.append(
                    f"original {_name(key)} is the picture of version {picture(key)}, "
                    f"its row says {expected}"
                )
        else:
            source = originals.get(row.thing_id)
            if source is None:
                problems.append(f"thumbnail row {_name(key)} has no original row")
            elif (okey := _key(source)) in files.images and picture(key) != picture(okey):
                problems.append(
                    f"thumbnail row {_name(key)} is a picture of version {picture(key)}, "
                    f"its original is of version {picture(okey)}"
                )
    for key in sorted(set(files.images) - set(keyed)):
        source = originals.get(key[0])
        if source is None:
            problems.append(f"{_name(key)} is in the store without a row or an original")
        elif _fit(key) == "contain" and not is_derived_size(
            source.width, source.height, key[1], key[2]
        ):
            problems.append(
                f"{_name(key)} is in the store without a row and is no size of the "
                f"current original {source.width}x{source.height}"
            )
        elif picture(key) != picture(_key(source)):
            problems.append(
                f"{_name(key)} (on demand) is a picture of version {picture(key)}, "
                f"the current original is of version {picture(_key(source))}"
            )
    return problems


def _fit(key: FileKey) -> str:
    """The fit of a file's variant (a plain thumbnail: ``contain``)."""
    variant = split_mimetype(key[3])[1]
    return "contain" if variant is None else variant.fit


def _key(row: Row) -> FileKey:
    return row.thing_id, row.width, row.height, row.mimetype


def _name(key: FileKey) -> str:
    object_id, width, height, mimetype = key
    return f"{OBJECT_TYPE}/{object_id} {width}x{height} {mimetype}"


@contextlib.contextmanager
def tables(engine: Engine) -> Iterator[None]:
    """This module's tables on ``engine``, dropped afterwards."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    try:
        yield
    finally:
        Base.metadata.drop_all(engine)


def read_upload_progress(root: Path) -> list[tuple[str, int]]:
    """``(relative path, size)`` of each file under ``root`` that is no image
    path of the store (a write in progress, or its remains)."""
    found = []
    for path in root.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            if not path.is_file():
                continue
            relative = path.relative_to(root)
            if _FS_NAME.match(relative.parts[-1]) and not relative.parts[0].startswith("."):
                continue
            found.append((str(relative), path.stat().st_size))
    return found


if __name__ == "__main__":
    serve()
