"""The extension point for requests that miss: a safe path under the prefix
whose file does not exist yet.

A front end that finds a miss calls the ``on_miss`` hook given in
:class:`~imageattach.middleware.options.ServeOptions` before it answers 404
(or falls through to the wrapped app).  The on-demand resizer is such a hook:
it makes the thumbnail, then asks for it to be served.  The hook returns

- ``None``: not handled; the miss is answered as usual,
- :data:`FILE_READY`: the file exists now; it is served like any other file
  (conditional requests, ranges and caching included),
- a :class:`MissResponse`: an error answer (e.g. 403 for a bad signature, 503
  with ``Retry-After`` when busy).  CORS and ``nosniff`` headers are added,
- a :class:`Redirect`: the file is stored elsewhere (e.g. an S3 bucket); the
  client is sent there, with the URL's ``Cache-Control``.

The WSGI front end calls a hook inline; the ASGI front end awaits a coroutine
function hook and runs any other hook in a worker thread, so a blocking hook
never stalls the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from ..exceptions import ConfigurationError

__all__ = ["FILE_READY", "FileReady", "MissResponse", "MissResult", "OnMiss", "Redirect"]


class FileReady:
    """The type of :data:`FILE_READY`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FILE_READY"


#: Returned by an ``on_miss`` hook that has just made the file: serve it.
FILE_READY: Final = FileReady()


@dataclass(frozen=True, slots=True)
class MissResponse:
    """An error answer from an ``on_miss`` hook.

    :param status: a 4xx or 5xx status code.
    :param text: a short plain-text body (never a traceback).
    :param headers: extra headers, e.g. ``(("Retry-After", "5"),)``.
    """

    status: int
    text: str = ""
    headers: Sequence[tuple[str, str]] = ()

    def __post_init__(self) -> None:
        if isinstance(self.status, bool) or not isinstance(self.status, int):
            raise ConfigurationError(f"status must be an int, not {self.status!r}")
        if not 400 <= self.status <= 599:
            raise ConfigurationError(f"status must be 4xx or 5xx, not {self.status}")
        object.__setattr__(self, "headers", tuple(self.headers))
        for name, value in self.headers:
            if not name.isascii() or not name.replace("-", "").isalnum():
                raise ConfigurationError(f"invalid header name {name!r}")
            if "\r" in value or "\n" in value:
                raise ConfigurationError(f"header {name} contains a line break")


@dataclass(frozen=True, slots=True)
class Redirect:
    """A ``302 Found`` to the file's URL elsewhere.

    :param location: the absolute URL to send the client to.
    :param cacheable: whether the redirect may be cached like the file
        itself (``versioned_cache_control`` for a versioned URL); ``False``
        for a location that expires, e.g. a presigned URL.
    """

    location: str
    cacheable: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.location, str) or "://" not in self.location:
            raise ConfigurationError(f"location must be an absolute URL, not {self.location!r}")
        if not self.location.isascii() or "\r" in self.location or "\n" in self.location:
            raise ConfigurationError("location must be ASCII without line breaks")


#: What an ``on_miss`` hook returns.
MissResult: TypeAlias = FileReady | MissResponse | Redirect | None

#: ``on_miss(relative_path, query_string)``: ``relative_path`` is the
#: percent-decoded, already validated path below the prefix with ``/``
#: separators (e.g. ``'user/5/0/5.150x113.jpe'``); ``query_string`` is the raw
#: query string (e.g. ``'s=...&_ts=...'``).  Blocking; or a coroutine function
#: (ASGI front end only).
OnMiss: TypeAlias = Callable[[str, str], MissResult] | Callable[[str, str], Awaitable[MissResult]]
