"""Store context for any ASGI application.

:func:`install` is what the Starlette adapter does, usable with any ASGI
framework::

    application = imageattach.adapters.asgi.install(application, store)

An ASGI application sends its whole response, streamed or not, before its
call returns, so the context is simply set around the call.  The store lives
in a :class:`~contextvars.ContextVar`; tasks the application starts and the
worker threads that run its synchronous code (``anyio.to_thread.run_sync``,
which Starlette and FastAPI use) copy the context and so see the store too.

The store is popped (and the base URL restored) only in the context they
were set in: a coroutine finalised by the garbage collector during another
request leaves that request alone.  For a store that builds URLs from the
request, the base URL is computed from the scope this middleware received.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..store import Store, check_store
from .scoped import StorePush, reads_request_url, scope_host_url

__all__ = ["ASGIApp", "StoreContextMiddleware", "install", "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class StoreContextMiddleware:
    """ASGI middleware making ``store`` the current store for each HTTP and
    WebSocket connection (``lifespan`` passes through untouched)."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = check_store(store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        push = StorePush(self.store)
        push.enter()
        try:
            if reads_request_url(self.store):
                with scope_host_url(self.store, scope):
                    await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            push.exit()


def serve(app: ASGIApp, store: Store) -> ASGIApp:
    """``app`` behind ``store``'s ASGI serving middleware, if the store has one."""
    middleware = getattr(store, "asgi_middleware", None)
    if middleware is None:
        return app
    served: ASGIApp = middleware(app)
    return served


def install(app: ASGIApp, store: Store) -> ASGIApp:
    """``app`` serving ``store``'s files (and making thumbnails on a miss),
    with ``store`` as the current store for every other connection."""
    return serve(StoreContextMiddleware(app, store), store)
