"""The Flask example: a small gallery on Flask + Flask-SQLAlchemy.

Run it with ``python -m examples.flask_app`` (or ``make demo``) and open
http://127.0.0.1:5000/.  No configuration is needed: SQLite and the images
live in ``examples/flask_app/instance/``; see :mod:`examples.common.settings`
for the environment variables that change that.  For a real server::

    gunicorn 'examples.flask_app:create_app()'

What it shows: :class:`imageattach.adapters.flask.ImageAttach` configured by
``IMAGEATTACH_*`` keys (it serves the images under ``/__images__/`` and makes
the store current for each request), uploads with ``from_file``, templates
that render image sets (``{{ user.picture }}``), on-demand thumbnails as
responsive ``<img>`` tags with ``srcset``, their real ``width`` and ``height``
and a blurred placeholder (``imageattach_img(user.picture, 150, ...)``, the
template global the adapter registers), several photos per post, deletes,
and friendly error pages for files that are not images or are too large.
"""

from __future__ import annotations

import os
from pathlib import Path

import flask
from flask_sqlalchemy import SQLAlchemy

from imageattach.adapters.flask import ImageAttach

from ..common import TEMPLATES, gallery
from ..common.models import Base
from ..common.settings import PRESETS, load_settings

__all__ = ["create_app", "db", "imageattach"]

db = SQLAlchemy()
imageattach = ImageAttach()


def create_app(instance_path: str | os.PathLike[str] | None = None) -> flask.Flask:
    """The app; ``instance_path`` overrides ``EXAMPLE_INSTANCE_PATH`` and the
    default ``examples/flask_app/instance``."""
    environ = dict(os.environ)
    if instance_path is not None:
        environ["EXAMPLE_INSTANCE_PATH"] = os.fspath(instance_path)
    settings = load_settings(Path(__file__).parent / "instance", environ)
    app = flask.Flask(
        __name__, instance_path=str(settings.instance_path), template_folder=str(TEMPLATES)
    )
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        MAX_CONTENT_LENGTH=gallery.MAX_UPLOAD_BYTES,
    )
    if settings.s3_store is not None:
        app.config["IMAGEATTACH_STORE"] = settings.s3_store
    else:
        app.config["IMAGEATTACH_STORE_PATH"] = str(settings.images_path)
        app.config["IMAGEATTACH_SECRET_KEY"] = settings.secret_key
        app.config["IMAGEATTACH_PRESETS"] = PRESETS
    db.init_app(app)
    imageattach.init_app(app)

    from .views import views

    app.register_blueprint(views)
    with app.app_context():
        Base.metadata.create_all(db.engine)
    return app
