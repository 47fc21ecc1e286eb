"""Convert an image with an embedded ICC profile to sRGB.

Wand has no wrapper for MagickProfileImage, so it is called through ctypes.
The target sRGB profile is made by Little CMS (the colour engine ImageMagick
itself uses for profiles, reached through the same library handle), so no
profile file has to ship with imageattach.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from typing import Any

from wand.api import library
from wand.image import Image

__all__ = ["srgb_profile", "to_srgb"]

logger = logging.getLogger(__name__)


def _function(name: str, restype: Any, *argtypes: Any) -> Any:
    """An independent ctypes prototype for ``name`` in ImageMagick's library
    (or a library it links), leaving Wand's own declarations untouched."""
    try:
        prototype = ctypes.CFUNCTYPE(restype, *argtypes)
        return prototype((name, library))
    except AttributeError:
        return None


_MagickProfileImage = _function(
    "MagickProfileImage",
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_char_p,
    ctypes.c_void_p,
    ctypes.c_size_t,
)
_cmsCreate_sRGBProfile = _function("cmsCreate_sRGBProfile", ctypes.c_void_p)
_cmsSaveProfileToMem = _function(
    "cmsSaveProfileToMem",
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint32),
)
_cmsCloseProfile = _function("cmsCloseProfile", ctypes.c_int, ctypes.c_void_p)


@functools.cache
def srgb_profile() -> bytes | None:
    """An sRGB ICC profile made by Little CMS, or ``None`` where ImageMagick
    was built without it (then embedded profiles cannot be applied anyway)."""
    if not (_cmsCreate_sRGBProfile and _cmsSaveProfileToMem and _cmsCloseProfile):
        return None
    handle = _cmsCreate_sRGBProfile()
    if not handle:
        return None
    try:
        size = ctypes.c_uint32(0)
        if not _cmsSaveProfileToMem(handle, None, ctypes.byref(size)):
            return None
        buffer = ctypes.create_string_buffer(size.value)
        if not _cmsSaveProfileToMem(handle, buffer, ctypes.byref(size)):
            return None
        return buffer.raw[: size.value]
    finally:
        _cmsCloseProfile(handle)


def to_srgb(image: Image) -> None:
    """Convert ``image`` to sRGB pixels: through its embedded ICC profile if
    it has one, else from CMYK by formula.  A profile ImageMagick cannot apply
    (corrupt, or no Little CMS) is ignored with a log message: the upload is
    still a readable picture, its colours just stay as stored."""
    # Mapping-style lookups ("icc" in profiles) answer True for any name in
    # Wand 0.6; fetch the bytes instead.
    if image.profiles["icc"]:
        profile = srgb_profile()
        if profile is None or _MagickProfileImage is None:
            logger.warning("ImageMagick has no Little CMS; embedded ICC profile left unapplied")
        elif not _MagickProfileImage(image.wand, b"icc", profile, len(profile)):
            logger.warning("cannot apply the embedded ICC profile: %s", image.get_exception())
    if image.colorspace == "cmyk":
        image.transform_colorspace("srgb")
