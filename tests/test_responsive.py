"""Responsive images: image_set.srcset() and img() (docs/responsive.md), and
their use in Jinja2 and Mako templates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import pytest
from chameleon import PageTemplate  # type: ignore[import-untyped]
from images import jpeg, png
from mako.template import Template as MakoTemplate  # type: ignore[import-untyped]
from markupsafe import Markup
from sqlalchemy import Engine, ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from werkzeug.test import Client

from imageattach import imaging
from imageattach.context import store_context
from imageattach.entity import Image, SingleImageSet, image_attachment
from imageattach.exceptions import ArgumentError, ArgumentTypeError, NoOriginalImageError
from imageattach.responsive import (
    DEFAULT_WIDTHS,
    density_candidates,
    register_jinja2,
    width_candidates,
)
from imageattach.stores.fs import HttpExposedFileSystemStore

HOST = "http://localhost/"
KEY = "responsive-test-secret-key-0123456789"


class Base(DeclarativeBase):
    pass


class Album(Base):
    __tablename__ = "ia_resp_album"

    id: Mapped[int] = mapped_column(primary_key=True)
    cover: Mapped[SingleImageSet[AlbumCover]] = image_attachment(
        "AlbumCover", back_populates="album"
    )


class AlbumCover(Base, Image):
    __tablename__ = "ia_resp_album_cover"

    album_id: Mapped[int] = mapped_column(ForeignKey(Album.id), primary_key=True)
    album: Mapped[Album] = relationship(back_populates="cover")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            yield session
    finally:
        Base.metadata.drop_all(engine)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HttpExposedFileSystemStore]:
    store = HttpExposedFileSystemStore(
        tmp_path / "images", secret_key=KEY, host_url_getter=lambda: HOST
    )
    with store_context(store):
        yield store


def album_with(session: Session, data: bytes) -> Album:
    album = Album()
    album.cover.from_blob(data)
    session.add(album)
    session.commit()
    return album


@pytest.fixture
def album(session: Session, store: HttpExposedFileSystemStore) -> Album:
    """An album whose cover is an 800x600 JPEG."""
    return album_with(session, jpeg(800, 600))


def parse_srcset(value: str) -> list[tuple[str, str]]:
    """``[(url, descriptor)]``; URLs hold no space or comma-space here."""
    return [tuple(item.rsplit(" ", 1)) for item in value.split(", ")]  # type: ignore[misc]


def url_size(url: str) -> tuple[int, int]:
    """The size in a URL's file name (``<id>.<w>x<h>.jpe``)."""
    match = re.search(r"\.(\d+)x(\d+)\.\w+$", urlsplit(url).path)
    assert match, url
    return int(match[1]), int(match[2])


def is_original(url: str) -> bool:
    query = urlsplit(url).query
    return query.startswith("_ts=") and "sig=" not in query and "src=" not in query


class ImgParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse_img(markup: str) -> dict[str, str | None]:
    """The attributes of the one ``<img>`` in ``markup`` (nothing else in it)."""
    parser = ImgParser()
    parser.feed(markup)
    parser.close()
    assert [tag for tag, _ in parser.tags] == ["img"], markup
    assert markup.startswith("<img ") and markup.endswith(">") and markup.count("<") == 1
    return parser.tags[0][1]


