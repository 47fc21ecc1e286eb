"""Encode AVIF with alpha through libheif, in a decoding worker.

ImageMagick 6's HEIF writer encodes Y, Cb and Cr only: transparent pixels
come out black.  libheif (the library that writer calls) encodes an RGBA
image with its alpha plane when asked directly, so variants with alpha are
handed to it through ctypes: the pixels are exported from ImageMagick
straight into libheif's plane, encoded with the AV1 encoder at the same
quality scale, and written to a file in the worker's own temporary
directory (libheif's writer callback returns a struct, which ctypes
callbacks cannot).  Only pixels imageattach made reach this code, never
uploaded bytes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import tempfile
from typing import Any

from wand.api import library
from wand.image import Image

from ..exceptions import CorruptImageError

__all__ = ["available", "encode_rgba"]

# libheif 1.x enums (heif.h).
_COMPRESSION_AV1 = 4
_COLORSPACE_RGB = 1
_CHROMA_INTERLEAVED_RGBA = 11
_CHANNEL_INTERLEAVED = 10
#: ImageMagick's StorageType CharPixel: 8 bits per sample.
_CHAR_PIXEL = 1


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("subcode", ctypes.c_int), ("message", ctypes.c_char_p)]


@functools.cache
def _libheif() -> Any:
    """libheif with the prototypes used here, or ``None`` if absent."""
    name = ctypes.util.find_library("heif")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    void_p, int_ = ctypes.c_void_p, ctypes.c_int
    prototypes: dict[str, tuple[Any, ...]] = {
        "heif_context_alloc": (void_p,),
        "heif_context_free": (None, void_p),
        "heif_context_get_encoder_for_format": (_Error, void_p, int_, ctypes.POINTER(void_p)),
        "heif_encoder_release": (None, void_p),
        "heif_encoder_set_lossy_quality": (_Error, void_p, int_),
        "heif_image_create": (_Error, int_, int_, int_, int_, ctypes.POINTER(void_p)),
        "heif_image_release": (None, void_p),
        "heif_image_add_plane": (_Error, void_p, int_, int_, int_, int_),
        "heif_image_get_plane": (void_p, void_p, int_, ctypes.POINTER(int_)),
        "heif_context_encode_image": (
            _Error,
            void_p,
            void_p,
            void_p,
            void_p,
            ctypes.POINTER(void_p),
        ),
        "heif_image_handle_release": (None, void_p),
        "heif_context_write_to_file": (_Error, void_p, ctypes.c_char_p),
    }
    try:
        for function, (restype, *argtypes) in prototypes.items():
            getattr(lib, function).restype = restype
            getattr(lib, function).argtypes = argtypes
    except AttributeError:
        return None
    return lib


def available() -> bool:
    """Whether libheif can be called here."""
    return _libheif() is not None


def _check(error: _Error) -> None:
    if error.code:
        raise CorruptImageError("the AVIF encoder failed")


def encode_rgba(image: Image, quality: int) -> bytes:
    """``image`` (8-bit sRGB with alpha) as AVIF at ``quality`` (libheif's
    scale, as ImageMagick passes it).

    :raises CorruptImageError: libheif is missing or failed.
    """
    lib = _libheif()
    if lib is None:
        raise CorruptImageError("libheif is not available")
    width, height = image.width, image.height
    context = lib.heif_context_alloc()
    encoder, heif_image, handle = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
    try:
        _check(lib.heif_context_get_encoder_for_format(context, _COMPRESSION_AV1, encoder))
        _check(lib.heif_encoder_set_lossy_quality(encoder, quality))
        _check(
            lib.heif_image_create(
                width, height, _COLORSPACE_RGB, _CHROMA_INTERLEAVED_RGBA, heif_image
            )
        )
        _check(lib.heif_image_add_plane(heif_image, _CHANNEL_INTERLEAVED, width, height, 8))
        stride = ctypes.c_int()
        plane = lib.heif_image_get_plane(heif_image, _CHANNEL_INTERLEAVED, stride)
        if not plane or stride.value < width * 4:
            raise CorruptImageError("the AVIF encoder failed")
        for row in range(height):
            # Row by row: libheif may pad its rows beyond width * 4 bytes.
            if not library.MagickExportImagePixels(
                image.wand, 0, row, width, 1, b"RGBA", _CHAR_PIXEL, plane + row * stride.value
            ):
                raise CorruptImageError("cannot export the pixels to encode")
        _check(lib.heif_context_encode_image(context, heif_image, encoder, None, handle))
        descriptor, path = tempfile.mkstemp(suffix=".avif")
        os.close(descriptor)
        try:
            _check(lib.heif_context_write_to_file(context, os.fsencode(path)))
            with open(path, "rb") as file:
                return file.read()
        finally:
            os.unlink(path)
    finally:
        if handle:
            lib.heif_image_handle_release(handle)
        if heif_image:
            lib.heif_image_release(heif_image)
        if encoder:
            lib.heif_encoder_release(encoder)
        lib.heif_context_free(context)
