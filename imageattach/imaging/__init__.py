"""Everything imageattach does with ImageMagick and librsvg.

:func:`probe`, :func:`make_thumbnail`, :func:`render` and
:func:`preview_rgba` run each image in a decoding worker
process under :class:`ImageLimits` (see :mod:`imageattach.imaging.sandbox`):
a hostile file costs one bounded job, never the server.  Importing this
package puts imageattach's ImageMagick security policy in force and sets
resource limits (see :mod:`imageattach.imaging.policy`), so it must happen
before anything imports ``wand``.  ``docs/imaging.md`` and
``docs/security.md`` describe the formats, limits and exceptions.
"""

from __future__ import annotations

from . import _environment  # noqa: F401  (sets MAGICK_CONFIGURE_PATH: must precede wand)

# isort: split
from ..limits import DEFAULT_LIMITS, ImageLimits
from .formats import ACCEPTED_MIMETYPES
from .info import ImageInfo
from .jobs import DEFAULT_MAX_PIXELS, make_thumbnail, preview_rgba, probe, render
from .policy import DEFAULT_RESOURCE_LIMITS, POLICY_DIR, set_resource_limits
from .render import PreviewResult, RenderResult, RenderSpec
from .sandbox import Sandbox, configure_sandbox, get_sandbox
from .thumbnail import DEFAULT_JPEG_QUALITY

__all__ = [
    "ACCEPTED_MIMETYPES",
    "DEFAULT_JPEG_QUALITY",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_RESOURCE_LIMITS",
    "POLICY_DIR",
    "ImageInfo",
    "ImageLimits",
    "PreviewResult",
    "RenderResult",
    "RenderSpec",
    "Sandbox",
    "configure_sandbox",
    "get_sandbox",
    "make_thumbnail",
    "preview_rgba",
    "probe",
    "render",
    "set_resource_limits",
]
