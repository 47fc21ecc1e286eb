"""Safe resolution of request paths to files below the served directory.

Two layers, both needed:

1. :func:`relative_path` checks the request path *syntactically*: it is
   percent-decoded exactly once (by the server), and any ``..``, ``.``, empty
   segment, NUL, backslash, colon (drive letters, NTFS streams), leading
   ``/`` or percent-encoded slash/backslash/NUL in the raw path is refused.
2. After the file is opened, :func:`is_inside` checks the *real* path of the
   opened file (symlinks resolved by the kernel) against the real root, so a
   symlink cannot lead outside unless that is opted in.
"""

from __future__ import annotations

import os
import re

__all__ = ["MAX_PATH_LENGTH", "PathRejected", "is_inside", "is_plain", "relative_path"]

#: Longer request paths are refused (no file of the store comes near it).
MAX_PATH_LENGTH = 1024

# Segments of word characters, '-' and '.', none starting with a dot: what the
# store writes, and (short enough) safe by every rule below.
_PLAIN = re.compile(r"[\w-][\w.-]*(?:/[\w-][\w.-]*)*", re.ASCII)


class PathRejected(Exception):
    """The request path names no servable file; ``status`` is 400 for an
    unsafe or malformed path, 404 for a directory or a hidden file."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def is_plain(path: str) -> bool:
    """Whether ``path`` passes every rule of :func:`relative_path` in one
    step: short segments of word characters, ``-`` and ``.``, none starting
    with a dot (what the store writes)."""
    return len(path) <= MAX_PATH_LENGTH and _PLAIN.fullmatch(path) is not None


def relative_path(path: str, raw_path: str | None = None) -> str:
    """Check ``path`` (below the prefix, percent-decoded once) and return it.

    :param raw_path: the request target as received (still percent-encoded),
        when the server gives it; used only to refuse encoded separators,
        which the decoded ``path`` can no longer show.
    :raises PathRejected: when it must not be served.
    """
    if (raw_path is None or "%" not in raw_path) and is_plain(path):
        return path  # the common case, checked in one step
    if not path or path[-1] == "/":
        raise PathRejected(404, "directories are not served")
    if len(path) > MAX_PATH_LENGTH:
        raise PathRejected(400, "path too long")
    if "\x00" in path or "\\" in path or ":" in path:
        raise PathRejected(400, "NUL, backslash or colon in path")
    if path[0] == "/":
        raise PathRejected(400, "absolute path")
    for segment in path.split("/"):
        if not segment or segment == "." or segment == "..":
            raise PathRejected(400, "empty, '.' or '..' segment")
        if segment[0] == ".":
            raise PathRejected(404, "hidden files are not served")
    if raw_path is not None and "%" in raw_path:
        raw = raw_path.partition("?")[0].lower()
        if "%2f" in raw or "%5c" in raw or "%00" in raw:
            raise PathRejected(400, "encoded slash, backslash or NUL")
    return path


def is_inside(root: str, path: str) -> bool:
    """Whether the real path ``path`` is ``root`` or below it.

    ``root`` and ``path`` are absolute and normalised (``os.path.realpath`` or
    the kernel's own resolution), so this is exactly
    ``os.path.commonpath([root, path]) == root`` — compared whole segments,
    never characters like ``os.path.commonprefix`` (``/srv/img2`` is not in
    ``/srv/img``) — at a fiftieth of the cost; a test checks the equivalence.
    """
    if root == os.sep:
        return path.startswith(os.sep)
    return path == root or path.startswith(root + os.sep)
