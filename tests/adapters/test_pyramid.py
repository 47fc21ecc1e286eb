"""The Pyramid include: settings, the tween, its place above pyramid_tm."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import images
import pytest
import zope.sqlalchemy
from adapter_threads import TwoRequests
from entity_models import User
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import Client

from imageattach import imaging
from imageattach.adapters.pyramid import STORE_KEY, get_store, wrap
from imageattach.context import current_store
from imageattach.exceptions import ConfigurationError
from imageattach.store import Store
from imageattach.stores.fs import FileSystemStore, HttpExposedFileSystemStore

Current = Callable[[], Store | None]


def make_config(settings: dict[str, Any]) -> Configurator:
    config = Configurator(settings=settings)
    config.include("imageattach.adapters.pyramid")
    return config


def make_app(
    store: Store, current: Current, seen: list[Store | None], *, tm: bool = False
) -> Client:
    config = Configurator(settings={"imageattach.store": store})
    if tm:
        config.include("pyramid_tm")
    config.include("imageattach.adapters.pyramid")

    def index(request: Request) -> Response:
        seen.append(current())
        assert request.imageattach_store is store
        return Response("ok")

    def fail(request: Request) -> Response:
        seen.append(current())
        raise ZeroDivisionError

    def stream(request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            try:
                for i in range(3):
                    seen.append(current())
                    yield b"%d," % i
            finally:
                seen.append(current())

        return Response(app_iter=chunks(), content_length=6)

    for name, view in (("index", index), ("fail", fail), ("stream", stream)):
        config.add_route(name, "/" if name == "index" else f"/{name}")
        config.add_view(view, route_name=name)
    return Client(wrap(config.make_wsgi_app()))


def test_view_sees_store_and_context_is_popped_after(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    response = make_app(store, current, seen).get("/")
    assert response.status_code == 200
    assert seen == [store]
    assert current() is None


def test_context_is_popped_when_the_view_raises(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    with pytest.raises(ZeroDivisionError):
        make_app(store, current, seen).get("/fail")
    assert seen == [store]
    assert current() is None


def test_streamed_response_iterates_and_closes_in_context(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    response = make_app(store, current, seen).get("/stream", buffered=False)
    assert current() is None
    assert response.headers["Content-Length"] == "6"
    assert response.get_data() == b"0,1,2,"
    response.close()
    assert seen == [store] * 4
    assert current() is None


def test_concurrent_requests_in_threads_see_their_own_store(
    store: Store, other_store: Store, two_requests: TwoRequests
) -> None:
    def client_for(name: str, app_store: Store) -> Client:
        config = make_config({"imageattach.store": app_store})
        config.add_route("index", "/")
        config.add_view(lambda request: Response(two_requests.view(name)), route_name="index")
        return Client(config.make_wsgi_app())

    bodies = two_requests.run({"a": client_for("a", store), "b": client_for("b", other_store)})
    assert bodies == {"a": b"a", "b": b"b"}
    assert two_requests.seen == {"a": [store, store], "b": [other_store, other_store]}


class RecordingDataManager:
    """A transaction participant that records the current store when the
    transaction commits or aborts."""

    transaction_manager: Any = None

    def __init__(self, current: Current, seen: list[tuple[str, Store | None]]) -> None:
        self.current = current
        self.seen = seen

    def abort(self, txn: Any) -> None:
        self.seen.append(("abort", self.current()))

    def tpc_begin(self, txn: Any) -> None:
        pass

    def commit(self, txn: Any) -> None:
        pass

    def tpc_vote(self, txn: Any) -> None:
        pass

    def tpc_finish(self, txn: Any) -> None:
        self.seen.append(("commit", self.current()))

    def tpc_abort(self, txn: Any) -> None:
        self.seen.append(("abort", self.current()))

    def sortKey(self) -> str:
        return "recording"


@pytest.mark.parametrize(("path", "outcome"), [("/", "commit"), ("/fail", "abort")])
def test_store_is_current_while_pyramid_tm_commits_or_aborts(
    store: Store, current: Current, path: str, outcome: str
) -> None:
    recorded: list[tuple[str, Store | None]] = []
    config = Configurator(settings={"imageattach.store": store})
    config.include("pyramid_tm")
    config.include("imageattach.adapters.pyramid")

    def view(request: Request) -> Response:
        request.tm.get().join(RecordingDataManager(current, recorded))
        if path == "/fail":
            raise ZeroDivisionError
        return Response("ok")

    config.add_route("view", path)
    config.add_view(view, route_name="view")
    client = Client(config.make_wsgi_app())
    if outcome == "abort":
        with pytest.raises(ZeroDivisionError):
            client.get(path)
    else:
        assert client.get(path).status_code == 200
    assert recorded == [(outcome, store)]
    assert current() is None


def test_settings_from_an_ini_file_build_an_http_exposed_store(tmp_path: Path) -> None:
    config = make_config(
        {
            "imageattach.store_path": str(tmp_path),
            "imageattach.prefix": "/media/",
            "imageattach.cors": "https://a.example https://b.example",
        }
    )
    store = get_store(config.registry)
    assert isinstance(store, HttpExposedFileSystemStore)
    assert (store.path, store.prefix) == (str(tmp_path), "media")
    assert store.cors == ("https://a.example", "https://b.example")


def test_store_setting_may_be_a_factory_of_the_settings(tmp_path: Path) -> None:
    def factory(settings: dict[str, Any]) -> Store:
        return FileSystemStore(settings["images"], "http://cdn.example/")

    config = make_config({"imageattach.store": factory, "images": str(tmp_path)})
    store = get_store(config.registry)
    assert isinstance(store, FileSystemStore)
    assert store.path == str(tmp_path)


def test_store_setting_may_be_a_dotted_name() -> None:
    config = make_config({"imageattach.store": "imageattach.context.current_store"})
    assert config.registry[STORE_KEY] is current_store
    with pytest.raises(ConfigurationError, match=r"imageattach\.store must be a store"):
        make_config({"imageattach.store": "builtins.len"})


def test_missing_store_path_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"imageattach\.store_path"):
        make_config({})


def test_get_store_without_include_says_how_to_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"config\.include"):
        get_store(Configurator().registry)


def test_wrap_leaves_an_app_alone_when_the_store_does_not_serve(store: Store) -> None:
    config = make_config({"imageattach.store": store})
    app = config.make_wsgi_app()
    assert wrap(app) is app


def test_wrap_serves_store_files_before_the_router(http_store: HttpExposedFileSystemStore) -> None:
    config = make_config({"imageattach.store": http_store})
    reached: list[str] = []
    config.add_route("any", "/*rest")
    config.add_view(
        lambda request: reached.append(request.path) or Response("app"), route_name="any"
    )
    http_store.put_file(io.BytesIO(b"gif"), "thing", 3, 2, 2, "image/gif", False)
    client = Client(wrap(config.make_wsgi_app()))
    response = client.get("/__images__/thing/3/0/3.2x2.gif")
    assert (response.status_code, response.get_data()) == (200, b"gif")
    assert client.get("/elsewhere").get_data() == b"app"
    assert reached == ["/elsewhere"]


def make_tm_app(engine: Engine, store: HttpExposedFileSystemStore) -> Client:
    """An app whose sessions join pyramid_tm's transaction (zope.sqlalchemy)."""
    factory = sessionmaker(engine)
    config = Configurator(settings={"imageattach.store": store})
    config.include("pyramid_tm")
    config.include("imageattach.adapters.pyramid")

    def dbsession(request: Request) -> Session:
        session = factory()
        zope.sqlalchemy.register(session, transaction_manager=request.tm)
        return session

    config.add_request_method(dbsession, "dbsession", reify=True)

    def upload(request: Request) -> Response:
        user = request.dbsession.get_one(User, 1)
        user.picture.from_blob(images.png(300, 200))
        request.dbsession.flush()  # the file is written now
        if "fail" in request.params:
            raise RuntimeError("something after the upload failed")
        return Response("uploaded")

    def show(request: Request) -> Response:
        user = request.dbsession.get_one(User, 1)
        return Response(f"{user.picture.__html__()}|{user.picture.locate(height=50)}")

    config.add_route("upload", "/upload")
    config.add_view(upload, route_name="upload")
    config.add_route("show", "/show")
    config.add_view(show, route_name="show")
    return Client(wrap(config.make_wsgi_app()))


