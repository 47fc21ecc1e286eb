"""Everything imageattach does with ImageMagick.

Importing this package puts imageattach's ImageMagick security policy in
force and sets resource limits (see :mod:`imageattach.imaging.policy`), so it
must happen before anything imports ``wand``.  ``docs/imaging.md`` describes
the accepted formats, limits and exceptions.
"""

from __future__ import annotations

from . import _environment  # noqa: F401  (sets MAGICK_CONFIGURE_PATH: must precede wand)

# isort: split
from .formats import ACCEPTED_MIMETYPES
from .policy import DEFAULT_RESOURCE_LIMITS, POLICY_DIR, set_resource_limits
from .probe import DEFAULT_MAX_PIXELS, ImageInfo, probe
from .thumbnail import DEFAULT_JPEG_QUALITY, make_thumbnail

__all__ = [
    "ACCEPTED_MIMETYPES",
    "DEFAULT_JPEG_QUALITY",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_RESOURCE_LIMITS",
    "POLICY_DIR",
    "ImageInfo",
    "make_thumbnail",
    "probe",
    "set_resource_limits",
]
