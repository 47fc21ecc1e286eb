"""Pyramid integration::

    config.include("pyramid_tm")                    # optional
    config.include("imageattach.adapters.pyramid")
    ...
    app = imageattach.adapters.pyramid.wrap(config.make_wsgi_app())

``config.include`` builds the store from the ``imageattach.*`` settings (see
:data:`imageattach.adapters.settings.SETTINGS`: ``imageattach.store_path``
(required), ``imageattach.prefix``, ``imageattach.secret_key``,
``imageattach.cors``, ``imageattach.cache_control``, ``imageattach.host_url``,
``imageattach.trusted_proxy_headers`` and the other serving options), or
takes ``imageattach.store``: a store object, or the dotted name of one or of
a callable that takes the settings and returns one.  It adds:

- a tween, just under ``INGRESS`` and so above ``pyramid_tm``'s, that makes
  the store current for the request — still while ``pyramid_tm`` commits or
  aborts, and while a streamed response body is iterated;
- the ``request.imageattach_store`` property.

Image URLs are built from ``request.environ``, as Pyramid received it (after
any ``ProxyFix`` in front of the router).

:func:`wrap` puts the store's serving middleware in front of the WSGI app,
so image hits are answered before Pyramid's router runs.

Templates: ``image_set.img(...)`` returns :class:`markupsafe.Markup`, which
Chameleon (``${user.picture.img(150)}``), Mako and Jinja2 insert unescaped
through ``__html__``.  With ``pyramid_jinja2``, :func:`add_template_helpers`
(after ``config.include("pyramid_jinja2")`` and its renderers) also adds the
``imageattach_img`` and ``imageattach_srcset`` globals and filters of
:func:`imageattach.responsive.register_jinja2`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

try:
    from pyramid.config import Configurator
    from pyramid.registry import Registry
    from pyramid.request import Request
    from pyramid.response import Response
    from pyramid.router import Router
    from pyramid.tweens import INGRESS
except ImportError:  # pragma: no cover - exercised by a test that hides Pyramid
    from . import missing_framework

    raise missing_framework(__name__, "Pyramid", "pyramid") from None

from ..exceptions import ConfigurationError
from ..responsive import register_jinja2
from ..store import Store
from .settings import store_from_settings
from .wsgi import in_context, request_context, serve

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = [
    "STORE_KEY",
    "add_template_helpers",
    "get_store",
    "includeme",
    "store_tween_factory",
    "wrap",
]

#: The key of the store in the Pyramid registry.
STORE_KEY = "imageattach.store"


def _setting_key(name: str) -> str:
    return f"imageattach.{name}"


def _store_from_settings(config: Configurator, settings: Mapping[str, Any]) -> Store:
    configured = settings.get(STORE_KEY)
    if configured is None:
        return store_from_settings(settings, key=_setting_key)
    configured = config.maybe_dotted(configured)
    if not isinstance(configured, Store) and callable(configured):
        configured = configured(settings)
    if not isinstance(configured, Store):
        raise ConfigurationError(
            f"{STORE_KEY} must be a store, or a callable taking the settings and "
            f"returning one, not {configured!r}"
        )
    return configured


def includeme(config: Configurator) -> None:
    """Set up imageattach from the ``imageattach.*`` settings."""
    store = _store_from_settings(config, config.get_settings() or {})
    config.registry[STORE_KEY] = store
    config.add_request_method(_request_store, "imageattach_store", reify=True)
    config.add_tween(f"{__name__}.store_tween_factory", under=INGRESS)


def get_store(registry: Registry) -> Store:
    """The store that ``config.include`` set up.

    :raises ConfigurationError: when ``imageattach.adapters.pyramid`` is not included.
    """
    try:
        store: Store = registry[STORE_KEY]
    except KeyError:
        raise ConfigurationError(
            "imageattach is not set up: config.include('imageattach.adapters.pyramid')"
        ) from None
    return store


def _request_store(request: Request) -> Store:
    return get_store(request.registry)


def store_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    """The tween that makes the store current while a request is handled."""
    store = get_store(registry)

    def store_tween(request: Request) -> Response:
        # The URL follows request.environ, the one Pyramid received (after
        # any ProxyFix in front of it).
        context = request_context(store, lambda: request.environ)
        response = context.run(handler, request)
        body = response.app_iter
        wrapped = in_context(body, context, request.environ)
        if wrapped is not body:
            # WebOb drops Content-Length when app_iter is replaced; the length
            # of the body is unchanged, so keep it.
            length = response.content_length
            response.app_iter = wrapped
            response.content_length = length
        return response

    return store_tween


def wrap(app: Router) -> WSGIApplication:
    """``app`` (from ``config.make_wsgi_app()``) behind the store's serving
    middleware."""
    return serve(app, get_store(app.registry))


#: pyramid_jinja2 creates its environments at order 0 and configures them at 1.
_AFTER_JINJA2_ENVIRONMENTS = 2


def add_template_helpers(config: Configurator, *renderers: str) -> None:
    """Add ``imageattach_img`` and ``imageattach_srcset`` to the Jinja2
    environments of ``pyramid_jinja2``'s renderers (default ``.jinja2``;
    e.g. ``".html"`` for ``config.add_jinja2_renderer(".html")``), once they
    exist (a deferred action).

    :raises ConfigurationError: at commit (in Pyramid's
        ``ConfigurationExecutionError``), for a renderer that has no
        environment (``pyramid_jinja2`` not included, or no such renderer).
    """
    names = renderers or (".jinja2",)

    def register() -> None:
        for name in names:
            get_environment = getattr(config, "get_jinja2_environment", None)
            environment = None if get_environment is None else get_environment(name)
            if environment is None:
                raise ConfigurationError(
                    f"no pyramid_jinja2 environment for {name!r}: include pyramid_jinja2 "
                    f"and add_jinja2_renderer({name!r}) first"
                )
            register_jinja2(environment)

    config.action(None, register, order=_AFTER_JINJA2_ENVIRONMENTS)
