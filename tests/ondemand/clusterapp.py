"""The app the three-server tests (tests/ondemand/test_cluster.py) run on
each server, set up from the environment:

- ``IA_NAME``: the server's name in the log; ``IA_LOG``: the shared log
  file (``<pid> <name> <message>``: "generating <key>" when a generation
  holding the lease opens the original, and the resizer's "generated ...");
- ``IA_KEY``: the signing key; ``IA_REDIS``, ``IA_LOCK_PREFIX``,
  ``IA_LOCK_TTL``: the store's ``resize_lock`` (``none``: no leases, each
  server on its own), ``resize_lock_prefix`` and ``resize_lock_ttl``;
- ``IA_STORE``: ``s3`` (``IA_ENDPOINT``, ``IA_BUCKET``: an
  :class:`~imageattach.stores.s3.S3Store`) or ``fs`` (``IA_ROOT``: an
  :class:`~imageattach.stores.fs.HttpExposedFileSystemStore` on a directory
  the servers share, as a shared volume);
- ``IA_DELAY``: seconds each generation waits after taking the lease, so
  that the servers' requests overlap and a server can be killed mid-way.
"""

from __future__ import annotations

import logging
import os
import time
from typing import IO, Any

import imageattach.imaging  # noqa: F401  (the policy must be in force before wand loads)
from imageattach.stores.fs import HttpExposedFileSystemStore
from imageattach.stores.s3 import S3Store

from . import plainapp

NAME = os.environ["IA_NAME"]
DELAY = float(os.environ.get("IA_DELAY", "0"))

plainapp.log_to(os.environ["IA_LOG"], "imageattach", f"%(process)d {NAME} %(message)s")
logger = logging.getLogger("imageattach.ondemand.cluster")


def _generating(key: tuple[Any, ...]) -> None:
    logger.info("generating %s/%s/%sx%s", *key[:4])
    time.sleep(DELAY)


class SlowS3Store(S3Store):
    def open_version(self, *key: Any) -> tuple[IO[bytes], str | None]:
        _generating(key)
        return super().open_version(*key)


class SlowFileSystemStore(HttpExposedFileSystemStore):
    def open_version(self, *key: Any) -> tuple[IO[bytes], str | None]:
        _generating(key)
        return super().open_version(*key)


locking: dict[str, Any] = {}
if os.environ["IA_REDIS"] != "none":  # "none": the control, without leases
    locking = {
        "resize_lock": os.environ["IA_REDIS"],
        "resize_lock_prefix": os.environ["IA_LOCK_PREFIX"],
        "resize_lock_ttl": float(os.environ.get("IA_LOCK_TTL", "30")),
    }
store: S3Store | HttpExposedFileSystemStore
if os.environ["IA_STORE"] == "s3":
    store = SlowS3Store(
        os.environ["IA_BUCKET"],
        endpoint_url=os.environ["IA_ENDPOINT"],
        region="us-east-1",
        acl="public-read",
        resize_secret_key=os.environ["IA_KEY"],
        resize_workers=4,
        **locking,
    )
else:
    store = SlowFileSystemStore(
        os.environ["IA_ROOT"], secret_key=os.environ["IA_KEY"], resize_workers=4, **locking
    )

wsgi_app = store.wsgi_middleware(plainapp.wsgi_app)
asgi_app = store.asgi_middleware(plainapp.asgi_app)
