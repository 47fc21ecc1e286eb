"""What S3's errors mean to a store: botocore exceptions translated into the
:class:`~imageattach.exceptions.StoreError` subclass that says what a caller
can do about them.
"""

from __future__ import annotations

import botocore.exceptions

from ...exceptions import (
    FileNotFoundInStoreError,
    StoreAccessDeniedError,
    StoreError,
    StoreUnavailableError,
)

_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
)


def _store_error(error: Exception, action: str, where: str) -> StoreError:
    """Translate a boto3/botocore exception into the StoreError subclass that
    says what a caller can do about it."""
    message = f"S3 {action} {where} failed: {error}"
    if isinstance(error, botocore.exceptions.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _MISSING_KEY_CODES:
            return FileNotFoundInStoreError(f"no such file in S3: {where}")
        if status == 403 or code in {"AccessDenied", "InvalidAccessKeyId"}:
            return StoreAccessDeniedError(message)
        if status >= 500 or code in _UNAVAILABLE_CODES:
            return StoreUnavailableError(message)
        return StoreError(message)
    if isinstance(error, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        return StoreUnavailableError(message)
    return StoreError(message)


_BOTO_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
