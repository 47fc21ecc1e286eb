"""The base URL of the request being served, for building absolute image URLs.

The serving middleware sets it for the duration of each request from the
WSGI environ or ASGI scope (scheme, host, script name / root path); stores
read it in ``get_url``.  It is a :class:`~contextvars.ContextVar`, so one
request's ``Host`` header never leaks into another's URLs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["current_host_url", "host_url_context"]

_host_url: ContextVar[str | None] = ContextVar("imageattach_host_url", default=None)


def current_host_url() -> str | None:
    """The current request's base URL, ending in ``/``, or ``None`` outside a request."""
    return _host_url.get()


@contextlib.contextmanager
def host_url_context(url: str) -> Iterator[None]:
    """Make ``url`` (e.g. ``'https://example.com/app/'``) the current host URL."""
    if not url.endswith("/"):
        url += "/"
    previous = _host_url.get()
    _host_url.set(url)
    try:
        yield
    finally:
        _host_url.set(previous)