def test_pyramid_tm_abort_removes_the_uploaded_file(
    db: sessionmaker[Session],
    engine: Engine,
    http_store: HttpExposedFileSystemStore,
    stored_files: Callable[[HttpExposedFileSystemStore], list[str]],
) -> None:
    with db() as session:
        session.add(User(id=1))
        session.commit()
    client = make_tm_app(engine, http_store)
    with pytest.raises(RuntimeError, match="after the upload"):
        client.get("/upload?fail=1")
    assert stored_files(http_store) == []
    with db() as session:
        assert not session.get_one(User, 1).picture


def test_pyramid_tm_commit_keeps_the_file_and_serves_on_demand_sizes(
    db: sessionmaker[Session],
    engine: Engine,
    http_store: HttpExposedFileSystemStore,
    stored_files: Callable[[HttpExposedFileSystemStore], list[str]],
) -> None:
    with db() as session:
        session.add(User(id=1))
        session.commit()
    client = make_tm_app(engine, http_store)
    assert client.get("/upload").get_data() == b"uploaded"
    assert stored_files(http_store) == ["ia-user-picture/1/0/1.300x200.png"]
    tag, thumbnail_url = client.get("/show").get_data(as_text=True).split("|")
    assert tag.startswith(
        '<img src="http://localhost/__images__/ia-user-picture/1/0/1.300x200.png?'
    )
    thumbnail = client.get(thumbnail_url)
    assert thumbnail.status_code == 200
    info = imaging.probe(thumbnail.get_data())
    assert (info.width, info.height, info.mimetype) == (75, 50, "image/png")
