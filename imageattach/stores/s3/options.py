"""Checks of :class:`~imageattach.stores.s3.S3Store`'s options: the canned
ACLs and storage classes S3 accepts, URLs, timeouts and credentials.
"""

from __future__ import annotations

import math
import re
import urllib.parse

from ...exceptions import ConfigurationError

#: Canned ACLs S3 accepts in ``x-amz-acl``.
CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "aws-exec-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    }
)

#: Storage classes whose objects can be read back immediately (the archive
#: classes need a restore first, which would break ``get_file``).
STORAGE_CLASSES = frozenset(
    {
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER_IR",
        "EXPRESS_ONEZONE",
    }
)
# Buckets that can be a DNS label of a virtual-hosted URL under TLS: no dots
# (the wildcard certificate covers one label), no upper case or underscores.
_VIRTUAL_HOST_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def _check_url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigurationError(f"{name} must be an http:// or https:// URL, not {value!r}")
    return value.rstrip("/")


def _check_seconds(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def _check_credentials(
    key_id: str | None,
    secret: str | None,
    token: str | None,
    seed_key_id: str | None,
    seed_secret: str | None,
) -> tuple[str | None, str | None, str | None]:
    """The explicit credentials, given by either the boto3 or the seed's names."""
    if seed_key_id is not None or seed_secret is not None:
        if key_id is not None or secret is not None:
            raise ConfigurationError(
                "pass either access_key/secret_key (the seed's names) or "
                "aws_access_key_id/aws_secret_access_key, not both"
            )
        key_id, secret = seed_key_id, seed_secret
    if (key_id is None) != (secret is None):
        raise ConfigurationError("pass both aws_access_key_id and aws_secret_access_key")
    return key_id, secret, token
