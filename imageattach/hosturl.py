"""The base URL of the request being served, for building absolute image URLs.

The serving middleware and the framework adapters make it current for each
request; stores read it in ``get_url``.  It lives in a
:class:`~contextvars.ContextVar`, so one request's ``Host`` header never
leaks into another's URLs.

It may be given as a string or as a function computing it when first
needed, from the WSGI environ or ASGI scope the *application* received
(after any ``ProxyFix`` in front of it has rewritten the environ).

Leaving a :func:`host_url_context` restores the previous value only if the
context's own value is still current, in the context it was entered in: a
response abandoned by its client and finalised by the garbage collector
during a later request never clears that request's URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType

from .exceptions import LocateError

__all__ = ["HostURLContext", "current_host_url", "host_url_context", "require_host_url"]


class _HostURL:
    """One request's base URL: fixed, or computed by a function."""

    __slots__ = ("_compute", "_url")

    def __init__(self, url: str | None, compute: Callable[[], str | None] | None) -> None:
        self._url = url
        self._compute = compute

    def get(self) -> str | None:
        if self._compute is None:
            return self._url
        url = self._compute()
        if url is not None and not url.endswith("/"):
            url += "/"
        return url


_host_url: ContextVar[_HostURL | None] = ContextVar("imageattach_host_url", default=None)


def current_host_url() -> str | None:
    """The current request's base URL, ending in ``/``, or ``None`` outside a request."""
    state = _host_url.get()
    return None if state is None else state.get()


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


class HostURLContext:
    """Makes a base URL current between ``__enter__`` and ``__exit__``.

    A plain class, not a generator: nothing runs when an unexited one is
    garbage collected, and ``__exit__`` is a no-op in any other context or
    once another value has been made current.
    """

    __slots__ = ("_state", "_token")

    def __init__(self, url: str | Callable[[], str | None]) -> None:
        if callable(url):
            self._state = _HostURL(None, url)
        else:
            self._state = _HostURL(url if url.endswith("/") else url + "/", None)
        self._token: Token[_HostURL | None] | None = None

    def __enter__(self) -> None:
        self._token = _host_url.set(self._state)

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        token, self._token = self._token, None
        if token is None or _host_url.get() is not self._state:
            return
        with contextlib.suppress(ValueError):  # the token belongs to another context
            _host_url.reset(token)


def host_url_context(url: str | Callable[[], str | None]) -> HostURLContext:
    """Make ``url`` (e.g. ``'https://example.com/app/'``, or a function
    returning it or ``None``) the current host URL inside ``with``."""
    return HostURLContext(url)
