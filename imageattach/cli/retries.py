"""``retrying:`` lines for storage requests that boto3 retries, naming what
the retrying thread was doing (an image, a store check)."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..exceptions import ConfigurationError
from ..store import Store

_activity = threading.local()


@contextlib.contextmanager
def _doing(what: str) -> Iterator[None]:
    """Name what this thread does (an image, a store check) in retry lines."""
    _activity.what = what
    try:
        yield
    finally:
        _activity.what = None


class RetryReporter(logging.Filter):
    """Reports each storage request retry as a ``retrying:`` line while it
    happens.  botocore logs (at DEBUG) the exception of a failed request and
    its decision to retry; this filter on its ``botocore.endpoint`` logger
    turns those records into lines, and lets through to other handlers
    only what the logger's previous level let through.  Installed on the
    stores' boto clients, it also learns the request and the HTTP error of
    a retried response."""

    LOGGER = "botocore.endpoint"

    def __init__(self, report: Callable[[str], None]) -> None:
        super().__init__()
        self.report = report
        self._local = threading.local()
        self._logger = logging.getLogger(self.LOGGER)
        self._level = self._logger.level
        self._passed = self._logger.getEffectiveLevel()
        self._logger.addFilter(self)
        self._logger.setLevel(logging.DEBUG)

    def close(self) -> None:
        self._logger.removeFilter(self)
        self._logger.setLevel(self._level)

    def watch(self, client: Any) -> None:
        """Also learn the operation and HTTP error of ``client``'s retries."""
        client.meta.events.register_first("needs-retry", self._needs_retry)

    def _needs_retry(
        self,
        operation: Any = None,
        attempts: int = 0,
        response: Any = None,
        caught_exception: BaseException | None = None,
        **kwargs: Any,
    ) -> None:
        cause = None
        if caught_exception is not None:
            cause = f"{type(caught_exception).__name__}: {caught_exception}"
        elif response is not None:
            parsed = response[1] if isinstance(response, tuple) else {}
            status = parsed.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = parsed.get("Error", {}).get("Code", "")
            cause = f"HTTP {status} {code}".strip()
        url = (kwargs.get("request_dict") or {}).get("url")
        name = getattr(operation, "name", None)
        self._local.operation = f"{name} {url}" if name and url else name
        self._local.attempt = attempts
        self._local.cause = cause

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Sending http request"):
            self._local.cause = None  # a new attempt: forget the last one's error
        elif record.msg == "Exception received when sending HTTP request." and record.exc_info:
            error = record.exc_info[1]
            self._local.cause = f"{type(error).__name__}: {error}"
        elif str(record.msg).startswith("Response received to retry") and record.args:
            delay = record.args[0] if isinstance(record.args, tuple) else None
            self._retrying(delay if isinstance(delay, int | float) else None)
        return record.levelno >= self._passed

    def _retrying(self, delay: float | None) -> None:
        local = self._local
        # Unknown in s3transfer's threads (uploads), where the URL names the file.
        what = getattr(_activity, "what", None)
        operation = getattr(local, "operation", None) or "a request"
        cause = getattr(local, "cause", None) or "unknown error"
        attempt = getattr(local, "attempt", None)
        numbered = f" (attempt {attempt})" if attempt else ""
        later = "" if delay is None else f" in {delay:.1f} s"
        prefix = f"retrying: {what}: " if what else "retrying: "
        self.report(f"{prefix}{operation} failed{numbered}: {cause}; again{later}")
        local.operation = local.cause = local.attempt = None


def _boto_clients(store: Store, name: str) -> list[Any]:
    """The boto3 clients of an S3 store (none for other stores), made now.

    :raises ConfigurationError: a client cannot be made (e.g. a bad region).
    """
    s3 = sys.modules.get("imageattach.stores.s3")  # not imported: not an S3 store
    if s3 is None:
        return []
    import botocore.exceptions

    try:
        if isinstance(store, s3.S3SandboxStore):
            return [store.underlying.client, store.overriding.client]
        if isinstance(store, s3.S3Store):
            return [store.client]
    except (botocore.exceptions.BotoCoreError, ValueError) as error:
        raise ConfigurationError(f"{name}: {error}") from None
    return []
