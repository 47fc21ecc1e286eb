"""Runnable example apps of imageattach (not part of the installed package).

- ``python -m examples.flask_app`` — Flask + Flask-SQLAlchemy, on
  http://127.0.0.1:5000 (what ``make demo`` runs);
- ``python -m examples.pyramid_app`` — Pyramid + pyramid_tm + zope.sqlalchemy,
  on http://127.0.0.1:6543.

Both are the same small gallery (users with a profile picture, posts with
several photos, thumbnails made on demand) over the models and templates in
:mod:`examples.common`.  They need no configuration: SQLite and the
filesystem store under the app's ``instance/`` directory.  Environment
variables switch to PostgreSQL or S3; see :mod:`examples.common.settings`.
"""
