"""The file I/O primitives: one open + one fstat per request, and positional
reads from that descriptor.

A response reads only from the descriptor it opened, so a file replaced
(``os.replace``) while it is being served keeps yielding the old inode's
bytes: never a mix of two files.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import sys
from collections.abc import Callable

from .paths import is_inside

__all__ = ["FileBody", "OpenedFile", "open_file", "read_at"]

_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
# O_NONBLOCK: opening a FIFO planted in the directory must not hang the worker
# (it is then refused as not a regular file).  No effect on regular files.
_FLAGS |= getattr(os, "O_NONBLOCK", 0)

#: Where the kernel tells the real path of an open descriptor.
_PROC_FD = "/proc/self/fd/"
HAVE_PROC_FD = os.path.isdir(_PROC_FD)

_ENCODING = sys.getfilesystemencoding()
_ENCODE_ERRORS = sys.getfilesystemencodeerrors()


#: Machines where 437 is ``openat2`` (the common syscall table; not alpha or
#: MIPS, whose numbers are offset).
_SYSCALL_437 = frozenset(
    {"x86_64", "i686", "aarch64", "arm64", "armv7l", "ppc64le", "ppc64", "s390x", "riscv64"}
)


class _OpenWithoutSymlinks:
    """``openat2(AT_FDCWD, path, {_FLAGS, RESOLVE_NO_SYMLINKS})`` (Linux 5.6+).

    Hand-written with :mod:`ctypes` because :mod:`os` has no ``openat2``.  A
    file opened this way has no symlink anywhere in its (absolute, ``..``-free)
    path, so its real path is the path itself: the ``/proc/self/fd`` read that
    otherwise checks where it landed is not needed.  :func:`open_file` calls
    ``call(path_bytes, *tail)``, which gives the descriptor or a negative
    number for any failure (it then opens the usual way, which tells the
    errors apart).
    """

    def __init__(self) -> None:
        import ctypes

        class OpenHow(ctypes.Structure):
            _fields_ = (
                ("flags", ctypes.c_uint64),
                ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64),
            )

        syscall = ctypes.CDLL(None).syscall
        syscall.restype = ctypes.c_long
        self._how = OpenHow(_FLAGS, 0, 0x04)  # RESOLVE_NO_SYMLINKS, linux/openat2.h
        # Every argument as its exact C type (syscall() is variadic), bound
        # once: SYS_openat2 and AT_FDCWD; a partial adds no Python frame.
        self.call: Callable[..., int] = functools.partial(
            syscall, ctypes.c_long(437), ctypes.c_int(-100)
        )
        self.tail = (ctypes.byref(self._how), ctypes.c_size_t(ctypes.sizeof(self._how)))

    @classmethod
    def if_available(cls) -> _OpenWithoutSymlinks | None:
        """An instance when the kernel answers ``openat2``, else ``None``."""
        if not sys.platform.startswith("linux") or os.uname().machine not in _SYSCALL_437:
            return None
        try:
            opener = cls()
        except (ImportError, OSError, AttributeError):  # pragma: no cover - no ctypes/libc
            return None
        fd = opener.call(b"/", *opener.tail)
        if fd < 0:  # ENOSYS (an older kernel) or refused by a seccomp filter
            return None
        os.close(fd)
        return opener


_open_without_symlinks = _OpenWithoutSymlinks.if_available()

#: ``open_file`` outcomes that are not an open file.
MISSING = 1  # nothing there (ENOENT, ENOTDIR): the on-miss hook may make it
NOT_FOUND = 2  # something unservable there: a directory, device, loop...
FORBIDDEN = 3  # the server may not read it


class OpenedFile:
    """An open regular file: its descriptor, ``fstat`` result and real path
    (``None`` when unknown; ends with ``' (deleted)'`` once replaced)."""

    __slots__ = ("fd", "real_path", "stat")

    def __init__(self, fd: int, st: os.stat_result, real_path: str | None) -> None:
        self.fd = fd
        self.stat = st
        self.real_path = real_path


def open_file(path: str, root: str | None) -> OpenedFile | int:
    """Open ``path`` once and ``fstat`` the descriptor.

    :param root: the real root the file must be inside, or ``None`` to allow
        any real path (symlinks opted in).
    :returns: the :class:`OpenedFile`, or :data:`MISSING`,
        :data:`NOT_FOUND` or :data:`FORBIDDEN`.
    """
    fast = _open_without_symlinks
    if root is not None and fast is not None and "\x00" not in path:
        # The fast path: no symlink on the way means the real path is ``path``
        # (absolute, ``..``-free, under the real ``root``).  Any failure,
        # including a symlink (inside or not), takes the full path below.
        fd = fast.call(path.encode(_ENCODING, _ENCODE_ERRORS), *fast.tail)
        if fd >= 0:
            try:
                st = os.fstat(fd)
            except BaseException:
                os.close(fd)
                raise
            if stat.S_ISREG(st.st_mode):
                return OpenedFile(fd, st, path)
            os.close(fd)
            return NOT_FOUND
    if root is not None and not HAVE_PROC_FD:
        # No /proc: resolve before opening.  A directory swapped for a symlink
        # in between could still be followed; on Linux the check below is on
        # the descriptor itself and has no such window.
        resolved = os.path.realpath(path)
        if not is_inside(root, resolved):
            return NOT_FOUND
        path = resolved
    try:
        fd = os.open(path, _FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    except PermissionError:
        return FORBIDDEN
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENAMETOOLONG, errno.EISDIR, errno.ENXIO):
            return NOT_FOUND
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return NOT_FOUND
        real_path: str | None = path
        if root is not None and HAVE_PROC_FD:
            real_path = os.readlink(f"{_PROC_FD}{fd}")
            if not is_inside(root, real_path):
                os.close(fd)
                return NOT_FOUND
    except BaseException:
        os.close(fd)
        raise
    return OpenedFile(fd, st, real_path)


def read_at(fd: int, length: int, offset: int) -> bytes:
    """Exactly ``length`` bytes at ``offset``.

    :raises OSError: if the file ends sooner (it was truncated in place while
        being served; the response is cut rather than padded or mixed).
    """
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise OSError(errno.EIO, f"file shrank while being served (fd {fd})")
    return data


class FileBody:
    """The part ``[offset, offset + length)`` of an open file to send; the
    front end sends it, then calls :meth:`close` (on every path).

    It is also the minimal binary file object ``wsgi.file_wrapper`` needs for
    a whole file (``read``, ``fileno`` for sendfile, ``seek``, ``close``),
    without another ``fstat`` as :class:`io.FileIO` would make.
    """

    __slots__ = ("fd", "length", "offset", "path", "size", "whole")
    mode = "rb"

    def __init__(self, fd: int, offset: int, length: int, size: int, path: str | None) -> None:
        self.fd = fd
        self.offset = offset
        self.length = length
        self.size = size
        #: Whether it is the whole file.
        self.whole = offset == 0 and length == size
        #: The real path, for servers that send by path (ASGI pathsend);
        #: ``None`` if unknown or the file was replaced since it was opened.
        self.path = path

    def close(self) -> None:
        """Close the descriptor; later calls do nothing."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all when negative) from the descriptor's position."""
        return os.read(self.fd, self.size if size < 0 else size)

    def fileno(self) -> int:
        return self.fd

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self.fd, offset, whence)
