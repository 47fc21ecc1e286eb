"""Translate ImageMagick's errors into imageattach's exception hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from wand import exceptions as wand_exceptions

from ..exceptions import CorruptImageError, ImageError, ImageTooLargeError, UnsupportedImageError

__all__ = ["translate", "wand_errors"]


def translate(error: wand_exceptions.WandException) -> ImageError:
    """The imageattach exception for an ImageMagick error or warning.

    The message is fit to show the person who uploaded the image;
    ImageMagick's own (source paths, coder names) stays in ``__cause__``,
    which the sandbox logs.
    """
    if isinstance(error, wand_exceptions.PolicyError | wand_exceptions.PolicyFatalError):
        return UnsupportedImageError("this image format is not accepted")
    if isinstance(
        error, wand_exceptions.ResourceLimitError | wand_exceptions.ResourceLimitFatalError
    ):
        return ImageTooLargeError("the image needs more memory to decode than the limit")
    if isinstance(error, wand_exceptions.MissingDelegateError):
        return CorruptImageError("not an image in a recognised format")
    return CorruptImageError("the image cannot be decoded")


@contextmanager
def wand_errors() -> Iterator[None]:
    """Re-raise Wand's exceptions as :exc:`~imageattach.exceptions.ImageError`."""
    try:
        yield
    except wand_exceptions.WandException as error:
        raise translate(error) from error
