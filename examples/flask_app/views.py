"""The Flask example's pages; the work is in :mod:`examples.common.gallery`."""

from __future__ import annotations

from typing import IO, Any

import flask
from sqlalchemy.exc import NoResultFound
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from imageattach.exceptions import ImageError

from ..common import gallery
from . import db

views = flask.Blueprint("gallery", __name__)


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    page = flask.render_template(
        template,
        root=flask.request.script_root,
        framework="Flask",
        thumb=gallery.thumbnail_url,
        sizes=gallery.SIZES,
        **context,
    )
    return page, status


def upload(name: str) -> IO[bytes] | None:
    """The uploaded file of the form field ``name``, if one was chosen."""
    file = flask.request.files.get(name)
    return file.stream if file is not None and file.filename else None


def back_to(anchor: str) -> Response:
    return flask.redirect(flask.url_for(".index") + f"#{anchor}", code=303)


@views.get("/")
def index() -> tuple[str, int]:
    return render(
        "index.html", users=gallery.list_users(db.session), posts=gallery.list_posts(db.session)
    )


@views.post("/users")
def create_user() -> Response:
    user = gallery.create_user(db.session, flask.request.form.get("name", ""), upload("picture"))
    db.session.commit()
    return back_to(f"user-{user.id}")


@views.post("/users/<int:user_id>/picture")
def set_picture(user_id: int) -> Response:
    gallery.set_picture(db.session, user_id, upload("picture"))
    db.session.commit()
    return back_to(f"user-{user_id}")


@views.post("/users/<int:user_id>/delete")
def delete_user(user_id: int) -> Response:
    gallery.delete_user(db.session, user_id)
    db.session.commit()
    return back_to("users")


@views.post("/posts")
def create_post() -> Response:
    form = flask.request.form
    photos = [f.stream for f in flask.request.files.getlist("photos") if f.filename]
    post = gallery.create_post(
        db.session, form.get("author_id", 0, type=int), form.get("text", ""), photos
    )
    db.session.commit()
    return back_to(f"post-{post.id}")


@views.post("/posts/<int:post_id>/delete")
def delete_post(post_id: int) -> Response:
    gallery.delete_post(db.session, post_id)
    db.session.commit()
    return back_to("posts")


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    # Whatever was flushed is rolled back, and with it the files written.
    db.session.rollback()
    return render("error.html", status, title=title, message=message)


@views.app_errorhandler(ImageError)
def bad_image(error: ImageError) -> tuple[str, int]:
    return error_page(400, "Not a picture we can use", gallery.describe_image_error(error))


@views.app_errorhandler(gallery.FormError)
def bad_form(error: gallery.FormError) -> tuple[str, int]:
    return error_page(400, "Please check the form", str(error))


@views.app_errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    limit = gallery.MAX_UPLOAD_BYTES // (1024 * 1024)
    return error_page(413, "Upload too large", f"Uploads are limited to {limit} MB in all.")


@views.app_errorhandler(NoResultFound)
def not_found(error: NoResultFound) -> tuple[str, int]:
    return error_page(404, "Not found", "That user or post does not exist (any more).")
