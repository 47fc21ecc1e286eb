"""The filesystem store's own bookkeeping, in dot-directories of its root
(the serving middleware serves no dot segment, and ``list_files`` reads only
object directories):

- ``.imageattach-locks/objects/``: a lock per object, held by every process
  around the writes and cleanups of that object's files and around the
  publication of its on-demand thumbnails;
- ``.imageattach-derived/``: for each on-demand thumbnail, a marker file at
  the thumbnail's own relative path holding the version of the original it
  was made from, so that a cleanup removes exactly the thumbnails of the
  originals it deleted;
- ``.imageattach-tmp/``: the temporary files of writes in progress, renamed
  into place when complete; those of interrupted writes (a killed process)
  are removed by age.

The functions raise :exc:`OSError` as they get it; the store translates.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from contextlib import AbstractContextManager

from ..filelocks import FileLocks, object_lock

__all__ = [
    "DERIVED_DIRECTORY",
    "LOCK_DIRECTORY",
    "STALE_TEMPORARY_AGE",
    "TEMPORARY_DIRECTORY",
    "Bookkeeping",
    "version_of",
]

LOCK_DIRECTORY = ".imageattach-locks"
DERIVED_DIRECTORY = ".imageattach-derived"
TEMPORARY_DIRECTORY = ".imageattach-tmp"
#: Seconds after which a temporary file is taken for the remains of an
#: interrupted write: far longer than any write takes.
STALE_TEMPORARY_AGE = 3600.0


def version_of(stat: os.stat_result) -> str:
    """A file's version: :func:`os.replace` gives a new file a new inode,
    and a rewrite in place changes its modification time."""
    return f"{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"


class Bookkeeping:
    """The dot-directories of the store rooted at ``root``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.temporary = os.path.join(root, TEMPORARY_DIRECTORY)
        self._locks = FileLocks(os.path.join(root, LOCK_DIRECTORY, "objects"))

    def lock(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock of object ``name`` (``object_type/object_id``)."""
        return object_lock(self._locks, name, self.root)

    def temporary_file(self) -> tuple[int, str]:
        """A new temporary file, open for writing: ``(fd, path)``."""
        os.makedirs(self.temporary, exist_ok=True)
        return tempfile.mkstemp(prefix="write-", dir=self.temporary)

    def remove_stale_temporary_files(self, max_age: float = STALE_TEMPORARY_AGE) -> int:
        """Remove temporary files older than ``max_age`` seconds; how many."""
        try:
            names = os.listdir(self.temporary)
        except FileNotFoundError:
            return 0
        removed = 0
        deadline = time.time() - max_age
        for name in names:
            path = os.path.join(self.temporary, name)
            with contextlib.suppress(FileNotFoundError):
                if os.lstat(path).st_mtime <= deadline:
                    os.unlink(path)
                    removed += 1
        return removed

    def _marker(self, segments: tuple[str, ...]) -> str:
        return os.path.join(self.root, DERIVED_DIRECTORY, *segments)

    def mark_derived(self, segments: tuple[str, ...], source_version: str) -> None:
        """Record that the file at ``segments`` was made from ``source_version``."""
        marker = self._marker(segments)
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        fd, temporary = self.temporary_file()
        try:
            with os.fdopen(fd, "w") as file:
                file.write(source_version)
            os.replace(temporary, marker)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def forget_derived(self, segments: tuple[str, ...]) -> None:
        """The file at ``segments`` is no longer an on-demand thumbnail."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._marker(segments))

    def derived_source(self, segments: tuple[str, ...]) -> str | None:
        """The source version recorded for the file at ``segments``, if any."""
        try:
            with open(self._marker(segments)) as file:
                return file.read() or None
        except FileNotFoundError:
            return None

    def derived(self, directory: tuple[str, ...]) -> dict[str, str]:
        """Marker file name -> source version, of the markers in ``directory``."""
        path = self._marker(directory)
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            return {}
        found = {}
        for name in names:
            with contextlib.suppress(FileNotFoundError), open(os.path.join(path, name)) as file:
                found[name] = file.read()
        return found
