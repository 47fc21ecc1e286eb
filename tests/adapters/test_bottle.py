"""The Bottle plugin: store context per route call and per streamed body."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import bottle
import images
import pytest
from adapter_threads import TwoRequests
from entity_models import User
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import Client

from imageattach import imaging
from imageattach.adapters.bottle import ImageAttachPlugin
from imageattach.exceptions import ConfigurationError
from imageattach.store import Store
from imageattach.stores.fs import HttpExposedFileSystemStore

Current = Callable[[], Store | None]


def new_app() -> bottle.Bottle:
    """An app that lets exceptions out, so a test can see them."""
    app = bottle.Bottle()
    app.config["catchall"] = False
    return app


def make_app(store: Store, current: Current, seen: list[Store | None]) -> bottle.Bottle:
    app = new_app()
    app.install(ImageAttachPlugin(store))

    @app.get("/")
    def index() -> str:
        seen.append(current())
        return "ok"

    @app.get("/fail")
    def fail() -> str:
        seen.append(current())
        raise ZeroDivisionError

    @app.get("/stream")
    def stream() -> Iterator[bytes]:
        try:
            for i in range(3):
                seen.append(current())
                yield b"%d," % i
        finally:
            seen.append(current())

    return app


def test_route_sees_store_and_context_is_popped_after(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    response = Client(make_app(store, current, seen)).get("/")
    assert response.get_data() == b"ok"
    assert seen == [store]
    assert current() is None


def test_context_is_popped_when_the_route_raises(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    with pytest.raises(ZeroDivisionError):
        Client(make_app(store, current, seen)).get("/fail")
    assert seen == [store]
    assert current() is None


def test_generator_body_iterates_and_closes_in_context(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    response = Client(make_app(store, current, seen)).get("/stream", buffered=False)
    assert response.get_data() == b"0,1,2,"
    response.close()
    assert seen == [store] * 4
    assert current() is None


def test_concurrent_requests_in_threads_see_their_own_store(
    store: Store, other_store: Store, two_requests: TwoRequests
) -> None:
    def client_for(name: str, app_store: Store) -> Client:
        app = new_app()
        app.install(ImageAttachPlugin(app_store))
        app.route("/", callback=lambda: two_requests.view(name))
        return Client(app)

    bodies = two_requests.run({"a": client_for("a", store), "b": client_for("b", other_store)})
    assert bodies == {"a": b"a", "b": b"b"}
    assert two_requests.seen == {"a": [store, store], "b": [other_store, other_store]}


def test_store_from_app_config(tmp_path: Path) -> None:
    app = bottle.Bottle()
    app.config["imageattach.store_path"] = str(tmp_path)
    app.config["imageattach.prefix"] = "media"
    plugin = ImageAttachPlugin(serve=False)
    app.install(plugin)
    assert isinstance(plugin.store, HttpExposedFileSystemStore)
    assert (plugin.store.path, plugin.store.prefix) == (str(tmp_path), "media")


def test_store_is_unknown_before_install() -> None:
    with pytest.raises(ConfigurationError, match="installed"):
        ImageAttachPlugin().store  # noqa: B018


def test_one_plugin_per_app_and_one_app_per_plugin(store: Store, other_store: Store) -> None:
    app = bottle.Bottle()
    plugin = ImageAttachPlugin(store)
    app.install(plugin)
    with pytest.raises(bottle.PluginError):
        app.install(ImageAttachPlugin(other_store))
    with pytest.raises(bottle.PluginError):
        bottle.Bottle().install(plugin)


def test_install_serves_store_files_and_uninstall_stops(
    http_store: HttpExposedFileSystemStore,
) -> None:
    app = bottle.Bottle()
    plugin = ImageAttachPlugin(http_store)
    app.install(plugin)
    http_store.put_file(io.BytesIO(b"gif"), "thing", 3, 2, 2, "image/gif", False)
    response = Client(app).get("/__images__/thing/3/0/3.2x2.gif")
    assert (response.status_code, response.get_data()) == (200, b"gif")
    app.uninstall(plugin)
    assert Client(app).get("/__images__/thing/3/0/3.2x2.gif").status_code == 404
    assert "wsgi" not in vars(app)


def make_upload_app(engine: Engine, store: HttpExposedFileSystemStore) -> bottle.Bottle:
    factory = sessionmaker(engine)
    app = new_app()
    app.install(ImageAttachPlugin(store))

    @app.post("/upload")
    def upload() -> str:
        with factory() as session:
            user = session.get_one(User, 1)
            user.picture.from_file(bottle.request.files["picture"].file)
            session.flush()  # the file is written now
            if bottle.request.forms.get("fail"):
                raise RuntimeError("something after the upload failed")
            session.commit()
        return "uploaded"

    @app.get("/show")
    def show() -> str:
        with factory() as session:
            picture = session.get_one(User, 1).picture
            return f"{picture.__html__()}|{picture.locate(width=40)}"

    return app


@pytest.mark.parametrize("fail", [False, True])
def test_upload_committed_or_rolled_back(
    db: sessionmaker[Session],
    engine: Engine,
    http_store: HttpExposedFileSystemStore,
    stored_files: Callable[[HttpExposedFileSystemStore], list[str]],
    fail: bool,
) -> None:
    with db() as session:
        session.add(User(id=1))
        session.commit()
    client = Client(make_upload_app(engine, http_store))
    data = {"picture": (io.BytesIO(images.webp(80, 60)), "a.webp")}
    if fail:
        with pytest.raises(RuntimeError, match="after the upload"):
            client.post("/upload", data={**data, "fail": "1"})
        assert stored_files(http_store) == []
        return
    assert client.post("/upload", data=data).get_data() == b"uploaded"
    assert stored_files(http_store) == ["ia-user-picture/1/0/1.80x60.webp"]
    tag, thumbnail_url = client.get("/show").get_data(as_text=True).split("|")
    assert tag.startswith('<img src="http://localhost/__images__/ia-user-picture/1/0/1.80x60.webp?')
    thumbnail = client.get(thumbnail_url)
    assert thumbnail.status_code == 200
    info = imaging.probe(thumbnail.get_data())
    assert (info.width, info.height, info.mimetype) == (40, 30, "image/webp")
