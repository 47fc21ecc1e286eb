"""Checking the stores before the first copy, so that a store that cannot
be used fails at once, with nothing copied."""

from __future__ import annotations

import os
import sys
from typing import Any

from ..exceptions import StoreError
from ..store import Store
from .retries import _doing


class PreflightError(Exception):
    """A store cannot be used: nothing was copied."""


def _check_directory(path: str, name: str, write: bool) -> None:
    """``path`` is a readable directory, and a writable one (or, missing,
    one that can be created) if ``write``."""
    if not os.path.exists(path):
        if not write:
            raise PreflightError(f"{name}: the directory {path} does not exist")
        parent = os.path.dirname(os.path.abspath(path))
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise PreflightError(f"{name}: cannot create {path}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PreflightError(f"{name}: cannot create {path}: {parent} is not writable")
        return
    if not os.path.isdir(path):
        raise PreflightError(f"{name}: {path} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise PreflightError(f"{name}: the directory {path} is not readable")
    if write and not os.access(path, os.W_OK):
        raise PreflightError(f"{name}: the directory {path} is not writable")


def _check_bucket(client: Any, bucket: str, name: str) -> None:
    """The bucket exists and the credentials may use it (``HeadBucket``)."""
    import botocore.exceptions

    try:
        client.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            raise PreflightError(f"{name}: the bucket {bucket!r} does not exist") from None
        if status == 403:
            raise PreflightError(
                f"{name}: access to the bucket {bucket!r} denied (check the credentials)"
            ) from None
        raise PreflightError(f"{name}: bucket {bucket!r}: {error}") from None
    except botocore.exceptions.NoCredentialsError:
        raise PreflightError(
            f"{name}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or AWS_PROFILE)"
        ) from None
    except botocore.exceptions.BotoCoreError as error:
        raise PreflightError(f"{name}: cannot reach S3: {type(error).__name__}: {error}") from None


def check_store(store: Store, name: str, write: bool) -> None:
    """Fail fast, with one :exc:`PreflightError`, if ``store`` cannot be
    read (or written, if ``write``): a directory is checked for existence
    and permissions (not written to), an S3 bucket by a ``HeadBucket``
    request, any other store by asking it whether a file exists."""
    from ..stores.fs import BaseFileSystemStore

    with _doing(f"checking {name}"):
        if isinstance(store, BaseFileSystemStore):
            _check_directory(store.path, name, write)
            return
        s3 = sys.modules.get("imageattach.stores.s3")
        if s3 is not None and isinstance(store, s3.S3SandboxStore):
            for part in (store.underlying, store.overriding):
                _check_bucket(part.client, part.bucket, name)
            return
        if s3 is not None and isinstance(store, s3.S3Store):
            _check_bucket(store.client, store.bucket, name)
            return
        try:
            store.exists("imageattach-check", 1, 1, 1, "image/png")
        except NotImplementedError:
            pass
        except StoreError as error:
            raise PreflightError(f"{name}: {type(error).__name__}: {error}") from None
