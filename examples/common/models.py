"""The example's tables: users with one profile picture, posts with photos."""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from imageattach.entity import Image, MultipleImageSet, SingleImageSet, image_attachment

__all__ = ["MAX_PHOTOS", "Base", "Post", "PostPhoto", "User", "UserPicture"]

#: Photos per post; also what keeps :attr:`PostPhoto.object_id` unique.
MAX_PHOTOS = 100


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    #: One image set: the original and its thumbnails.
    picture: Mapped[SingleImageSet[UserPicture]] = image_attachment(
        "UserPicture", back_populates="user"
    )
    posts: Mapped[list[Post]] = relationship(
        back_populates="author", cascade="all, delete-orphan", order_by="Post.id.desc()"
    )


class UserPicture(Base, Image):
    __tablename__ = "user_pictures"

    user_id: Mapped[int] = mapped_column(ForeignKey(User.id), primary_key=True)
    user: Mapped[User] = relationship(back_populates="picture")


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey(User.id))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    author: Mapped[User] = relationship(back_populates="posts")
    #: Several image sets, told apart by ``PostPhoto.position``.
    photos: Mapped[MultipleImageSet[PostPhoto]] = image_attachment(
        "PostPhoto", uselist=True, back_populates="post"
    )


class PostPhoto(Base, Image):
    __tablename__ = "post_photos"

    post_id: Mapped[int] = mapped_column(ForeignKey(Post.id), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    post: Mapped[Post] = relationship(back_populates="photos")

    @property
    def object_id(self) -> int:
        # The primary key has two columns besides width and height, so the
        # number that names the files in the store is made from both.
        return self.post_id * MAX_PHOTOS + self.position
