"""The Bottle plugin: store context per route call and per streamed body."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import bottle
import pytest
from werkzeug.test import Client

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
    store: Store, other_store: Store, current: Current
) -> None:
    entered = {"a": threading.Event(), "b": threading.Event()}
    seen: dict[str, list[Store | None]] = {"a": [], "b": []}

    def client_for(name: str, other: str, app_store: Store) -> Client:
        app = new_app()
        app.install(ImageAttachPlugin(app_store))

        @app.get("/")
        def index() -> str:
            seen[name].append(current())
            entered[name].set()
            assert entered[other].wait(5)
            seen[name].append(current())
            return name

        return Client(app)

    clients = {"a": client_for("a", "b", store), "b": client_for("b", "a", other_store)}
    bodies: dict[str, bytes] = {}

    def run(name: str) -> None:
        bodies[name] = clients[name].get("/").get_data()

    threads = [threading.Thread(target=run, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert bodies == {"a": b"a", "b": b"b"}
    assert seen == {"a": [store, store], "b": [other_store, other_store]}


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


class ServingStore(HttpExposedFileSystemStore):
    """A store whose serving middleware answers ``/served`` itself, to see
    where the plugin puts it."""

    def wsgi_middleware(self, app: object) -> object:
        def middleware(environ: dict[str, object], start_response: object) -> object:
            if environ["PATH_INFO"] == "/served":
                start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
                return [b"from the store"]
            return app(environ, start_response)  # type: ignore[operator]

        return middleware


def test_install_serves_through_the_store_and_uninstall_stops(tmp_path: Path) -> None:
    app = bottle.Bottle()
    plugin = ImageAttachPlugin(ServingStore(tmp_path))
    app.install(plugin)
    assert Client(app).get("/served").get_data() == b"from the store"
    app.uninstall(plugin)
    assert Client(app).get("/served").status_code == 404
