"""Per-request state the adapters set and restore safely.

Restoring is tied to the context it was set in: a request whose response
a client abandoned, finalised by the garbage collector while a *later*
request runs, must not pop that request's store or clear its base URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any

from ..context import pop_store_context, push_store_context
from ..exceptions import ImageAttachError
from ..forwarded import TrustedProxyHeaders
from ..hosturl import HostURLContext
from ..middleware.baseurl import environ_url_getter, scope_url_getter
from ..store import Store

__all__ = ["StorePush", "environ_host_url", "reads_request_url", "scope_host_url", "trust_of"]

_pushed: ContextVar[object | None] = ContextVar("imageattach_adapter_push", default=None)


class StorePush:
    """Pushes ``store`` on :meth:`enter` and pops it on :meth:`exit`, only
    in the context it was pushed in and only while its push is the latest."""

    __slots__ = ("_store", "_token")

    def __init__(self, store: Store) -> None:
        self._store = store
        self._token: Token[object | None] | None = None

    def enter(self) -> None:
        push_store_context(self._store)
        self._token = _pushed.set(self)

    def exit(self) -> None:
        token, self._token = self._token, None
        if token is None or _pushed.get() is not self:
            return
        try:
            _pushed.reset(token)
        except ValueError:  # another context: leave it alone
            return
        pop_store_context()


def reads_request_url(store: Store) -> bool:
    """Whether ``store`` builds its URLs from the request (it has a serving
    middleware and no fixed host URL)."""
    try:
        return (
            getattr(store, "serve_options", None) is not None
            and getattr(store, "host_url_getter", None) is None
        )
    except ImageAttachError:  # a proxy store with nothing behind it yet
        return False


def trust_of(store: Store) -> TrustedProxyHeaders | None:
    """The forwarded headers ``store``'s serving options trust."""
    try:
        options = getattr(store, "serve_options", None)
    except ImageAttachError:
        return None
    trust = getattr(options, "proxy_trust", None)
    return trust if isinstance(trust, TrustedProxyHeaders) else None


def environ_host_url(store: Store, environ_of: Callable[[], Mapping[str, Any]]) -> HostURLContext:
    """The base URL, computed when ``locate()`` needs it, from the environ
    ``environ_of()`` returns: the one the app received, rewritten by any
    ``ProxyFix`` in front of it."""
    return HostURLContext(environ_url_getter(environ_of, trust_of(store)))


def scope_host_url(store: Store, scope: Mapping[str, Any]) -> HostURLContext:
    """The base URL, computed when ``locate()`` needs it, from ``scope``."""
    return HostURLContext(scope_url_getter(scope, trust_of(store)))
