"""img() in each framework's templates (docs/responsive.md): the Flask
adapter's template globals and filters, Starlette's ``register_templates``,
and Pyramid through pyramid_jinja2 with ``add_template_helpers``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from images import jpeg
from sqlalchemy import Engine, ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from werkzeug.test import Client

from imageattach.adapters.flask import ImageAttach
from imageattach.adapters.starlette import ImageAttachMiddleware, register_templates
from imageattach.context import store_context
from imageattach.entity import Image, SingleImageSet, image_attachment
from imageattach.stores.fs import HttpExposedFileSystemStore

KEY = "responsive-templates-secret-key-0123"

TEMPLATE = (
    "{{ imageattach_img(band.logo, 150, alt=name, placeholder=True) }}\n"
    "{{ band.logo | imageattach_img(150, alt=name, placeholder=True) }}\n"
    "{{ band.logo.img(150, alt=name, placeholder=True) }}\n"
    '{{ imageattach_img(nobody.logo, 150) }}<img srcset="{{ band.logo | imageattach_srcset }}">\n'
)


class Base(DeclarativeBase):
    pass


class Band(Base):
    __tablename__ = "ia_resp_band"

    id: Mapped[int] = mapped_column(primary_key=True)
    logo: Mapped[SingleImageSet[BandLogo]] = image_attachment("BandLogo", back_populates="band")


class BandLogo(Base, Image):
    __tablename__ = "ia_resp_band_logo"

    band_id: Mapped[int] = mapped_column(ForeignKey(Band.id), primary_key=True)
    band: Mapped[Band] = relationship(back_populates="logo")


class ImgParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag == "img"
        self.images.append(dict(attrs))


@pytest.fixture
def store(tmp_path: Path) -> HttpExposedFileSystemStore:
    return HttpExposedFileSystemStore(tmp_path / "images", secret_key=KEY)


@pytest.fixture
def session(engine: Engine, store: HttpExposedFileSystemStore) -> Iterator[Session]:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            band = Band(id=1)
            nobody = Band(id=2)
            with store_context(store):
                band.logo.from_blob(jpeg(800, 600))
            session.add_all([band, nobody])
            session.commit()
            yield session
    finally:
        Base.metadata.drop_all(engine)


def context(session: Session) -> dict[str, Any]:
    return {
        "band": session.get_one(Band, 1),
        "nobody": session.get_one(Band, 2),
        "name": 'The <Quotes> & "Co"',
    }


def check_page(page: str, host: str) -> None:
    """Three identical <img> of the band's logo, nothing for the band
    without one, and the srcset helper's value."""
    parser = ImgParser()
    parser.feed(page)
    first, second, third, srcset_only = parser.images
    assert first == second == third
    assert first["alt"] == 'The <Quotes> & "Co"'
    assert first["src"] is not None and first["src"].startswith(f"{host}/__images__/")
    assert first["srcset"] is not None and first["srcset"].endswith(" 2x")
    assert (first["width"], first["height"]) == ("150", "113")
    assert first["style"] is not None and "data:image/png;base64," in first["style"]
    assert srcset_only["srcset"] is not None and srcset_only["srcset"].endswith(" 800w")
    assert "<script" not in page and "<Quotes>" not in page


def test_flask_registers_the_helpers(session: Session, store: HttpExposedFileSystemStore) -> None:
    app = flask.Flask(__name__)
    ImageAttach(app, store=store)

    @app.get("/")
    def index() -> str:
        return flask.render_template_string(TEMPLATE, **context(session))

    response = app.test_client().get("/", base_url="https://example.com")
    assert response.status_code == 200, response.get_data(as_text=True)
    check_page(response.get_data(as_text=True), "https://example.com")


def test_starlette_register_templates(
    session: Session, store: HttpExposedFileSystemStore, tmp_path: Path
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(TEMPLATE)
    templates = register_templates(Jinja2Templates(directory=tmp_path / "templates"))

    def index(request: Request) -> Any:
        return templates.TemplateResponse(request, "page.html", context(session))

    app = Starlette(
        routes=[Route("/", index)], middleware=[Middleware(ImageAttachMiddleware, store=store)]
    )

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get("/")

    response = asyncio.run(get())
    assert response.status_code == 200, response.text
    check_page(response.text, "http://testserver")


def pyramid_app(store: HttpExposedFileSystemStore, tmp_path: Path, session: Session) -> Any:
    from pyramid.config import Configurator

    from imageattach.adapters import pyramid as adapter

    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "page.html").write_text(TEMPLATE)
    with Configurator(settings={"imageattach.store": store}) as config:
        config.include("pyramid_jinja2")
        config.add_jinja2_renderer(".html")
        config.add_jinja2_search_path(str(tmp_path / "templates"), name=".html")
        config.include("imageattach.adapters.pyramid")
        adapter.add_template_helpers(config, ".html")
        config.add_route("index", "/")
        config.add_view(lambda request: context(session), route_name="index", renderer="page.html")
        return adapter.wrap(config.make_wsgi_app())


def test_pyramid_jinja2_with_add_template_helpers(
    session: Session, store: HttpExposedFileSystemStore, tmp_path: Path
) -> None:
    response = Client(pyramid_app(store, tmp_path, session)).get(
        "/", base_url="http://pyramid.example"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    check_page(response.get_data(as_text=True), "http://pyramid.example")


def test_pyramid_helpers_without_the_renderer_fail_at_commit(
    store: HttpExposedFileSystemStore,
) -> None:
    from pyramid.config import Configurator
    from pyramid.exceptions import ConfigurationExecutionError

    from imageattach.adapters import pyramid as adapter

    config = Configurator(settings={"imageattach.store": store})
    config.include("imageattach.adapters.pyramid")
    adapter.add_template_helpers(config)
    with pytest.raises(ConfigurationExecutionError, match="no pyramid_jinja2 environment"):
        config.commit()
