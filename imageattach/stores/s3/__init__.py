"""Amazon S3 (and S3-compatible) stores on boto3.

:class:`S3Store` (:mod:`.store`) keeps images in a bucket under the seed's key
layout and can make thumbnails on demand; :class:`S3SandboxStore`
(:mod:`.sandbox`) reads through a writable *overriding* bucket to a read-only
*underlying* one.  Their helpers: :mod:`.options` (checks of the options),
:mod:`.errors` (botocore errors as
:class:`~imageattach.exceptions.StoreError` subclasses) and :mod:`.responses`
(object versions and body streams).
"""

from __future__ import annotations

# Every module of the package needs boto3: say how to get it, once, here
# (a package's __init__ runs before any of its modules).
try:
    import boto3
    import boto3.s3.transfer  # noqa: F401
    import botocore.config
    import botocore.exceptions  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("imageattach.stores.s3 needs boto3: pip install 'imageattach[s3]'") from error

from .sandbox import DELETED_MARK_MIMETYPE, S3SandboxStore
from .store import DEFAULT_MAX_AGE, S3Store

__all__ = [
    "DEFAULT_MAX_AGE",
    "DELETED_MARK_MIMETYPE",
    "S3SandboxStore",
    "S3Store",
]
