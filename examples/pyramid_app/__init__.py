"""The Pyramid example: the same gallery on Pyramid + pyramid_tm + zope.sqlalchemy.

Run it with ``python -m examples.pyramid_app`` and open http://127.0.0.1:6543/.
No configuration is needed (see :mod:`examples.common.settings` for the
environment variables).  For a real server::

    gunicorn 'examples.pyramid_app:make_app()'

What it shows: ``config.include('imageattach.adapters.pyramid')`` configured
by ``imageattach.*`` settings, its tween above ``pyramid_tm`` (a refused
upload aborts the transaction and its files are removed),
:func:`imageattach.adapters.pyramid.wrap` serving the images in front of the
router, and the Jinja2 templates shared with the Flask example (with the
``imageattach_img`` helper that
:func:`imageattach.adapters.pyramid.add_template_helpers` adds).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.request import Request
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

import imageattach.adapters.pyramid

from ..common import TEMPLATES
from ..common.models import Base
from ..common.settings import PRESETS, load_settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["make_app"]


def make_app(instance_path: str | os.PathLike[str] | None = None) -> WSGIApplication:
    """The WSGI app; ``instance_path`` overrides ``EXAMPLE_INSTANCE_PATH`` and
    the default ``examples/pyramid_app/instance``."""
    environ = dict(os.environ)
    if instance_path is not None:
        environ["EXAMPLE_INSTANCE_PATH"] = os.fspath(instance_path)
    settings = load_settings(Path(__file__).parent / "instance", environ)
    app_settings: dict[str, Any] = {"tm.manager_hook": "pyramid_tm.explicit_manager"}
    if settings.s3_store is not None:
        app_settings["imageattach.store"] = settings.s3_store
    else:
        app_settings["imageattach.store_path"] = str(settings.images_path)
        app_settings["imageattach.secret_key"] = settings.secret_key
        app_settings["imageattach.presets"] = PRESETS

    engine = create_engine(settings.database_url)
    Base.metadata.create_all(engine)
    session_factory = sessionmaker(engine)

    def dbsession(request: Request) -> Session:
        """A session that joins the request's transaction: pyramid_tm commits
        it, or aborts it when a view raised or an exception view answered."""
        session = session_factory()
        zope.sqlalchemy.register(session, transaction_manager=request.tm)
        return session

    with Configurator(settings=app_settings) as config:
        config.include("pyramid_tm")
        config.include("pyramid_jinja2")
        config.include("imageattach.adapters.pyramid")
        config.add_jinja2_renderer(".html")
        config.add_jinja2_search_path(str(TEMPLATES), name=".html")
        # imageattach_img() and imageattach_srcset() in the templates, as Flask has them.
        imageattach.adapters.pyramid.add_template_helpers(config, ".html")
        config.add_request_method(dbsession, "dbsession", reify=True)
        config.add_route("index", "/")
        config.add_route("users", "/users")
        config.add_route("user_picture", "/users/{user_id:\\d+}/picture")
        config.add_route("user_delete", "/users/{user_id:\\d+}/delete")
        config.add_route("posts", "/posts")
        config.add_route("post_delete", "/posts/{post_id:\\d+}/delete")
        config.scan(".views")
    return imageattach.adapters.pyramid.wrap(config.make_wsgi_app())
