"""The Pyramid example's pages; the work is in :mod:`examples.common.gallery`."""

from __future__ import annotations

from typing import IO, Any

from pyramid.httpexceptions import HTTPRequestEntityTooLarge, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, view_config
from sqlalchemy.exc import NoResultFound

from imageattach.exceptions import ImageError

from ..common import gallery


def page_context(request: Request, **context: Any) -> dict[str, Any]:
    return {
        "root": request.script_name,
        "framework": "Pyramid",
        "thumb": gallery.thumbnail_url,
        "sizes": gallery.SIZES,
        **context,
    }


def uploads(request: Request, name: str) -> list[IO[bytes]]:
    """The files uploaded in the form field ``name`` (empty ones left out)."""
    if (request.content_length or 0) > gallery.MAX_UPLOAD_BYTES:
        raise HTTPRequestEntityTooLarge()
    return [f.file for f in request.POST.getall(name) if getattr(f, "filename", "")]


def back_to(request: Request, anchor: str) -> HTTPSeeOther:
    return HTTPSeeOther(location=request.route_url("index", _anchor=anchor))


@view_config(route_name="index", renderer="index.html")
def index(request: Request) -> dict[str, Any]:
    session = request.dbsession
    return page_context(
        request, users=gallery.list_users(session), posts=gallery.list_posts(session)
    )


@view_config(route_name="users", request_method="POST")
def create_user(request: Request) -> HTTPSeeOther:
    pictures = uploads(request, "picture")
    user = gallery.create_user(
        request.dbsession, request.POST.get("name", ""), pictures[0] if pictures else None
    )
    return back_to(request, f"user-{user.id}")


@view_config(route_name="user_picture", request_method="POST")
def set_picture(request: Request) -> HTTPSeeOther:
    user_id = int(request.matchdict["user_id"])
    pictures = uploads(request, "picture")
    gallery.set_picture(request.dbsession, user_id, pictures[0] if pictures else None)
    return back_to(request, f"user-{user_id}")


@view_config(route_name="user_delete", request_method="POST")
def delete_user(request: Request) -> HTTPSeeOther:
    gallery.delete_user(request.dbsession, int(request.matchdict["user_id"]))
    return back_to(request, "users")


@view_config(route_name="posts", request_method="POST")
def create_post(request: Request) -> HTTPSeeOther:
    photos = uploads(request, "photos")
    try:
        author_id = int(request.POST.get("author_id", ""))
    except ValueError:
        raise gallery.FormError("Choose who writes the post.") from None
    post = gallery.create_post(request.dbsession, author_id, request.POST.get("text", ""), photos)
    return back_to(request, f"post-{post.id}")


@view_config(route_name="post_delete", request_method="POST")
def delete_post(request: Request) -> HTTPSeeOther:
    gallery.delete_post(request.dbsession, int(request.matchdict["post_id"]))
    return back_to(request, "posts")


# An exception view answering marks the request as failed: pyramid_tm aborts
# the transaction, and the files written for it are removed.


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    response: Response = render_to_response(
        "error.html", page_context(request, title=title, message=message), request=request
    )
    response.status_int = status
    return response


@exception_view_config(ImageError)
def bad_image(error: ImageError, request: Request) -> Response:
    return error_page(request, 400, "Not a picture we can use", gallery.describe_image_error(error))


@exception_view_config(gallery.FormError)
def bad_form(error: gallery.FormError, request: Request) -> Response:
    return error_page(request, 400, "Please check the form", str(error))


@exception_view_config(HTTPRequestEntityTooLarge)
def too_large(error: HTTPRequestEntityTooLarge, request: Request) -> Response:
    limit = gallery.MAX_UPLOAD_BYTES // (1024 * 1024)
    return error_page(
        request, 413, "Upload too large", f"Uploads are limited to {limit} MB in all."
    )


@exception_view_config(NoResultFound)
def not_found(error: NoResultFound, request: Request) -> Response:
    return error_page(request, 404, "Not found", "That user or post does not exist (any more).")
