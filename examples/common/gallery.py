"""The example's operations, free of any web framework.

They add to or delete from a SQLAlchemy session and leave committing to the
app (Flask-SQLAlchemy's ``db.session.commit()``, or ``pyramid_tm``).  Image
files follow the transaction: written at flush, removed again if it does not
commit, deleted from the store only once a delete has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from imageattach.context import current_store, resolve_store
from imageattach.entity import BaseImageSet
from imageattach.exceptions import ImageError
from imageattach.store import Store

from .models import MAX_PHOTOS, Post, User

__all__ = [
    "MAX_UPLOAD_BYTES",
    "SIZES",
    "FormError",
    "create_post",
    "create_user",
    "delete_post",
    "delete_user",
    "describe_image_error",
    "list_posts",
    "list_users",
    "set_picture",
    "thumbnail_url",
]

#: Thumbnail widths the pages show.
SIZES = (48, 150, 300)
#: The largest request body the apps accept.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


class FormError(ValueError):
    """A form the user must fix; the message is shown to them."""


def makes_thumbnails_on_demand(store: Store) -> bool:
    """Whether ``store`` can make a size when its URL is first requested
    (:class:`~imageattach.stores.fs.HttpExposedFileSystemStore`,
    :class:`~imageattach.stores.s3.S3Store`); others get their thumbnails
    made at upload time."""
    return type(store).locate_resized is not Store.locate_resized


def thumbnail_url(image_set: BaseImageSet[Any], width: int) -> str:
    """The URL of ``image_set`` at ``width`` pixels wide."""
    if makes_thumbnails_on_demand(resolve_store(current_store)):
        return image_set.locate(width=width)
    return image_set.find_thumbnail(width=width).locate()


def _attach(image_set: BaseImageSet[Any], upload: IO[bytes]) -> None:
    image_set.from_file(upload)
    if not makes_thumbnails_on_demand(resolve_store(current_store)):
        for width in SIZES:
            image_set.generate_thumbnail(width=width)


def describe_image_error(error: ImageError) -> str:
    """What to tell the user about an upload that was refused."""
    return f"That file cannot be used as a picture: {error}"


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.name, User.id)).all()


def list_posts(session: Session) -> Sequence[Post]:
    return session.scalars(select(Post).order_by(Post.id.desc())).all()


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 80:
        raise FormError("A name of 1 to 80 characters, please.")
    return name


def create_user(session: Session, name: str, picture: IO[bytes] | None) -> User:
    """A new user, with a picture unless ``picture`` is ``None``.

    :raises FormError: a bad name.
    :raises ImageError: the picture is not an image we accept.
    """
    user = User(name=_name(name))
    session.add(user)
    session.flush()
    if picture is not None:
        _attach(user.picture, picture)
    return user


def set_picture(session: Session, user_id: int, picture: IO[bytes] | None) -> User:
    """Replace the user's picture; its old sizes go when this commits."""
    if picture is None:
        raise FormError("Choose a picture to upload.")
    user = session.get_one(User, user_id)
    _attach(user.picture, picture)
    return user


def delete_user(session: Session, user_id: int) -> None:
    """Delete the user with their picture and posts (files go on commit)."""
    session.delete(session.get_one(User, user_id))


def create_post(session: Session, author_id: int, text: str, photos: Sequence[IO[bytes]]) -> Post:
    """A new post with ``photos`` in order.

    :raises FormError: no text and no photo, or too many photos.
    :raises ImageError: a photo is not an image we accept; no photo of the
        post is kept (the transaction rolls back).
    """
    text = text.strip()
    if not text and not photos:
        raise FormError("Write something or add a photo.")
    if len(photos) > MAX_PHOTOS:
        raise FormError(f"At most {MAX_PHOTOS} photos per post.")
    post = Post(author=session.get_one(User, author_id), text=text)
    session.add(post)
    session.flush()
    for position, photo in enumerate(photos):
        _attach(post.photos.get_image_set(position=position), photo)
    return post


def delete_post(session: Session, post_id: int) -> None:
    """Delete the post and its photos (files go on commit)."""
    session.delete(session.get_one(Post, post_id))
