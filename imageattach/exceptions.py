"""The one exception hierarchy of imageattach.

Every error the library raises on purpose derives from :exc:`ImageAttachError`.
Each class also derives from the built-in exception the seed raised in the
same situation, so ``except ValueError`` / ``except RuntimeError`` /
``except OSError`` code written for SQLAlchemy-ImageAttach keeps working::

    ImageAttachError
    ├── ConfigurationError (ValueError)      bad option, detected at construction
    │   └── SigningNotConfiguredError         locate(width=...) with no key/allowlist
    ├── ArgumentError (ValueError)            a bad argument to a call (ratio=0, filter='nope')
    │   └── ArgumentTypeError (TypeError)     an argument of the wrong type, or a wrong combination
    ├── ContextError (RuntimeError)           no store context / popping an empty stack
    ├── LocateError (RuntimeError)            no base URL for HttpExposedFileSystemStore
    ├── ImageError (ValueError)               an upload that cannot be accepted
    │   ├── CorruptImageError                 truncated or undecodable data
    │   ├── UnsupportedImageError             a format that is not accepted, or SVG active content
    │   ├── ImageTooLargeError                pixels, frames, metadata or memory above the limits
    │   └── ImageTimeoutError                 decoding took longer than the time limit
    ├── UnknownMimeTypeError (ValueError)     no file extension known for a mimetype
    ├── ImagingPolicyError (RuntimeError)     ImageMagick runs without imageattach's policy
    ├── ImagingUnavailableError (RuntimeError) no decoding worker free or startable: retry later
    ├── NoOriginalImageError (OSError)        the image set has no original image yet
    └── StoreError (OSError)                  a storage backend failed
        ├── FileNotFoundInStoreError (FileNotFoundError)
        ├── StoreAccessDeniedError (PermissionError)  credentials lack a permission
        └── StoreUnavailableError                 unreachable, timed out, or 5xx after retries
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "ConfigurationError",
    "ContextError",
    "CorruptImageError",
    "FileNotFoundInStoreError",
    "ImageAttachError",
    "ImageError",
    "ImageTimeoutError",
    "ImageTooLargeError",
    "ImagingPolicyError",
    "ImagingUnavailableError",
    "LocateError",
    "NoOriginalImageError",
    "SigningNotConfiguredError",
    "StoreAccessDeniedError",
    "StoreError",
    "StoreUnavailableError",
    "UnknownMimeTypeError",
    "UnsupportedImageError",
]


class ImageAttachError(Exception):
    """Base class of every error imageattach raises on purpose."""


class ConfigurationError(ImageAttachError, ValueError):
    """An option is invalid; raised when the object is constructed."""


class SigningNotConfiguredError(ConfigurationError):
    """An on-demand resize URL was asked for, but the store has neither a
    ``secret_key`` nor a size allowlist to authorise it."""


class ArgumentError(ImageAttachError, ValueError):
    """A call got a bad argument value, e.g. ``generate_thumbnail(ratio=0)``,
    a negative ``width`` or an unknown ``filter=``; nothing was done."""


class ArgumentTypeError(ArgumentError, TypeError):
    """A call got an argument of the wrong type or a wrong combination of
    arguments (e.g. both ``width`` and ``ratio``); a :exc:`TypeError` too, as
    the seed raised."""


class ContextError(ImageAttachError, RuntimeError):
    """The store context stack is empty where a store is needed."""


class LocateError(ImageAttachError, RuntimeError):
    """A URL cannot be built, e.g. outside a request without a host URL getter."""


class ImageError(ImageAttachError, ValueError):
    """The given image data cannot be accepted; nothing was stored."""


class CorruptImageError(ImageError):
    """The data is truncated, corrupt or not an image at all."""


class UnsupportedImageError(ImageError):
    """The data is an image format that imageattach does not accept."""


class ImageTooLargeError(ImageError):
    """The image (or requested size) exceeds a configured dimension limit."""


class ImageTimeoutError(ImageError):
    """Decoding or rendering the image took longer than the time limit; the
    worker doing it was killed."""


class UnknownMimeTypeError(ImageAttachError, ValueError):
    """There is no filename extension for this mimetype in the fixed table."""


class ImagingPolicyError(ImageAttachError, RuntimeError):
    """ImageMagick was initialised without imageattach's security policy (e.g.
    ``wand`` was imported before :mod:`imageattach.imaging`); no image is
    processed until it is in force."""


class ImagingUnavailableError(ImageAttachError, RuntimeError):
    """No decoding worker could take the job in time (all busy) or be
    started (e.g. out of memory).  Transient: the image itself may be fine,
    and trying again later may succeed (HTTP 503)."""


class NoOriginalImageError(ImageAttachError, OSError):
    """The image set has no original image yet (``require_original()``,
    ``locate()``, ``generate_thumbnail()`` on an empty set)."""


class StoreError(ImageAttachError, OSError):
    """A storage backend failed to read, write or delete a file."""


class FileNotFoundInStoreError(StoreError, FileNotFoundError):
    """The requested file does not exist in the store."""


class StoreAccessDeniedError(StoreError, PermissionError):
    """The backend refused the request (e.g. S3 ``AccessDenied``, HTTP 403)."""


class StoreUnavailableError(StoreError):
    """The backend could not be reached, timed out, or kept failing (HTTP 5xx)
    after the configured retries; trying again later may succeed."""
