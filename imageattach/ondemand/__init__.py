"""Thumbnails generated on demand when a resize URL misses the store.

:meth:`HttpExposedFileSystemStore.locate_resized
<imageattach.stores.fs.HttpExposedFileSystemStore.locate_resized>` builds a
URL whose path is the thumbnail's static path and whose query carries the
original's size, version and an HMAC signature (:mod:`.url`,
:mod:`.signing`).  When that URL misses, the serving middleware calls the
:class:`~.resizer.Resizer`, which authorises it without touching the disk,
generates the thumbnail once (:mod:`.flight`) in a bounded worker pool
(:mod:`.pool`), stores it under the key ``generate_thumbnail`` uses and lets
the middleware serve it as a static file.  See docs/ondemand.md.
"""

from __future__ import annotations

from .resizer import Resizer

__all__ = ["Resizer"]
