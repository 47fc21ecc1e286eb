"""SVG through librsvg, called directly with ctypes.

ImageMagick 6 as Debian builds it has no librsvg: its SVG coder runs an
``inkscape`` delegate or its own renderer, which goes through MVG, the draw
language behind the "ImageTragick" exploits, which imageattach's policy
refuses.  So SVG never reaches ImageMagick: librsvg (memory-safe, and given
no base file it loads no external resource) parses and renders it into a
cairo surface, and ImageMagick only gets the resulting PNG.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

from ..exceptions import CorruptImageError, ImageTooLargeError

__all__ = ["MAX_SIDE", "available", "render", "size"]

#: cairo's largest image surface side, in pixels.
MAX_SIDE = 32767
#: CSS pixels per inch, what SVG user units and ``width="10cm"`` resolve at.
_DPI = 96.0


class _GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int), ("message", ctypes.c_char_p)]


class _Rectangle(ctypes.Structure):
    _fields_ = [(name, ctypes.c_double) for name in ("x", "y", "width", "height")]


class _Length(ctypes.Structure):
    _fields_ = [("length", ctypes.c_double), ("unit", ctypes.c_int)]


def _load(name: str, *sonames: str) -> ctypes.CDLL | None:
    for soname in sonames:
        try:
            return ctypes.CDLL(soname)
        except OSError:
            continue
    found = ctypes.util.find_library(name)
    return ctypes.CDLL(found) if found else None


class _Libraries:
    """librsvg, cairo and GLib with the prototypes used here."""

    def __init__(self) -> None:
        rsvg = _load("rsvg-2", "librsvg-2.so.2", "librsvg-2.2.dylib")
        cairo = _load("cairo", "libcairo.so.2", "libcairo.2.dylib")
        gobject = _load("gobject-2.0", "libgobject-2.0.so.0", "libgobject-2.0.0.dylib")
        glib = _load("glib-2.0", "libglib-2.0.so.0", "libglib-2.0.0.dylib")
        if not (rsvg and cairo and gobject and glib):
            raise OSError("librsvg, cairo or GLib is missing")
        p, d, i, u = ctypes.c_void_p, ctypes.c_double, ctypes.c_int, ctypes.c_uint
        d_p = ctypes.POINTER(d)
        error_p = ctypes.POINTER(ctypes.POINTER(_GError))
        self.new_from_data = self._declare(
            rsvg, "rsvg_handle_new_from_data", p, p, ctypes.c_size_t, error_p
        )
        self.set_dpi = self._declare(rsvg, "rsvg_handle_set_dpi", None, p, d)
        self.intrinsic_size = self._declare(
            rsvg, "rsvg_handle_get_intrinsic_size_in_pixels", i, p, d_p, d_p
        )
        self.intrinsic_dimensions = self._declare(
            rsvg, "rsvg_handle_get_intrinsic_dimensions", None,
            p, ctypes.POINTER(i), ctypes.POINTER(_Length), ctypes.POINTER(i),
            ctypes.POINTER(_Length), ctypes.POINTER(i), ctypes.POINTER(_Rectangle),
        )  # fmt: skip
        self.render_document = self._declare(
            rsvg, "rsvg_handle_render_document", i, p, p, ctypes.POINTER(_Rectangle), error_p
        )
        self.unref = self._declare(gobject, "g_object_unref", None, p)
        self.error_free = self._declare(glib, "g_error_free", None, ctypes.POINTER(_GError))
        self.surface_create = self._declare(cairo, "cairo_image_surface_create", p, i, i, i)
        self.surface_status = self._declare(cairo, "cairo_surface_status", i, p)
        self.surface_destroy = self._declare(cairo, "cairo_surface_destroy", None, p)
        self.create = self._declare(cairo, "cairo_create", p, p)
        self.destroy = self._declare(cairo, "cairo_destroy", None, p)
        self.write_func = ctypes.CFUNCTYPE(i, p, ctypes.POINTER(ctypes.c_ubyte), u)
        self.write_to_png_stream = self._declare(
            cairo, "cairo_surface_write_to_png_stream", i, p, self.write_func, p
        )

    @staticmethod
    def _declare(library: ctypes.CDLL, name: str, restype: Any, *argtypes: Any) -> Any:
        function = getattr(library, name)  # AttributeError: too old a version
        function.restype = restype
        function.argtypes = argtypes
        return function


@functools.cache
def _libraries() -> _Libraries | None:
    try:
        return _Libraries()
    except (OSError, AttributeError):
        return None


def available() -> bool:
    """Whether librsvg (2.52 or later) and cairo can be used here."""
    return _libraries() is not None


class _Handle:
    def __init__(self, libraries: _Libraries, data: bytes) -> None:
        self.libraries = libraries
        error = ctypes.POINTER(_GError)()
        self.pointer = libraries.new_from_data(data, len(data), ctypes.byref(error))
        if not self.pointer:
            raise CorruptImageError("invalid SVG") from _LibrsvgError(_message(libraries, error))
        libraries.set_dpi(self.pointer, _DPI)

    def __enter__(self) -> _Handle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.libraries.unref(self.pointer)

    def size(self) -> tuple[float, float]:
        width, height = ctypes.c_double(), ctypes.c_double()
        if self.libraries.intrinsic_size(self.pointer, ctypes.byref(width), ctypes.byref(height)):
            return width.value, height.value
        # Width/height given in percent or not at all: take the viewBox's size.
        flags = [ctypes.c_int() for _ in range(3)]
        lengths = [_Length(), _Length()]
        viewbox = _Rectangle()
        self.libraries.intrinsic_dimensions(
            self.pointer, ctypes.byref(flags[0]), ctypes.byref(lengths[0]), ctypes.byref(flags[1]),
            ctypes.byref(lengths[1]), ctypes.byref(flags[2]), ctypes.byref(viewbox),
        )  # fmt: skip
        if flags[2].value:
            return viewbox.width, viewbox.height
        raise CorruptImageError("the SVG has neither a size nor a viewBox")


class _LibrsvgError(Exception):
    """librsvg's own message: logged, not shown to the uploader."""


