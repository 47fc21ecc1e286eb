"""The models of the pre-generation tests: users with a picture whose
attachment names one size of its own (besides the store's presets)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from imageattach.entity import Image, SingleImageSet, image_attachment


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "pg_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    picture: Mapped[SingleImageSet[UserPicture]] = image_attachment(
        "UserPicture", back_populates="user", pregenerate=[{"width": 24, "format": "webp"}]
    )


class UserPicture(Base, Image):
    __tablename__ = "pg_user_picture"

    user_id: Mapped[int] = mapped_column(ForeignKey(User.id), primary_key=True)
    user: Mapped[User] = relationship(back_populates="picture")
    focal_point: Mapped[str | None] = mapped_column(String(32))


class BannerBase(DeclarativeBase):
    """Models whose attachment names a preset the tests' store lacks."""


class Page(BannerBase):
    __tablename__ = "pg_page"

    id: Mapped[int] = mapped_column(primary_key=True)
    banner: Mapped[SingleImageSet[PageBanner]] = image_attachment(
        "PageBanner", pregenerate=[{"preset": "banner"}]
    )


class PageBanner(BannerBase, Image):
    __tablename__ = "pg_page_banner"

    page_id: Mapped[int] = mapped_column(ForeignKey(Page.id), primary_key=True)
