"""Reading S3's object responses: the version (ETag) of an object, and the
body of a ``GetObject`` response as a stream that raises store errors.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from .errors import _BOTO_ERRORS, _store_error


def _etag(response: Mapping[str, Any]) -> str | None:
    """The version of an object, as a ``GetObject`` or ``HeadObject`` gives it."""
    return str(response.get("ETag", "")) or None


class _ObjectStream(io.RawIOBase):
    """The body of a ``GetObject`` response as a raw stream whose errors are
    :class:`StoreError` and whose :meth:`close` releases the connection."""

    def __init__(self, body: Any, where: str) -> None:
        super().__init__()
        self._body = body
        self._where = where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data: bytes = self._body.read(len(buffer))
        except _BOTO_ERRORS as error:
            raise _store_error(error, "read of", self._where) from error
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
