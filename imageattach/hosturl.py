"""The base URL of the request being served, for building absolute image URLs.

The serving middleware sets it for the duration of each request from the
WSGI environ or ASGI scope (scheme, host, script name / root path); stores
read it in ``get_url``.  It is a :class:`~contextvars.ContextVar`, so one
request's ``Host`` header never leaks into another's URLs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from .exceptions import LocateError

__all__ = ["current_host_url", "host_url_context", "require_host_url"]

_host_url: ContextVar[str | None] = ContextVar("imageattach_host_url", default=None)


def current_host_url() -> str | None:
    """The current request's base URL, ending in ``/``, or ``None`` outside a request."""
    return _host_url.get()


def require_host_url(getter: Callable[[], str] | None, owner: str, option: str) -> str:
    """The host URL, ending in ``/``: ``getter()`` if given, else the current
    request's.

    :param owner: / :param option: the class and the option named in the
        error, e.g. ``'HttpExposedFileSystemStore'`` and ``'host_url_getter'``.
    :raises LocateError: outside a request and without a ``getter``.
    """
    if getter is not None:
        host_url = getter()
    else:
        found = current_host_url()
        if found is None:
            raise LocateError(
                "cannot build an image URL outside a request: serve the app through "
                f"{owner}.wsgi_middleware() / asgi_middleware() (or a framework adapter), "
                f"or pass {option}=lambda: 'https://example.com/' to the store"
            )
        host_url = found
    return host_url if host_url.endswith("/") else host_url + "/"


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
