"""Bottle plugin::

    from imageattach.adapters.bottle import ImageAttachPlugin

    app = bottle.Bottle()
    app.install(ImageAttachPlugin(store))     # or ImageAttachPlugin() + app.config
    bottle.run(app)

Installing the plugin does two things: every route callback runs with the
store as the current store (also while a generator body is iterated), and
the app's WSGI entry point is put behind the store's serving middleware, so
``bottle.run(app)`` and any WSGI server serve the image files too.
Uninstalling the plugin undoes both.

Without a store, the plugin builds one from ``app.config`` keys
``imageattach.store_path`` (required), ``imageattach.prefix``,
``imageattach.secret_key``, ``imageattach.cors``,
``imageattach.cache_control``, ``imageattach.host_url``,
``imageattach.trusted_proxy_headers`` and the other serving options (see
``docs/deployment.md``).  Image URLs are built from the environ Bottle
received.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

try:
    import bottle
except ImportError:  # pragma: no cover - exercised by a test that hides Bottle
    from . import missing_framework

    raise missing_framework(__name__, "Bottle", "bottle") from None

from ..exceptions import ConfigurationError
from ..store import Store, check_store
from . import wsgi
from .settings import store_from_settings

__all__ = ["ImageAttachPlugin"]


def _config_key(name: str) -> str:
    return f"imageattach.{name}"


class ImageAttachPlugin:
    """Bottle plugin (``api = 2``) for one application.

    :param store: the store; by default built from ``app.config`` in :meth:`setup`.
    :param serve: ``False`` to leave serving the files to something else
        (nginx, or wrapping the app yourself).
    """

    name = "imageattach"
    api = 2

    def __init__(self, store: Store | None = None, *, serve: bool = True) -> None:
        self._store = None if store is None else check_store(store)
        self.serve = serve
        self._app: bottle.Bottle | None = None

    @property
    def store(self) -> Store:
        """The store, once known (given, or built in :meth:`setup`)."""
        if self._store is None:
            raise ConfigurationError("the plugin has no store until it is installed on an app")
        return self._store

    def setup(self, app: bottle.Bottle) -> None:
        """Called by ``app.install(plugin)``."""
        if self._app is not None:
            raise bottle.PluginError("an ImageAttachPlugin serves one app; make one per app")
        for other in app.plugins:
            if other is not self and isinstance(other, ImageAttachPlugin):
                raise bottle.PluginError("another ImageAttachPlugin is installed on this app")
        if self._store is None:
            self._store = store_from_settings(app.config, key=_config_key)
        self._app = app
        if self.serve:
            # Bottle.__call__ dispatches through self.wsgi, so an instance
            # attribute puts the middleware in front of every server.
            app.wsgi = wsgi.serve(app.wsgi, self._store)

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        store = self.store

        @functools.wraps(callback)
        def in_store_context(*args: Any, **kwargs: Any) -> Any:
            # The URL follows the environ Bottle received (after any ProxyFix).
            environ = bottle.request.environ
            context = wsgi.request_context(store, lambda: environ)
            body = context.run(callback, *args, **kwargs)
            if _is_streamed(body):
                return wsgi.in_context(body, context, bottle.request.environ)
            return body

        return in_store_context

    def close(self) -> None:
        """Called when the plugin is uninstalled: stop serving through it."""
        if self._app is not None and "wsgi" in vars(self._app):
            del self._app.wsgi
        self._app = None


def _is_streamed(body: object) -> bool:
    """Whether Bottle will iterate ``body`` after the callback returned, i.e.
    whether it may run application code then (a generator or an iterator)."""
    if isinstance(body, str | bytes | bytearray | list | tuple | dict) or body is None:
        return False
    if isinstance(body, bottle.BaseResponse) or hasattr(body, "read"):
        return False
    return hasattr(body, "__next__")
