"""Both example apps in-process (Werkzeug's test client), through the same
scenarios, since they share routes and templates: uploads, pages, on-demand
thumbnails, friendly errors, deletes; SQLite and the filesystem store by
default, each configured database, and S3 on the moto server."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import images
import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session
from stores.s3server import REGION, MotoServer
from werkzeug.test import Client

from examples.common import gallery
from examples.common.models import Base, Post, User
from examples.flask_app import create_app as create_flask_app
from examples.flask_app import db
from examples.pyramid_app import make_app as make_pyramid_app
from imageattach import imaging


@dataclass
class App:
    """An example app under test, its instance directory and its database."""

    client: Client
    instance_path: Path
    engine: Engine

    def image_files(self) -> list[str]:
        root = self.instance_path / "images"
        return sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )

    def count(self, model: type[Base]) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0


def make_wsgi_app(kind: str, instance_path: Path) -> Any:
    if kind == "flask":
        return create_flask_app(instance_path)
    return make_pyramid_app(instance_path)


@pytest.fixture(params=["flask", "pyramid"])
def app(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[App]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(gallery, "MAX_UPLOAD_BYTES", 100_000)
    engine = create_engine(database_url)
    Base.metadata.drop_all(engine)
    wsgi_app = make_wsgi_app(request.param, tmp_path / "instance")
    yield App(Client(wsgi_app), tmp_path / "instance", engine)
    if request.param == "flask":
        with wsgi_app.app_context():
            db.session.remove()
            db.engine.dispose()
    Base.metadata.drop_all(engine)
    engine.dispose()


def image_urls(page: str) -> list[str]:
    return [html.unescape(src) for src in re.findall(r'<img[^>]* src="([^"]+)"', page)]


class ImgTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.tags.append(dict(attrs))


def img_tags(page: str) -> list[dict[str, str | None]]:
    """The attributes of each ``<img>`` of ``page``, unescaped."""
    parser = ImgTags()
    parser.feed(page)
    return parser.tags


def srcset(tag: dict[str, str | None]) -> list[tuple[str, str]]:
    """``[(url, descriptor)]`` of an ``<img>``'s srcset."""
    value = tag.get("srcset") or ""
    return [(url, descriptor) for url, descriptor in (c.rsplit(" ", 1) for c in value.split(", "))]


def upload(data: bytes, name: str = "picture.jpg") -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def test_user_with_picture_and_thumbnails(app: App) -> None:
    client = app.client
    response = client.post("/users", data={"name": "Ada", "picture": upload(images.jpeg(640, 480))})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/#user-1")
    assert app.image_files() == ["user-pictures/1/0/1.640x480.jpe"]

    page = client.get("/").get_data(as_text=True)
    assert '<figure class="original"><img src="http://localhost/__images__/user-pictures/' in page
    tags = img_tags(page)
    assert [(tag["width"], tag["height"]) for tag in tags] == [
        ("640", "480"), ("48", "36"), ("150", "113"), ("300", "225"),
    ]  # fmt: skip
    # The original, shown 16rem wide: a srcset of widths, and its placeholder.
    assert tags[0]["sizes"] == "16rem"
    assert [d for _, d in srcset(tags[0])] == ["320w", "640w"]
    assert srcset(tags[0])[-1][0] == tags[0]["src"]
    assert (tags[0]["style"] or "").startswith("background-size:100% 100%;background-image:url(")
    assert tags[0]["alt"] == "Ada"
    # The thumbnails: 1x is src, 2x twice its size.
    for tag in tags[1:]:
        assert [d for _, d in srcset(tag)] == ["1x", "2x"]
        assert srcset(tag)[0][0] == tag["src"]
    urls = image_urls(page)
    assert urls == [tag["src"] for tag in tags]  # the original and three sizes
    sizes = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        info = imaging.probe(response.get_data())
        sizes.append((info.width, info.height))
    assert sizes == [(640, 480), (48, 36), (150, 113), (300, 225)]
    assert len(app.image_files()) == 4  # the thumbnails were made on demand
    # Every candidate of every srcset is the size it announces.
    for tag in tags:
        for url, descriptor in srcset(tag):
            response = client.get(url)
            assert response.status_code == 200, url
            width = imaging.probe(response.get_data()).width
            if descriptor.endswith("w"):
                assert f"{width}w" == descriptor
            else:
                assert width == round(int(tag["width"] or 0) * float(descriptor[:-1]))


