"""A decoding worker: the process in which untrusted image bytes are decoded.

Started by :mod:`imageattach.imaging.sandbox` as
``python -m imageattach.imaging.worker FD``, it answers jobs on the Unix
socket ``FD`` one at a time, until the socket closes.  Each job runs under
operating-system limits (address space, CPU seconds) on top of
ImageMagick's own, so a decompression bomb fails with ``MemoryError`` or an
ImageMagick resource error here and a runaway render is stopped; a crash in
ImageMagick or librsvg ends this process only.  The server kills it at the
job's wall-clock deadline as well.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import socket
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from .. import exceptions
from ..limits import ImageLimits
from . import channel

# Loads ImageMagick (with imageattach's policy) and librsvg when the worker
# starts, so that no job pays for it.  This module only ever runs as a
# worker (``python -m``): the server never imports it.
from .identify import identify
from .info import ImageInfo
from .render import RenderSpec
from .renderer import preview_bytes, render_bytes
from .thumbnail import thumbnail_bytes

__all__ = ["main"]

Reply = tuple[dict[str, Any], list[int]]


def main(argv: list[str]) -> int:
    """Serve jobs on the socket whose descriptor is ``argv[1]``."""
    sock = socket.socket(fileno=int(argv[1]))
    # A crash dumps no core (up to the job's memory, for every hostile file).
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    baseline = _address_space()
    channel.send(sock, {"ready": os.getpid()})
    while True:
        try:
            request, fds = channel.receive(sock)
        except (EOFError, ValueError, ConnectionError):
            return 0
        try:
            reply, out = _run(request, fds, baseline)
        finally:
            for fd in fds:
                os.close(fd)
        try:
            channel.send(sock, reply, out)
        except (BrokenPipeError, ConnectionError):
            return 0
        finally:
            for fd in out:
                os.close(fd)
        if reply.get("retire"):
            return 0


def _run(request: dict[str, Any], fds: list[int], baseline: int) -> Reply:
    limits = ImageLimits(**request["limits"])
    try:
        with _bounded(limits, baseline):
            data = _read(fds[0], request["offset"])
            return _JOBS[request["job"]](data, request["params"], limits)
    except exceptions.ImageAttachError as error:
        return _error(error, error.__cause__ or error)
    except MemoryError as error:
        too_large = exceptions.ImageTooLargeError(
            f"the image needs more than {limits.memory // 1024**2} MiB of memory to decode"
        )
        return _error(too_large, error, retire=True)
    except Exception as error:
        corrupt = exceptions.CorruptImageError("the image cannot be decoded")
        return _error(corrupt, "".join(traceback.format_exception(error)), retire=True)


def _error(error: exceptions.ImageAttachError, detail: object, *, retire: bool = False) -> Reply:
    """An error reply; ``retire``: this process's state is not to be trusted
    after it (out of memory half-way, or an unexpected error), so it exits."""
    reply = {"error": type(error).__name__, "message": str(error), "detail": str(detail)}
    return {**reply, "retire": retire}, []


@contextmanager
def _bounded(limits: ImageLimits, baseline: int) -> Iterator[None]:
    """Run the block with at most ``limits.memory`` bytes of address space
    above the worker's start-up ``baseline``, and about ``limits.time`` more
    CPU seconds (SIGXCPU ends the process past that: a backstop should the
    server not kill it)."""
    from wand.resource import limits as magick_limits

    usage = resource.getrusage(resource.RUSAGE_SELF)
    wanted = {
        resource.RLIMIT_AS: baseline + limits.memory,
        resource.RLIMIT_CPU: int(usage.ru_utime + usage.ru_stime + limits.time) + 2,
    }
    # Within the system policy's maximums (Debian: 256 MiB of memory, then
    # disk): the pixel cache of a large image goes to this worker's own
    # temporary directory, which the server removes with the worker.
    magick_limits["memory"] = magick_limits["map"] = limits.memory // 2
    magick_limits["disk"] = limits.memory
    with ExitStack() as stack:
        for name, value in wanted.items():
            soft, hard = resource.getrlimit(name)
            capped = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(name, (capped, hard))
            stack.callback(resource.setrlimit, name, (soft, hard))
        yield


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _read(fd: int, offset: int) -> bytes:
    size = os.fstat(fd).st_size - offset
    chunks = []
    while size > 0:
        chunk = os.pread(fd, min(size, 16 * 1024**2), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _probe(data: bytes, params: dict[str, Any], limits: ImageLimits) -> Reply:
    info = identify(data, limits=limits, allow_active_svg=params["allow_active_svg"])
    return {"info": dataclasses.asdict(info)}, []


def _thumbnail(data: bytes, params: dict[str, Any], limits: ImageLimits) -> Reply:
    info = ImageInfo(**params["info"]) if params["info"] else None
    blob, mimetype = thumbnail_bytes(
        data,
        width=params["width"],
        height=params["height"],
        info=info,
        filter=params["filter"],
        quality=params["quality"],
        limits=limits,
    )
    return {"mimetype": mimetype, "length": len(blob)}, [channel.anonymous_file(blob)]


def _render(data: bytes, params: dict[str, Any], limits: ImageLimits) -> Reply:
    info = ImageInfo(**params["info"]) if params["info"] else None
    blob, mimetype, width, height = render_bytes(
        data, spec=RenderSpec.from_json(params["spec"]), info=info, limits=limits
    )
    reply = {"mimetype": mimetype, "width": width, "height": height, "length": len(blob)}
    return reply, [channel.anonymous_file(blob)]


def _preview(data: bytes, params: dict[str, Any], limits: ImageLimits) -> Reply:
    info = ImageInfo(**params["info"]) if params["info"] else None
    rgba, width, height = preview_bytes(data, max_side=params["max_side"], info=info, limits=limits)
    reply = {"width": width, "height": height, "length": len(rgba)}
    return reply, [channel.anonymous_file(rgba)]


_JOBS: dict[str, Callable[[bytes, dict[str, Any], ImageLimits], Reply]] = {
    "probe": _probe,
    "thumbnail": _thumbnail,
    "render": _render,
    "preview": _preview,
}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
