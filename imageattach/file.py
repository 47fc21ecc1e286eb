"""File-like proxies that give any readable object a common, safe shape.

:class:`FileProxy` adds the context-manager and iteration protocols to an
object that only has ``read()``; :class:`SeekableFileProxy` also exposes
``seek``/``tell``; :class:`ReusableFileProxy` reads a borrowed file from
the start in each ``with`` block and restores the caller's position after
it, so the same data can be read more than once without being copied.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any

from .exceptions import ArgumentError

__all__ = ["FileProxy", "ReusableFileProxy", "SeekableFileProxy"]


class FileProxy:
    """Wrap a readable object; ``with`` closes it (if it can be closed)."""

    def __init__(self, wrapped: Any) -> None:
        if not callable(getattr(wrapped, "read", None)):
            raise TypeError(f"{wrapped!r} is not readable: it has no read() method")
        self.wrapped = wrapped

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.wrapped.read(size)
        return data

    def readline(self, size: int = -1) -> bytes:
        if callable(getattr(self.wrapped, "readline", None)):
            line: bytes = self.wrapped.readline(size)
            return line
        # Byte-by-byte fallback for objects that only offer read().
        chunks: list[bytes] = []
        while size < 0 or len(chunks) < size:
            byte = self.wrapped.read(1)
            if not byte:
                break
            chunks.append(byte)
            if byte == b"\n":
                break
        return b"".join(chunks)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = []
        total = 0
        while hint <= 0 or total < hint:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        close = getattr(self.wrapped, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> FileProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}({self.wrapped!r})"


def _is_seekable(file: Any) -> bool:
    seekable = getattr(file, "seekable", None)
    if callable(seekable):
        return bool(seekable())
    return callable(getattr(file, "seek", None)) and callable(getattr(file, "tell", None))


class SeekableFileProxy(FileProxy):
    """A :class:`FileProxy` over a seekable object, exposing ``seek``/``tell``."""

    def __init__(self, wrapped: Any) -> None:
        super().__init__(wrapped)
        if not _is_seekable(wrapped):
            raise TypeError(f"{wrapped!r} is not seekable")

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = self.wrapped.seek(offset, whence)
        return int(position) if position is not None else self.tell()

    def tell(self) -> int:
        return int(self.wrapped.tell())


class ReusableFileProxy(SeekableFileProxy):
    """A borrowed file that can be read again and again, as the seed's was:
    each ``with`` block reads it from ``start`` (default the beginning, 0)
    and, on exit, puts it back at the position it had when the block began.

    Neither closing the proxy nor leaving a ``with`` block closes the
    wrapped file.  A non-seekable source is buffered once into memory (from
    its current position, so ``start`` then counts from there).
    """

    def __init__(self, wrapped: Any, *, start: int = 0) -> None:
        if not callable(getattr(wrapped, "read", None)):
            raise TypeError(f"{wrapped!r} is not readable: it has no read() method")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ArgumentError(f"start must be a non-negative offset, not {start!r}")
        if not _is_seekable(wrapped):
            wrapped = io.BytesIO(wrapped.read())
        super().__init__(wrapped)
        self.start = start
        self._positions: list[int] = []

    def __enter__(self) -> ReusableFileProxy:
        self._positions.append(self.tell())
        self.seek(self.start)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seek(self._positions.pop())

    def close(self) -> None:
        """Rewind to ``start``; the wrapped file is borrowed and stays open."""
        self.seek(self.start)


def open_file_proxy(file: IO[bytes] | Any, *, use_seek: bool) -> Any:
    """Return ``file`` itself if it already is a usable context manager, else a proxy.

    With ``use_seek`` a non-seekable file is buffered into a :class:`io.BytesIO`.
    """
    for method in ("read", "readline", "readlines"):
        if not callable(getattr(file, method, None)):
            raise TypeError(f"{file!r} must be a file-like object with a {method}() method")
    is_context = callable(getattr(file, "__enter__", None)) and callable(
        getattr(file, "__exit__", None)
    )
    if use_seek and not _is_seekable(file):
        buffered = io.BytesIO(file.read())
        close = getattr(file, "close", None)
        if callable(close):
            close()
        return buffered
    if is_context:
        return file
    return SeekableFileProxy(file) if use_seek else FileProxy(file)
