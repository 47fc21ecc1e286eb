"""Starlette and FastAPI middleware::

    from imageattach.adapters.starlette import ImageAttachMiddleware

    app = Starlette(routes=..., middleware=[Middleware(ImageAttachMiddleware, store=store)])
    # FastAPI:
    app = FastAPI()
    app.add_middleware(ImageAttachMiddleware, store=store)

A pure ASGI middleware (not ``BaseHTTPMiddleware``, which runs the endpoint in
another task and buffers streamed bodies).  It serves the store's files under
``/<prefix>/``, makes on-demand thumbnails when a signed resize URL misses,
and makes the store current for each request: in ``async def`` endpoints, in
plain ``def`` endpoints and dependencies run in the threadpool, in FastAPI
dependencies, background tasks and streamed responses.

:func:`register_templates` adds the template helpers ``imageattach_img`` and
``imageattach_srcset`` to a ``Jinja2Templates``::

    templates = Jinja2Templates(directory="templates")
    register_templates(templates)
"""

from __future__ import annotations

try:
    from starlette.types import ASGIApp, Receive, Scope, Send
except ImportError:  # pragma: no cover - exercised by a test that hides Starlette
    from . import missing_framework

    raise missing_framework(__name__, "Starlette", "starlette") from None

from typing import Any

from ..responsive import register_jinja2
from ..store import Store, check_store
from .asgi import install

__all__ = ["ImageAttachMiddleware", "register_templates"]


class ImageAttachMiddleware:
    """ASGI middleware: serve ``store``'s files and make it the current store.

    :param app: the ASGI application (Starlette passes it).
    :param store: the store, e.g. an
        :class:`~imageattach.stores.fs.HttpExposedFileSystemStore`.
    """

    def __init__(self, app: ASGIApp, *, store: Store) -> None:
        self.store = check_store(store)
        self.app = app
        self._handler = install(app, store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._handler(scope, receive, send)


def register_templates(templates: Any) -> Any:
    """Add ``imageattach_img`` and ``imageattach_srcset`` (globals and filters,
    see :func:`imageattach.responsive.register_jinja2`) to a
    ``starlette.templating.Jinja2Templates`` (or a ``jinja2.Environment``);
    returns it.  Image sets' own ``img()`` and ``srcset()`` work in its
    templates without this."""
    register_jinja2(getattr(templates, "env", templates))
    return templates