def test_post_with_several_photos_then_delete_it(app: App) -> None:
    client = app.client
    client.post("/users", data={"name": "Ada"})
    photos = [upload(images.png(200, 100), "a.png"), upload(images.jpeg(90, 120), "b.jpg")]
    response = client.post("/posts", data={"author_id": "1", "text": "Hello", "photos": photos})
    assert response.status_code == 303
    assert app.image_files() == [
        "post-photos/100/0/100.200x100.png",
        "post-photos/101/0/101.90x120.jpe",
    ]

    page = client.get("/").get_data(as_text=True)
    assert "Hello" in page
    thumbnails = [url for url in image_urls(page) if "post-photos" in url]
    assert len(thumbnails) == 2
    for url in thumbnails:
        assert client.get(url).status_code == 200
    # Both are narrower than the 300 px the page shows: their originals are
    # shown as they are (img() does not upscale), so nothing is made.
    assert len(app.image_files()) == 2
    assert [(tag["width"], tag["height"]) for tag in img_tags(page)] == [
        ("200", "100"),
        ("90", "120"),
    ]

    assert client.post("/posts/1/delete").status_code == 303
    assert app.image_files() == []  # the originals and their on-demand sizes
    assert app.count(Post) == 0


def test_delete_user_removes_picture_and_posts(app: App) -> None:
    client = app.client
    client.post("/users", data={"name": "Ada", "picture": upload(images.webp(100, 100))})
    client.post("/posts", data={"author_id": "1", "photos": [upload(images.png(50, 50))]})
    page = client.get("/").get_data(as_text=True)
    for url in image_urls(page):
        assert client.get(url).status_code == 200
    assert app.image_files()
    assert client.post("/users/1/delete").status_code == 303
    assert app.image_files() == []
    assert (app.count(User), app.count(Post)) == (0, 0)


def test_replacing_a_picture_removes_the_old_sizes(app: App) -> None:
    client = app.client
    client.post("/users", data={"name": "Ada", "picture": upload(images.jpeg(400, 300))})
    for url in image_urls(client.get("/").get_data(as_text=True)):
        client.get(url)
    response = client.post("/users/1/picture", data={"picture": upload(images.png(120, 60))})
    assert response.status_code == 303
    assert app.image_files() == ["user-pictures/1/0/1.120x60.png"]


@pytest.mark.parametrize(
    "data",
    [images.not_an_image(), images.corrupt_jpeg(), images.mvg_payload()],
    ids=["not-an-image", "corrupt", "mvg"],
)
def test_bad_upload_gets_a_friendly_page_and_stores_nothing(app: App, data: bytes) -> None:
    client = app.client
    response = client.post("/users", data={"name": "Ada", "picture": upload(data, "x.jpg")})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Not a picture we can use" in page
    assert "Traceback" not in page
    assert app.image_files() == []
    assert app.count(User) == 0


def test_one_bad_photo_keeps_none_of_the_post(app: App) -> None:
    client = app.client
    client.post("/users", data={"name": "Ada"})
    photos = [upload(images.png(60, 60), "ok.png"), upload(images.not_an_image(), "bad.png")]
    response = client.post("/posts", data={"author_id": "1", "text": "x", "photos": photos})
    assert response.status_code == 400
    assert app.image_files() == []
    assert app.count(Post) == 0


def test_too_large_upload_gets_a_friendly_page(app: App) -> None:
    client = app.client
    response = client.post("/users", data={"name": "Ada", "picture": upload(b"\0" * 200_000)})
    assert response.status_code == 413
    assert "Upload too large" in response.get_data(as_text=True)
    assert app.image_files() == []


def test_form_errors_and_missing_things(app: App) -> None:
    client = app.client
    response = client.post("/users", data={"name": "  "})
    assert response.status_code == 400
    assert "A name of 1 to 80 characters" in response.get_data(as_text=True)
    assert client.post("/users/9/delete").status_code == 404


@pytest.mark.parametrize("kind", ["flask", "pyramid"])
def test_images_are_kept_in_s3_when_a_bucket_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_server: MotoServer, kind: str
) -> None:
    bucket = moto_server.new_bucket()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 's3.sqlite'}")
    monkeypatch.setenv("IMAGEATTACH_S3_BUCKET", bucket)
    monkeypatch.setenv("IMAGEATTACH_S3_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("IMAGEATTACH_S3_REGION", REGION)
    client = Client(make_wsgi_app(kind, tmp_path / "instance"))
    response = client.post("/users", data={"name": "Ada", "picture": upload(images.jpeg(400, 300))})
    assert response.status_code == 303

    def keys() -> list[str]:
        listed = moto_server.client().list_objects_v2(Bucket=bucket)["Contents"]  # type: ignore[attr-defined]
        return sorted(o["Key"] for o in listed)

    # Thumbnails are made on demand: only the original is stored at upload.
    assert keys() == ["user-pictures/1/400x300.jpe"]
    urls = image_urls(client.get("/").get_data(as_text=True))
    assert len(urls) == 4
    on_demand = [url for url in urls if url.startswith("http://localhost/__images__/")]
    assert len(on_demand) == 3
    assert next(url for url in urls if url not in on_demand).startswith(moto_server.url)
    for url in on_demand:
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith(moto_server.url)
    assert keys() == [
        "user-pictures/1/150x113.jpe",
        "user-pictures/1/300x225.jpe",
        "user-pictures/1/400x300.jpe",
        "user-pictures/1/48x36.jpe",
    ]
    assert not (tmp_path / "instance" / "images").exists()
