"""Store context for any WSGI application.

:func:`install` is what the Flask adapter does, usable with any WSGI
framework::

    application = imageattach.adapters.wsgi.install(application, store)

The store is the current store while the application handles the request
*and* while the server iterates and closes the response body, so templates
streamed from a generator can still call ``image_set.locate()``.  The context
is set around each step rather than left pushed between them, so a server
that never calls ``close()`` leaks nothing into its next request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..context import store_context
from ..hosturl import current_host_url, host_url_context
from ..store import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["StoreContextMiddleware", "in_store_context", "install", "serve"]


class _ContextBody:
    """A response body whose iteration and ``close()`` run in a store context,
    and with the request's base URL (:mod:`imageattach.hosturl`) that was
    current when the body was made: the serving middleware sets it only while
    the wrapped app is called."""

    def __init__(self, body: Iterable[bytes], store: Store) -> None:
        self._body = body
        self._iterator: Iterator[bytes] | None = None
        self._store = store
        self._host_url = current_host_url()

    def __iter__(self) -> _ContextBody:
        return self

    @contextlib.contextmanager
    def _context(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            stack.enter_context(store_context(self._store))
            if self._host_url is not None and current_host_url() is None:
                stack.enter_context(host_url_context(self._host_url))
            yield

    def __next__(self) -> bytes:
        with self._context():
            if self._iterator is None:
                self._iterator = iter(self._body)
            return next(self._iterator)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            with self._context():
                close()


def in_store_context(
    body: Iterable[bytes], store: Store, environ: WSGIEnvironment | None = None
) -> Iterable[bytes]:
    """``body``, iterated and closed with ``store`` as the current store.

    Lists and the server's ``wsgi.file_wrapper`` run no application code while
    they are sent, so they are returned as they are; wrapping a file wrapper
    would also cost the server its ``sendfile`` path.
    """
    if isinstance(body, list | tuple | bytes):
        return body
    file_wrapper = None if environ is None else environ.get("wsgi.file_wrapper")
    if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
        return body
    return _ContextBody(body, store)


class StoreContextMiddleware:
    """WSGI middleware making ``store`` the current store for each request."""

    def __init__(self, app: WSGIApplication, store: Store) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be an imageattach.store.Store, not {store!r}")
        self.app = app
        self.store = store

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with store_context(self.store):
            body = self.app(environ, start_response)
        return in_store_context(body, self.store, environ)


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