def fetch(store: HttpExposedFileSystemStore, url: str) -> bytes:
    """GET ``url`` through the store's middleware (made on demand on a miss)."""

    def app(environ: object, start_response: object) -> list[bytes]:
        raise AssertionError("the middleware did not answer")

    parts = urlsplit(url)
    response = Client(store.wsgi_middleware(app)).get(parts.path, query_string=parts.query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


# -- srcset ------------------------------------------------------------------------------------


def test_srcset_of_widths_drops_widths_above_the_original(album: Album) -> None:
    found = parse_srcset(album.cover.srcset((320, 640, 1000, 2000)))
    assert [descriptor for _, descriptor in found] == ["320w", "640w", "800w"]
    assert [url_size(url) for url, _ in found] == [(320, 240), (640, 480), (800, 600)]
    # The widths above the original give way to the original itself, once.
    assert [is_original(url) for url, _ in found] == [False, False, True]
    assert found[2][0] == album.cover.locate()
    assert found[0][0] == album.cover.locate(width=320)


def test_srcset_default_widths_and_a_width_equal_to_the_original(album: Album) -> None:
    found = parse_srcset(album.cover.srcset())
    assert [d for _, d in found] == [f"{w}w" for w in DEFAULT_WIDTHS if w < 800] + ["800w"]
    found = parse_srcset(album.cover.srcset([800, 320]))
    assert found == [(album.cover.locate(width=320), "320w"), (album.cover.locate(), "800w")]


def test_srcset_widths_all_below_the_original_keep_them(album: Album) -> None:
    found = parse_srcset(album.cover.srcset([100, 200, 200]))
    assert [(url_size(url), d) for url, d in found] == [((100, 75), "100w"), ((200, 150), "200w")]


def test_srcset_of_densities(album: Album) -> None:
    found = parse_srcset(album.cover.srcset(densities=(1, 2, 3), width=300))
    assert [d for _, d in found] == ["1x", "2x", "2.67x"]
    assert [url_size(url) for url, _ in found] == [(300, 225), (600, 450), (800, 600)]
    assert found[0][0] == album.cover.locate(width=300)
    assert is_original(found[2][0])
    by_height = parse_srcset(album.cover.srcset(densities=[1, 1.5], height=100))
    assert [(url_size(url), d) for url, d in by_height] == [
        ((133, 100), "1x"),
        ((200, 150), "1.5x"),
    ]


def test_srcset_urls_are_the_sizes_they_announce(
    album: Album, store: HttpExposedFileSystemStore
) -> None:
    for url, descriptor in parse_srcset(album.cover.srcset((200, 1000))):
        info = imaging.probe(fetch(store, url))
        assert f"{info.width}w" == descriptor


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"widths": []}, ArgumentError),
        ({"widths": [0]}, ArgumentError),
        ({"widths": [-320]}, ArgumentError),
        ({"widths": "320"}, ArgumentTypeError),
        ({"widths": 320}, ArgumentTypeError),
        ({"widths": [320.5]}, ArgumentTypeError),
        ({"widths": [True]}, ArgumentTypeError),
        ({"densities": [], "width": 100}, ArgumentError),
        ({"densities": [0], "width": 100}, ArgumentError),
        ({"densities": [float("nan")], "width": 100}, ArgumentError),
        ({"densities": ["2"], "width": 100}, ArgumentTypeError),
        ({"widths": [100], "densities": [1]}, ArgumentTypeError),
        ({"densities": [1], "width": 0}, ArgumentError),
        ({"widths": [100], "height": 50}, ArgumentTypeError),
        ({"widths": [100], "upscale": "yes"}, ArgumentTypeError),
    ],
)
def test_srcset_argument_errors(album: Album, arguments: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        album.cover.srcset(**arguments)  # type: ignore[arg-type]


def test_srcset_and_img_without_an_original(session: Session, store: object) -> None:
    album = Album()
    session.add(album)
    with pytest.raises(NoOriginalImageError):
        album.cover.srcset()
    with pytest.raises(NoOriginalImageError):
        album.cover.img(100)


# -- the candidates, with the options locate() is growing ----------------------------------------


def test_candidates_upscale_keeps_widths_above_the_original() -> None:
    found = width_candidates((800, 600), (320, 1000, 2000), {"upscale": True})
    assert [(c.width, c.height, c.descriptor) for c in found] == [
        (320, 240, "320w"),
        (1000, 750, "1000w"),
        (2000, 1500, "2000w"),
    ]
    assert [c.size for c in found] == [{"width": 320}, {"width": 1000}, {"width": 2000}]
    dense = density_candidates((800, 600), (1, 2, 3), {"upscale": True}, width=300, height=None)
    assert [c.descriptor for c in dense] == ["1x", "2x", "3x"]


def test_candidates_cover_keep_the_box_shape() -> None:
    found = width_candidates((800, 600), (150, 300, 1000), {"fit": "cover"}, width=150, height=150)
    assert [(c.width, c.height, c.descriptor) for c in found] == [
        (150, 150, "150w"),
        (300, 300, "300w"),
        (600, 600, "600w"),  # 1000x1000 scaled into the original, as locate clamps it
    ]
    assert found[0].size == {"width": 150, "height": 150}
    dense = density_candidates((800, 600), (1, 2, 3), {"fit": "cover"}, width=150, height=150)
    assert [(c.width, c.descriptor) for c in dense] == [(150, "1x"), (300, "2x"), (450, "3x")]


def test_candidates_that_change_the_pixels_never_use_the_original() -> None:
    found = width_candidates((800, 600), (320, 800), {"format": "webp"})
    assert [c.size for c in found] == [{"width": 320}, {"width": 800}]
    plain = width_candidates((800, 600), (320, 800), {"fit": "contain", "format": None})
    assert [c.size for c in plain] == [{"width": 320}, None]


def test_candidates_of_a_height_bound_box_are_named_by_their_height() -> None:
    # A wide box on a 4:3 original: the height binds, and its width is what
    # the descriptor says.
    found = width_candidates((800, 600), (640,), {}, width=640, height=360)
    assert [(c.width, c.height, c.descriptor, c.size) for c in found] == [
        (480, 360, "480w", {"height": 360})
    ]


# -- img() -------------------------------------------------------------------------------------


def test_img_with_a_width_has_density_candidates_and_the_real_size(
    album: Album, store: HttpExposedFileSystemStore
) -> None:
    markup = album.cover.img(150, alt="Cover")
    assert isinstance(markup, Markup)
    attributes = parse_img(markup)
    assert list(attributes) == [
        "src", "srcset", "width", "height", "alt", "loading", "decoding",
    ]  # fmt: skip
    assert attributes["src"] == album.cover.locate(width=150)
    assert attributes["srcset"] == album.cover.srcset(densities=(1, 2), width=150)
    assert (attributes["width"], attributes["height"]) == ("150", "113")
    assert attributes["alt"] == "Cover"
    assert attributes["loading"] == "lazy" and attributes["decoding"] == "async"
    # The real size: what the middleware makes for src.
    assert attributes["src"] is not None
    info = imaging.probe(fetch(store, attributes["src"]))
    assert (info.width, info.height) == (150, 113)


def test_img_larger_than_the_original_is_the_original(album: Album) -> None:
    attributes = parse_img(album.cover.img(2000))
    assert attributes["src"] == album.cover.locate()
    assert (attributes["width"], attributes["height"]) == ("800", "600")
    assert "srcset" not in attributes and "sizes" not in attributes


def test_img_with_sizes_has_width_candidates(album: Album) -> None:
    attributes = parse_img(album.cover.img(300, sizes="(max-width: 600px) 100vw, 300px"))
    assert attributes["sizes"] == "(max-width: 600px) 100vw, 300px"
    assert attributes["srcset"] == album.cover.srcset(width=300)
    assert attributes["src"] == album.cover.locate(width=300)
    assert (attributes["width"], attributes["height"]) == ("300", "225")
    chosen = parse_img(album.cover.img(300, widths=[200, 400]))
    assert chosen["srcset"] == album.cover.srcset([200, 400])
    assert chosen["sizes"] == "100vw"


def test_img_of_the_original(album: Album) -> None:
    attributes = parse_img(album.cover.img(alt="", loading=None, decoding=None))
    assert attributes["src"] == album.cover.locate()
    assert (attributes["width"], attributes["height"]) == ("800", "600")
    assert attributes["srcset"] == album.cover.srcset()
    assert attributes["sizes"] == "100vw"
    assert attributes["alt"] == ""
    assert "loading" not in attributes and "decoding" not in attributes


def test_img_of_a_small_original_has_no_srcset(session: Session, store: object) -> None:
    album = album_with(session, png(40, 30))
    attributes = parse_img(album.cover.img(40))
    assert attributes["src"] == album.cover.locate()
    assert "srcset" not in attributes and "sizes" not in attributes
    assert (attributes["width"], attributes["height"]) == ("40", "30")


def test_img_escapes_every_attribute(album: Album) -> None:
    hostile = "\"><script>alert('x')</script>&amp; <b onload=x>"
    markup = album.cover.img(
        150,
        alt=hostile,
        sizes=hostile,
        attributes={"class": 'a"b', "data-x": "<&'>"},
    )
    assert "<script" not in markup and "<b" not in markup and "'x'" not in markup
    attributes = parse_img(markup)
    assert attributes["alt"] == hostile
    assert attributes["sizes"] == hostile
    assert attributes["class"] == 'a"b'
    assert attributes["data-x"] == "<&'>"
    # URLs: their & are escaped, and read back as they were.
    assert "&amp;src=" in markup and "&src=" not in markup
    assert attributes["src"] == album.cover.locate(width=150)


def test_img_escapes_a_hostile_url(session: Session, tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(
        tmp_path / "images",
        secret_key=KEY,
        host_url_getter=lambda: "https://example.com/a&b'c<d>/",
    )
    with store_context(store):
        album = album_with(session, jpeg(800, 600))
        url = album.cover.locate(width=150)
        assert "&b'c<d>" in url
        markup = album.cover.img(150)
        assert "<d>" not in markup and "&b'" not in markup
        assert parse_img(markup)["src"] == url


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"alt": None}, ArgumentTypeError),
        ({"sizes": 300}, ArgumentTypeError),
        ({"loading": "soon"}, ArgumentError),
        ({"decoding": "later"}, ArgumentError),
        ({"densities": [1, 2], "sizes": "50vw"}, ArgumentTypeError),
        ({"attributes": {"on click": "x"}}, ArgumentError),
        ({"attributes": {'a"b': "x"}}, ArgumentError),
    ],
)
def test_img_argument_errors(album: Album, arguments: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        album.cover.img(150, **arguments)  # type: ignore[arg-type]


def test_img_with_the_placeholder(album: Album) -> None:
    attributes = parse_img(album.cover.img(150, placeholder=True))
    assert attributes["style"] == album.cover.placeholder().style
    assert attributes["style"] is not None
    assert attributes["style"].startswith("background-size:100% 100%;background-image:url(data:")


# -- templates ---------------------------------------------------------------------------------


def test_img_in_jinja2_with_and_without_autoescape(album: Album) -> None:
    expected = album.cover.img(150, alt="<Cover & co>")
    for autoescape in (True, False):
        environment = jinja2.Environment(autoescape=autoescape)
        rendered = environment.from_string("{{ album.cover.img(150, alt='<Cover & co>') }}").render(
            album=album
        )
        assert rendered == str(expected)


def test_registered_jinja2_helpers(album: Album, session: Session) -> None:
    environment = jinja2.Environment(autoescape=True)
    register_jinja2(environment)
    template = environment.from_string(
        "{{ imageattach_img(album.cover, 150, alt=name) }}|"
        "{{ album.cover | imageattach_img(150, alt=name) }}|"
        "{{ imageattach_img(empty.cover, 150) }}|{{ imageattach_img(none, 150) }}|"
        '<img srcset="{{ album.cover | imageattach_srcset([200, 400]) }}">'
    )
    empty = Album()
    session.add(empty)
    name = "Ann & <Bob>"
    first, second, nothing, none, srcset = template.render(
        album=album, empty=empty, none=None, name=name
    ).split("|")
    assert first == second == str(album.cover.img(150, alt=name))
    assert nothing == none == ""
    assert parse_img(srcset)["srcset"] == album.cover.srcset([200, 400])


def test_img_in_mako(album: Album) -> None:
    expected = str(album.cover.img(150, alt="<Cover>"))
    # Mako's h filter honours __html__ (markupsafe), so escaping by default
    # leaves the markup as it is.
    for filters in (["h"], ["str"]):
        template = MakoTemplate("${album.cover.img(150, alt='<Cover>')}", default_filters=filters)
        assert template.render(album=album) == expected


def test_img_in_chameleon(album: Album) -> None:
    expected = str(album.cover.img(150, alt="<Cover>"))
    # Chameleon escapes ${...} unless the value has __html__.
    template = PageTemplate("<p>${album.cover.img(150, alt=alt)} ${text}</p>")
    assert template(album=album, alt="<Cover>", text="<b>") == f"<p>{expected} &lt;b&gt;</p>"


# -- with the options of locate(): fit, format, upscale ---------------------------------------


def probe_url(store: HttpExposedFileSystemStore, url: str) -> tuple[int, int, str]:
    info = imaging.probe(fetch(store, url))
    return info.width, info.height, info.mimetype


def test_img_cover_webp_is_the_box_it_announces(
    album: Album, store: HttpExposedFileSystemStore
) -> None:
    attributes = parse_img(album.cover.img(150, 150, fit="cover", format="webp", alt=""))
    assert (attributes["width"], attributes["height"]) == ("150", "150")
    assert attributes["src"] == album.cover.locate(
        width=150, height=150, fit="cover", format="webp"
    )
    assert attributes["srcset"] is not None
    found = [(probe_url(store, url), d) for url, d in parse_srcset(attributes["srcset"])]
    assert found == [((150, 150, "image/webp"), "1x"), ((300, 300, "image/webp"), "2x")]


def test_srcset_cover_keeps_the_box_shape_up_to_the_original(
    album: Album, store: HttpExposedFileSystemStore
) -> None:
    value = album.cover.srcset([150, 300, 1000], width=150, height=150, fit="cover")
    found = [(probe_url(store, url)[:2], d) for url, d in parse_srcset(value)]
    # 1000x1000 is more than the 800x600 original has: the largest square it has.
    assert found == [((150, 150), "150w"), ((300, 300), "300w"), ((600, 600), "600w")]


def test_srcset_in_another_format_never_serves_the_original(
    album: Album, store: HttpExposedFileSystemStore
) -> None:
    found = parse_srcset(album.cover.srcset([400, 800, 1600], format="webp"))
    assert [d for _, d in found] == ["400w", "800w"]
    assert not any(is_original(url) for url, _ in found)
    assert [probe_url(store, url) for url, _ in found] == [
        (400, 300, "image/webp"),
        (800, 600, "image/webp"),
    ]


def test_srcset_and_img_with_upscale(album: Album, store: HttpExposedFileSystemStore) -> None:
    found = parse_srcset(album.cover.srcset([400, 1000], upscale=True))
    assert [(probe_url(store, url)[:2], d) for url, d in found] == [
        ((400, 300), "400w"),
        ((1000, 750), "1000w"),
    ]
    attributes = parse_img(album.cover.img(1000, upscale=True))
    assert (attributes["width"], attributes["height"]) == ("1000", "750")
    assert attributes["src"] is not None
    assert probe_url(store, attributes["src"])[:2] == (1000, 750)


def test_img_of_a_preset_has_the_preset_size_and_no_srcset(
    session: Session, tmp_path: Path
) -> None:
    store = HttpExposedFileSystemStore(
        tmp_path / "images",
        secret_key=KEY,
        host_url_getter=lambda: HOST,
        presets={
            "avatar": {"width": 150, "height": 150, "fit": "cover", "format": "webp"},
            "huge": {"width": 3000},
        },
    )
    with store_context(store):
        album = album_with(session, jpeg(800, 600))
        attributes = parse_img(album.cover.img(preset="avatar", alt="Avatar"))
        assert attributes["src"] == album.cover.locate(preset="avatar")
        assert (attributes["width"], attributes["height"]) == ("150", "150")
        assert "srcset" not in attributes and "sizes" not in attributes
        assert attributes["src"] is not None
        assert probe_url(store, attributes["src"]) == (150, 150, "image/webp")
        # A preset larger than the original is clamped, as locate() clamps it.
        huge = parse_img(album.cover.img(preset="huge"))
        assert (huge["width"], huge["height"]) == ("800", "600")
        assert huge["src"] is not None
        assert probe_url(store, huge["src"])[:2] == (800, 600)
        with pytest.raises(ArgumentTypeError):
            album.cover.img(150, preset="avatar")
        with pytest.raises(ArgumentTypeError):
            album.cover.srcset(preset="avatar")
        with pytest.raises(ArgumentError):
            album.cover.img(preset="nope")
