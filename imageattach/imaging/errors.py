"""Translate ImageMagick's errors into imageattach's exception hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from wand import exceptions as wand_exceptions

from ..exceptions import CorruptImageError, ImageError, ImageTooLargeError, UnsupportedImageError

__all__ = ["translate", "wand_errors"]


def translate(error: wand_exceptions.WandException) -> ImageError:
    """The imageattach exception for an ImageMagick error or warning."""
    message = str(error)
    if isinstance(error, wand_exceptions.PolicyError | wand_exceptions.PolicyFatalError):
        return UnsupportedImageError(
            f"format refused by imageattach's ImageMagick policy: {message}"
        )
    if isinstance(
        error, wand_exceptions.ResourceLimitError | wand_exceptions.ResourceLimitFatalError
    ):
        return ImageTooLargeError(f"image exceeds ImageMagick's resource limits: {message}")
    if isinstance(error, wand_exceptions.MissingDelegateError):
        return CorruptImageError(f"not an image in a recognised format: {message}")
    return CorruptImageError(f"cannot decode the image: {message}")


@contextmanager
def wand_errors() -> Iterator[None]:
    """Re-raise Wand's exceptions as :exc:`~imageattach.exceptions.ImageError`."""
    try:
        yield
    except wand_exceptions.WandException as error:
        raise translate(error) from error
