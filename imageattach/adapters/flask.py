"""Flask extension::

    from imageattach.adapters.flask import ImageAttach

    app = Flask(__name__)
    app.config["IMAGEATTACH_SECRET_KEY"] = "..."
    imageattach = ImageAttach(app)          # or ImageAttach(app, store=store)

    # application factory style:
    imageattach = ImageAttach()
    def create_app():
        app = Flask(__name__)
        imageattach.init_app(app)
        return app

:meth:`ImageAttach.init_app` wraps ``app.wsgi_app`` so that the store's files
are served under ``/<prefix>/`` and the store is the current store for each
request, including while a streamed response is iterated.  The store is also
current inside every app context (``flask shell``, CLI commands,
``app.test_request_context()``).

Config keys (used when no ``store`` is given; see
:data:`imageattach.adapters.settings.SETTINGS`): ``IMAGEATTACH_STORE_PATH``
(default: ``<instance path>/images``), ``IMAGEATTACH_PREFIX``,
``IMAGEATTACH_SECRET_KEY``, ``IMAGEATTACH_CORS``, ``IMAGEATTACH_CACHE_CONTROL``,
``IMAGEATTACH_HOST_URL``, ``IMAGEATTACH_TRUSTED_PROXY_HEADERS`` and every
serving option (``IMAGEATTACH_MISSING``...); ``IMAGEATTACH_STORE`` may hold a
store object.

Image URLs are built from the request as Flask sees it (``flask.request``):
``app.wsgi_app = ProxyFix(app.wsgi_app)`` works before or after
``ImageAttach(app)``.

Templates get ``imageattach_img`` and ``imageattach_srcset``, as globals and
filters (:func:`imageattach.responsive.register_jinja2`): like
``image_set.img(...)`` and ``image_set.srcset(...)``, but empty for an image
set without an original (or ``None``)::

    {{ imageattach_img(user.picture, 150, alt=user.name, placeholder=True) }}
    {{ user.picture | imageattach_img(150, alt=user.name) }}
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

try:
    import flask
except ImportError:  # pragma: no cover - exercised by a test that hides Flask
    from . import missing_framework

    raise missing_framework(__name__, "Flask", "flask") from None

from ..exceptions import ConfigurationError
from ..responsive import TEMPLATE_HELPERS
from ..store import Store, check_store
from .scoped import StorePush
from .settings import store_from_settings
from .wsgi import StoreContextMiddleware, serve

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["EXTENSION_KEY", "ImageAttach", "ImageAttachState"]

#: The key of the per-app state in ``app.extensions``.
EXTENSION_KEY = "imageattach"


@dataclass(frozen=True)
class ImageAttachState:
    """What :meth:`ImageAttach.init_app` keeps in ``app.extensions['imageattach']``."""

    store: Store


def _config_key(name: str) -> str:
    return f"IMAGEATTACH_{name.upper()}"


class ImageAttach:
    """The Flask extension.

    :param app: the application, or ``None`` to call :meth:`init_app` later.
    :param store: the store to use; by default one is built from the app's
        ``IMAGEATTACH_*`` config for each app.
    """

    def __init__(self, app: flask.Flask | None = None, *, store: Store | None = None) -> None:
        self._store = None if store is None else check_store(store)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Install the serving middleware and the store context on ``app``, and
        the template helpers ``imageattach_img`` and ``imageattach_srcset``."""
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError(f"imageattach is already initialised on {app!r}")
        store = self._store if self._store is not None else self._store_from_config(app)
        app.extensions[EXTENSION_KEY] = ImageAttachState(store)
        app.wsgi_app = serve(  # type: ignore[method-assign,assignment]
            _FlaskStoreContext(app.wsgi_app, store), store
        )
        flask.appcontext_pushed.connect(_push_on_app_context, app)
        flask.appcontext_popped.connect(_pop_on_app_context_popped, app)
        for name, helper in TEMPLATE_HELPERS.items():
            app.add_template_global(helper, name)
            app.add_template_filter(helper, name)

    @staticmethod
    def _store_from_config(app: flask.Flask) -> Store:
        configured = app.config.get(_config_key("store"))
        if configured is not None:
            if not isinstance(configured, Store):
                raise ConfigurationError(
                    f"IMAGEATTACH_STORE must be an imageattach.store.Store, not {configured!r}"
                )
            return configured
        return store_from_settings(
            app.config,
            key=_config_key,
            default_path=os.path.join(app.instance_path, "images"),
        )

    @property
    def store(self) -> Store:
        """The store of the current app (or the one given to the constructor)."""
        if self._store is not None:
            return self._store
        return get_state(flask.current_app).store


def get_state(app: flask.Flask) -> ImageAttachState:
    """The imageattach state of ``app``.

    :raises ConfigurationError: if :meth:`ImageAttach.init_app` was not called.
    """
    try:
        state: ImageAttachState = app.extensions[EXTENSION_KEY]
    except KeyError:
        raise ConfigurationError(
            f"imageattach is not initialised on {app!r}: call ImageAttach(app) or init_app(app)"
        ) from None
    return state


class _FlaskStoreContext(StoreContextMiddleware):
    """The store context, with URLs built from ``flask.request``'s environ:
    the one the Flask app received, after any ``ProxyFix`` in front of it."""

    def environ_of(self, environ: WSGIEnvironment) -> Callable[[], Mapping[str, Any]]:
        def current() -> Mapping[str, Any]:
            if flask.has_request_context():
                return flask.request.environ
            return environ

        return current


# The pushes of the app contexts of this context, innermost last.
_pushes: ContextVar[tuple[StorePush, ...]] = ContextVar("imageattach_flask_pushes", default=())


def _push_on_app_context(app: flask.Flask, **extra: Any) -> None:
    push = StorePush(get_state(app).store)
    push.enter()
    _pushes.set((*_pushes.get(), push))


def _pop_on_app_context_popped(app: flask.Flask, **extra: Any) -> None:
    # Flask sends appcontext_popped only once it has reset its own context
    # variable, which fails outside the context the app context was pushed
    # in: an abandoned streamed response finalised by the garbage collector
    # during another request (where teardown functions, and flask.g, would
    # see that request's app context) pops nothing.
    pushes = _pushes.get()
    if pushes:
        _pushes.set(pushes[:-1])
        pushes[-1].exit()
