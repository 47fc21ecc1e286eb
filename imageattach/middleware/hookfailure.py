"""What the front ends answer when the ``on_miss`` hook raises: a logged
error naming the file asked for, and a 500 without a traceback."""

from __future__ import annotations

import logging

from .miss import MissResponse

__all__ = ["hook_failed"]

logger = logging.getLogger("imageattach.middleware")

_FAILED = MissResponse(500, "Internal Server Error")


def hook_failed(relative_path: str) -> MissResponse:
    """Log the exception being handled, with ``image_key`` (the path below
    the prefix: the file's key), and return the answer."""
    logger.exception(
        "the on_miss hook failed for %s", relative_path, extra={"image_key": relative_path}
    )
    return _FAILED
