"""The example apps' settings: none are needed, environment variables change them.

=================================  ============================================
``DATABASE_URL``                   SQLAlchemy URL, e.g.
                                   ``postgresql+psycopg://user@host/db``
                                   (default: SQLite in the instance directory)
``IMAGEATTACH_SECRET_KEY``         signs thumbnail URLs (default: a random key
                                   made once and kept in the instance directory)
``IMAGEATTACH_S3_BUCKET``          keep images in this S3 bucket instead of the
                                   instance directory; credentials come from
                                   boto3's usual chain (``AWS_ACCESS_KEY_ID``...)
``IMAGEATTACH_S3_ENDPOINT_URL``    an S3-compatible endpoint (MinIO, moto...)
``IMAGEATTACH_S3_REGION``          the bucket's region
``IMAGEATTACH_S3_PREFIX``          a key prefix inside the bucket
``IMAGEATTACH_S3_PUBLIC_BASE_URL`` the URL the bucket is served at (a CDN)
``EXAMPLE_INSTANCE_PATH``          the instance directory (default:
                                   ``examples/<app>/instance``)
``HOST``, ``PORT``                 where ``python -m examples.<app>`` listens
=================================  ============================================
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imageattach.store import Store

__all__ = ["PRESETS", "Settings", "load_settings"]

#: Named locate() options of the store: a square avatar, cropped around the
#: most detailed region, as AVIF or WebP where the browser takes them.
PRESETS = {
    "avatar": {"width": 96, "height": 96, "fit": "cover", "gravity": "entropy", "format": "auto"},
}


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    #: Where the filesystem store keeps the images (unused with S3).
    images_path: Path
    secret_key: str
    #: The S3 store when ``IMAGEATTACH_S3_BUCKET`` is set, else ``None``.
    s3_store: Store | None


def load_settings(default_instance_path: Path, environ: Mapping[str, str] = os.environ) -> Settings:
    instance_path = Path(environ.get("EXAMPLE_INSTANCE_PATH") or default_instance_path)
    instance_path.mkdir(parents=True, exist_ok=True)
    database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'example.sqlite'}"
    if database_url.startswith("postgres://"):  # as some hosting platforms spell it
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    secret_key = environ.get("IMAGEATTACH_SECRET_KEY") or _instance_secret_key(instance_path)
    return Settings(
        instance_path=instance_path,
        database_url=database_url,
        images_path=instance_path / "images",
        secret_key=secret_key,
        s3_store=_s3_store(environ, secret_key),
    )


def _instance_secret_key(instance_path: Path) -> str:
    """A random key made on first start and kept, so thumbnail URLs stay
    valid across restarts and every worker process signs alike."""
    path = instance_path / "imageattach-secret-key"
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(32))
    for _ in range(50):  # another process may be writing it right now
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it and start again")


def _s3_store(environ: Mapping[str, str], secret_key: str) -> Store | None:
    bucket = environ.get("IMAGEATTACH_S3_BUCKET")
    if not bucket:
        return None
    from imageattach.stores.s3 import S3Store

    return S3Store(
        bucket,
        prefix=environ.get("IMAGEATTACH_S3_PREFIX", ""),
        endpoint_url=environ.get("IMAGEATTACH_S3_ENDPOINT_URL") or None,
        region=environ.get("IMAGEATTACH_S3_REGION") or None,
        public_base_url=environ.get("IMAGEATTACH_S3_PUBLIC_BASE_URL") or None,
        resize_secret_key=secret_key,
        presets=PRESETS,
    )
