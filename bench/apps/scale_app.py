"""The app every server of ``python -m bench scale`` runs: an
:class:`~imageattach.stores.s3.S3Store`'s resize endpoint (signed URLs,
generate on a miss, redirect to the bucket), set up from the environment
that :mod:`bench.scale` gives each server (:data:`VARIABLES`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import imageattach.imaging  # noqa: F401  (the policy must be in force before wand loads)
from imageattach.stores.s3 import S3Store

from .common import not_found_asgi, not_found_wsgi

#: What each variable holds.
VARIABLES = {
    "BENCH_SCALE_BUCKET": "the bucket",
    "BENCH_SCALE_ENDPOINT": "the S3 API endpoint (the counting proxy)",
    "BENCH_SCALE_PUBLIC": "the bucket's public base URL, where redirects point",
    "BENCH_SCALE_SECRET": "the resize URLs' signing key",
    "BENCH_SCALE_LOCK": "resize_lock (a redis:// URL), or empty for a lock directory",
    "BENCH_SCALE_LOCK_PREFIX": "the Redis key prefix of the run (its namespace)",
    "BENCH_SCALE_LOCK_DIR": "this server's own resize_lock_dir",
    "BENCH_SCALE_QUEUE": "resize_queue",
    "BENCH_SCALE_LOG": "the file this server's generations are logged to, one line each",
}


def _setting(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise RuntimeError(f"{name} must be set: {VARIABLES[name]}") from None


def _log_generations() -> None:
    handler = logging.FileHandler(_setting("BENCH_SCALE_LOG"))
    handler.setFormatter(logging.Formatter("%(process)d %(message)s"))
    handler.addFilter(lambda record: record.getMessage().startswith("generated "))
    logger = logging.getLogger("imageattach.ondemand")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def store() -> S3Store:
    """The store of this server, its generations logged."""
    _log_generations()
    options: dict[str, Any] = {}
    if lock := os.environ.get("BENCH_SCALE_LOCK"):
        options["resize_lock"] = lock
        # A Redis outage shows as 503s, not as a run on local locks.
        options["resize_lock_fallback"] = "refuse"
        if prefix := os.environ.get("BENCH_SCALE_LOCK_PREFIX"):
            options["resize_lock_prefix"] = prefix
    else:
        options["resize_lock_dir"] = _setting("BENCH_SCALE_LOCK_DIR")
    return S3Store(
        _setting("BENCH_SCALE_BUCKET"),
        endpoint_url=_setting("BENCH_SCALE_ENDPOINT"),
        public_base_url=_setting("BENCH_SCALE_PUBLIC"),
        region="us-east-1",
        resize_secret_key=_setting("BENCH_SCALE_SECRET"),
        resize_queue=int(_setting("BENCH_SCALE_QUEUE")),
        **options,
    )


def wsgi() -> Any:
    return store().wsgi_middleware(not_found_wsgi)


def asgi() -> Any:
    return store().asgi_middleware(not_found_asgi)
