"""The Flask example app in-process (Flask's test client): uploads, pages,
on-demand thumbnails, friendly errors, deletes; SQLite and the filesystem
store by default, each configured database, and S3 on the moto server."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import flask
import images
import pytest
from sqlalchemy import create_engine, func, select
from stores.s3server import REGION, MotoServer

from examples.common.models import Base, Post, User
from examples.flask_app import create_app, db
from imageattach import imaging


@pytest.fixture
def app(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[flask.Flask]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    engine = create_engine(database_url)
    Base.metadata.drop_all(engine)
    app = create_app(tmp_path / "instance")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    Base.metadata.drop_all(engine)
    engine.dispose()


def image_files(app: flask.Flask) -> list[str]:
    root = Path(app.instance_path) / "images"
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def image_urls(page: str) -> list[str]:
    return [html.unescape(src) for src in re.findall(r'<img[^>]* src="([^"]+)"', page)]


def upload(data: bytes, name: str = "picture.jpg") -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def count(app: flask.Flask, model: type[Base]) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_user_with_picture_and_thumbnails(app: flask.Flask) -> None:
    client = app.test_client()
    response = client.post("/users", data={"name": "Ada", "picture": upload(images.jpeg(640, 480))})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/#user-1")
    assert image_files(app) == ["user-pictures/1/0/1.640x480.jpe"]

    page = client.get("/").get_data(as_text=True)
    assert '<figure class="original"><img src="http://localhost/__images__/user-pictures/' in page
    assert 'width="640" height="480">' in page
    urls = image_urls(page)
    assert len(urls) == 4  # the original and three sizes
    sizes = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        info = imaging.probe(response.data)
        sizes.append((info.width, info.height))
    assert sizes == [(640, 480), (48, 36), (150, 113), (300, 225)]
    assert len(image_files(app)) == 4  # the thumbnails were made on demand


def test_post_with_several_photos_then_delete_it(app: flask.Flask) -> None:
    client = app.test_client()
    client.post("/users", data={"name": "Ada"})
    photos = [upload(images.png(200, 100), "a.png"), upload(images.jpeg(90, 120), "b.jpg")]
    response = client.post("/posts", data={"author_id": "1", "text": "Hello", "photos": photos})
    assert response.status_code == 303
    assert image_files(app) == [
        "post-photos/100/0/100.200x100.png",
        "post-photos/101/0/101.90x120.jpe",
    ]

    page = client.get("/").get_data(as_text=True)
    assert "Hello" in page
    thumbnails = [url for url in image_urls(page) if "post-photos" in url]
    assert len(thumbnails) == 2
    for url in thumbnails:
        assert client.get(url).status_code == 200
    assert len(image_files(app)) == 4

    assert client.post("/posts/1/delete").status_code == 303
    assert image_files(app) == []  # the originals and their on-demand sizes
    assert count(app, Post) == 0


def test_delete_user_removes_picture_and_posts(app: flask.Flask) -> None:
    client = app.test_client()
    client.post("/users", data={"name": "Ada", "picture": upload(images.webp(100, 100))})
    client.post("/posts", data={"author_id": "1", "photos": [upload(images.png(50, 50))]})
    page = client.get("/").get_data(as_text=True)
    for url in image_urls(page):
        assert client.get(url).status_code == 200
    assert image_files(app)
    assert client.post("/users/1/delete").status_code == 303
    assert image_files(app) == []
    assert (count(app, User), count(app, Post)) == (0, 0)


def test_replacing_a_picture_removes_the_old_sizes(app: flask.Flask) -> None:
    client = app.test_client()
    client.post("/users", data={"name": "Ada", "picture": upload(images.jpeg(400, 300))})
    for url in image_urls(client.get("/").get_data(as_text=True)):
        client.get(url)
    response = client.post("/users/1/picture", data={"picture": upload(images.png(120, 60))})
    assert response.status_code == 303
    assert image_files(app) == ["user-pictures/1/0/1.120x60.png"]


@pytest.mark.parametrize(
    "data",
    [images.not_an_image(), images.corrupt_jpeg(), images.mvg_payload()],
    ids=["not-an-image", "corrupt", "mvg"],
)
def test_bad_upload_gets_a_friendly_page_and_stores_nothing(app: flask.Flask, data: bytes) -> None:
    client = app.test_client()
    response = client.post("/users", data={"name": "Ada", "picture": upload(data, "x.jpg")})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Not a picture we can use" in page
    assert "Traceback" not in page
    assert image_files(app) == []
    assert count(app, User) == 0


def test_one_bad_photo_keeps_none_of_the_post(app: flask.Flask) -> None:
    client = app.test_client()
    client.post("/users", data={"name": "Ada"})
    photos = [upload(images.png(60, 60), "ok.png"), upload(images.not_an_image(), "bad.png")]
    response = client.post("/posts", data={"author_id": "1", "text": "x", "photos": photos})
    assert response.status_code == 400
    assert image_files(app) == []
    assert count(app, Post) == 0


def test_too_large_upload_gets_a_friendly_page(app: flask.Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    client = app.test_client()
    response = client.post("/users", data={"name": "Ada", "picture": upload(b"\0" * 20_000)})
    assert response.status_code == 413
    assert "Upload too large" in response.get_data(as_text=True)
    assert image_files(app) == []


def test_form_errors_and_missing_things(app: flask.Flask) -> None:
    client = app.test_client()
    response = client.post("/users", data={"name": "  "})
    assert response.status_code == 400
    assert "A name of 1 to 80 characters" in response.get_data(as_text=True)
    assert client.post("/users/9/delete").status_code == 404


def test_images_are_kept_in_s3_when_a_bucket_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_server: MotoServer
) -> None:
    bucket = moto_server.new_bucket()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 's3.sqlite'}")
    monkeypatch.setenv("IMAGEATTACH_S3_BUCKET", bucket)
    monkeypatch.setenv("IMAGEATTACH_S3_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("IMAGEATTACH_S3_REGION", REGION)
    app = create_app(tmp_path / "instance")
    client = app.test_client()
    response = client.post("/users", data={"name": "Ada", "picture": upload(images.jpeg(400, 300))})
    assert response.status_code == 303
    keys = sorted(
        o["Key"]
        for o in moto_server.client().list_objects_v2(Bucket=bucket)["Contents"]  # type: ignore[attr-defined]
    )
    # With S3 the thumbnails are made at upload time.
    assert keys == [
        "user-pictures/1/150x113.jpe",
        "user-pictures/1/300x225.jpe",
        "user-pictures/1/400x300.jpe",
        "user-pictures/1/48x36.jpe",
    ]
    urls = image_urls(client.get("/").get_data(as_text=True))
    assert len(urls) == 4
    assert all(url.startswith(moto_server.url) for url in urls)
    assert not (tmp_path / "instance" / "images").exists()
    with app.app_context():
        db.engine.dispose()