def _message(libraries: _Libraries, error: Any) -> str:
    if not error:
        return "unknown error"
    message = (error.contents.message or b"").decode("utf-8", "replace")
    libraries.error_free(error)
    return message


def _require() -> _Libraries:
    libraries = _libraries()
    if libraries is None:
        raise OSError("SVG needs librsvg 2.52+ and cairo")
    return libraries


def size(data: bytes) -> tuple[int, int]:
    """The SVG's intrinsic size in CSS pixels (at least 1x1).

    :raises CorruptImageError: not a parsable SVG, or it has no size.
    """
    libraries = _require()
    with _Handle(libraries, data) as handle:
        width, height = handle.size()
    if not (width > 0 and height > 0):
        raise CorruptImageError(f"the SVG's size is {width}x{height}")
    return max(1, round(width)), max(1, round(height))


def render(data: bytes, width: int, height: int) -> bytes:
    """Render the SVG scaled into ``width`` x ``height`` pixels, as PNG bytes
    (transparent where the SVG paints nothing)."""
    if max(width, height) > MAX_SIDE:
        raise ImageTooLargeError(f"SVG is rendered at most {MAX_SIDE} pixels wide or high")
    libraries = _require()
    chunks: list[bytes] = []

    def write(_closure: Any, pointer: Any, length: int) -> int:
        chunks.append(ctypes.string_at(pointer, length))
        return 0  # CAIRO_STATUS_SUCCESS

    with _Handle(libraries, data) as handle:
        surface = libraries.surface_create(0, width, height)  # CAIRO_FORMAT_ARGB32
        try:
            if libraries.surface_status(surface) != 0:
                raise ImageTooLargeError(f"cannot make a {width}x{height} image to render the SVG")
            context = libraries.create(surface)
            try:
                viewport = _Rectangle(0, 0, width, height)
                error = ctypes.POINTER(_GError)()
                if not libraries.render_document(
                    handle.pointer, context, ctypes.byref(viewport), ctypes.byref(error)
                ):
                    detail = _message(libraries, error)
                    if "NoMemory" in detail:  # librsvg's name for a failed allocation
                        raise ImageTooLargeError(
                            "the SVG needs more memory to render than the limit"
                        ) from _LibrsvgError(detail)
                    raise CorruptImageError("the SVG cannot be rendered") from _LibrsvgError(detail)
            finally:
                libraries.destroy(context)
            callback = libraries.write_func(write)
            if libraries.write_to_png_stream(surface, callback, None) != 0:
                raise CorruptImageError("the SVG cannot be rendered")
        finally:
            libraries.surface_destroy(surface)
    return b"".join(chunks)
