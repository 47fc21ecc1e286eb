"""Store context for any WSGI application.

:func:`install` is what the Flask adapter does, usable with any WSGI
framework::

    application = imageattach.adapters.wsgi.install(application, store)

The store is the current store while the application handles the request
*and* while the server iterates and closes the response body, so templates
streamed from a generator can still call ``image_set.locate()``.  All of it
runs in a copy of the server's :mod:`contextvars` context, so a server that
never calls ``close()`` leaks nothing into its next request.

For a store that builds URLs from the request, the request's base URL is
computed when ``locate()`` needs it from the environ the application
received: a ``ProxyFix`` installed before the adapter (and so running
inside it) has rewritten that environ by then.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..context import push_store_context
from ..middleware.contextbody import in_context
from ..store import Store, check_store
from .scoped import environ_host_url, reads_request_url

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["StoreContextMiddleware", "in_context", "install", "request_context", "serve"]


def request_context(
    store: Store,
    environ: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
) -> contextvars.Context:
    """A copy of the current context with ``store`` pushed: the request's code
    and its response body run in it, so the store is never left pushed in the
    server's own context, whatever the app raises or the server forgets.

    :param environ: the request's environ (or a function returning it); the
        base URL is then computed from it when ``locate()`` needs it.
    """
    context = contextvars.copy_context()
    context.run(push_store_context, store)
    if environ is not None and reads_request_url(store):
        environ_of = environ if callable(environ) else (lambda: environ)
        context.run(environ_host_url(store, environ_of).__enter__)
    return context


class StoreContextMiddleware:
    """WSGI middleware making ``store`` the current store for each request."""

    def __init__(self, app: WSGIApplication, store: Store) -> None:
        self.app = app
        self.store = check_store(store)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        context = request_context(self.store, self.environ_of(environ))
        body = context.run(self.app, environ, start_response)
        return in_context(body, context, environ)

    def environ_of(self, environ: WSGIEnvironment) -> Callable[[], Mapping[str, Any]]:
        """Returns the environ the URL is built from: by default ``environ``
        itself, which middlewares inside this one (``ProxyFix``) rewrite."""
        return lambda: environ


def serve(app: WSGIApplication, store: Store) -> WSGIApplication:
    """``app`` behind ``store``'s serving middleware, if the store has one
    (a :class:`~imageattach.stores.fs.FileSystemStore` served by nginx has not)."""
    middleware = getattr(store, "wsgi_middleware", None)
    if middleware is None:
        return app
    served: WSGIApplication = middleware(app)
    return served


def install(app: WSGIApplication, store: Store) -> WSGIApplication:
    """``app`` serving ``store``'s files, with ``store`` as the current store
    for every other request.

    The serving middleware is outermost, so a hit on an image file never
    reaches the application.
    """
    return serve(StoreContextMiddleware(app, store), store)
