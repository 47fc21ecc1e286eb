"""The Flask extension: store context per request, per app context, per app."""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import flask
import images
import pytest
from adapter_threads import TwoRequests
from entity_models import User
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session, sessionmaker

from imageattach import imaging
from imageattach.adapters.flask import ImageAttach, get_state
from imageattach.context import current_store
from imageattach.exceptions import ConfigurationError
from imageattach.store import Store
from imageattach.stores.fs import FileSystemStore, HttpExposedFileSystemStore

Current = Callable[[], Store | None]
SECRET_KEY = "flask-tests-secret-key-0123456789"


def make_app(store: Store, current: Current, seen: list[Store | None]) -> flask.Flask:
    app = flask.Flask(__name__)
    ImageAttach(app, store=store)

    @app.get("/")
    def index() -> str:
        seen.append(current())
        return "ok"

    @app.get("/fail")
    def fail() -> str:
        seen.append(current())
        raise ZeroDivisionError

    @app.get("/stream")
    def stream() -> flask.Response:
        def chunks() -> Iterator[str]:
            try:
                for i in range(3):
                    seen.append(current())
                    yield f"{i},"
            finally:
                seen.append(current())

        return flask.Response(chunks())

    return app


def test_view_sees_store_and_context_is_popped_after(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    app = make_app(store, current, seen)
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert seen == [store]
    assert current() is None


@pytest.mark.parametrize("testing", [True, False])
def test_context_is_popped_when_the_view_raises(
    store: Store, current: Current, testing: bool
) -> None:
    seen: list[Store | None] = []
    app = make_app(store, current, seen)
    app.testing = testing
    client = app.test_client()
    if testing:  # the exception propagates out of the WSGI app
        with pytest.raises(ZeroDivisionError):
            client.get("/fail")
    else:
        assert client.get("/fail").status_code == 500
    assert seen == [store]
    assert current() is None


def test_streamed_response_iterates_and_closes_in_context(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    app = make_app(store, current, seen)
    response = app.test_client().get("/stream", buffered=False)
    assert current() is None
    assert response.get_data() == b"0,1,2,"
    response.close()
    assert seen == [store] * 4  # three chunks and the generator's finally
    assert current() is None


def test_async_view_sees_store(store: Store, current: Current) -> None:
    app = flask.Flask(__name__)
    ImageAttach(app, store=store)
    seen: list[Store | None] = []

    @app.get("/")
    async def index() -> str:
        seen.append(current())
        return "ok"

    assert app.test_client().get("/").get_data() == b"ok"
    assert seen == [store]
    assert current() is None


def test_concurrent_requests_in_threads_see_their_own_store(
    store: Store, other_store: Store, two_requests: TwoRequests
) -> None:
    def client_for(name: str, app_store: Store) -> FlaskClient:
        app = flask.Flask(name)
        ImageAttach(app, store=app_store)
        app.add_url_rule("/", "index", lambda: two_requests.view(name))
        return app.test_client()

    bodies = two_requests.run({"a": client_for("a", store), "b": client_for("b", other_store)})
    assert bodies == {"a": b"a", "b": b"b"}
    assert two_requests.seen == {"a": [store, store], "b": [other_store, other_store]}


def test_app_context_pushes_the_store(store: Store, current: Current) -> None:
    app = flask.Flask(__name__)
    ImageAttach(app, store=store)
    with app.app_context():
        assert current() is store
        with app.test_request_context("/"):
            assert current() is store
        assert current() is store
    assert current() is None


def test_template_renders_with_the_current_store(store: Store) -> None:
    app = flask.Flask(__name__)
    ImageAttach(app, store=store)

    @app.get("/")
    def index() -> str:
        return flask.render_template_string("{{ store.base_url }}", store=current_store)

    assert app.test_client().get("/").get_data() == b"http://a.example/"


def test_factory_pattern_one_extension_many_apps(
    store: Store, other_store: Store, tmp_path: Path
) -> None:
    extension = ImageAttach()
    apps = [flask.Flask("one"), flask.Flask("two")]
    for app, app_store in zip(apps, (store, other_store), strict=True):
        app.config["IMAGEATTACH_STORE"] = app_store
        extension.init_app(app)
    for app, app_store in zip(apps, (store, other_store), strict=True):
        assert get_state(app).store is app_store
        with app.app_context():
            assert extension.store is app_store


def test_init_app_twice_is_refused(store: Store) -> None:
    app = flask.Flask(__name__)
    ImageAttach(app, store=store)
    with pytest.raises(ConfigurationError, match="already initialised"):
        ImageAttach(app, store=store)


def test_uninitialised_app_says_how_to_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"init_app"):
        get_state(flask.Flask(__name__))


def test_store_config_must_be_a_store() -> None:
    app = flask.Flask(__name__)
    app.config["IMAGEATTACH_STORE"] = "not a store"
    with pytest.raises(ConfigurationError, match="IMAGEATTACH_STORE"):
        ImageAttach(app)


def test_unknown_config_key_is_refused(tmp_path: Path) -> None:
    app = flask.Flask(__name__)
    app.config["IMAGEATTACH_STORE_PAHT"] = str(tmp_path)
    with pytest.raises(ConfigurationError, match="IMAGEATTACH_STORE_PAHT"):
        ImageAttach(app)


def test_store_argument_is_checked() -> None:
    with pytest.raises(TypeError):
        ImageAttach(store=FileSystemStore)  # type: ignore[arg-type]


def test_store_files_are_served_before_the_app_runs(http_store: HttpExposedFileSystemStore) -> None:
    app = flask.Flask(__name__)
    ImageAttach(app, store=http_store)
    requests: list[str] = []
    app.before_request(lambda: requests.append(flask.request.path) and None)
    http_store.put_file(io.BytesIO(b"\xff\xd8jpeg"), "thing", 7, 10, 10, "image/jpeg", False)

    response = app.test_client().get("/__images__/thing/7/0/7.10x10.jpe")
    assert (response.status_code, response.data) == (200, b"\xff\xd8jpeg")
    assert response.headers["Content-Type"] == "image/jpeg"
    assert requests == []


def test_config_builds_the_store(tmp_path: Path) -> None:
    app = flask.Flask(__name__)
    app.config.update(
        IMAGEATTACH_STORE_PATH=str(tmp_path),
        IMAGEATTACH_PREFIX="media",
        IMAGEATTACH_SECRET_KEY=SECRET_KEY,
        IMAGEATTACH_CACHE_CONTROL="public, max-age=60",
        IMAGEATTACH_CORS=True,
    )
    extension = ImageAttach(app)
    with app.app_context():
        store = extension.store
    assert isinstance(store, HttpExposedFileSystemStore)
    assert (store.path, store.prefix) == (str(tmp_path), "media")
    store.put_file(io.BytesIO(b"png"), "thing", 1, 1, 1, "image/png", False)
    response = app.test_client().get("/media/thing/1/0/1.1x1.png")
    assert response.data == b"png"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_store_defaults_to_the_instance_folder(tmp_path: Path) -> None:
    app = flask.Flask(__name__, instance_path=str(tmp_path / "instance"))
    ImageAttach(app)
    store = get_state(app).store
    assert isinstance(store, HttpExposedFileSystemStore)
    assert store.path == str(tmp_path / "instance" / "images")


def make_sqlalchemy_app(
    database_url: str, store: HttpExposedFileSystemStore
) -> tuple[flask.Flask, SQLAlchemy]:
    app = flask.Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    fsa = SQLAlchemy(app)
    ImageAttach(app, store=store)

    @app.post("/users/<int:user_id>/picture")
    def upload(user_id: int) -> flask.Response:
        user = fsa.session.get_one(User, user_id)
        user.picture.from_file(flask.request.files["picture"].stream)
        fsa.session.flush()  # the file is written now
        if flask.request.form.get("fail"):
            raise RuntimeError("something after the upload failed")
        fsa.session.commit()
        return flask.redirect(f"/users/{user_id}")

    @app.get("/users/<int:user_id>")
    def show(user_id: int) -> str:
        user = fsa.session.get_one(User, user_id)
        return flask.render_template_string(
            "{{ user.picture }}|{{ user.picture.locate(width=150) }}", user=user
        )

    return app, fsa


def test_flask_sqlalchemy_upload_rolled_back_leaves_no_file(
    db: sessionmaker[Session],
    database_url: str,
    http_store: HttpExposedFileSystemStore,
    stored_files: Callable[[HttpExposedFileSystemStore], list[str]],
) -> None:
    with db() as session:
        session.add(User(id=1))
        session.commit()
    app, fsa = make_sqlalchemy_app(database_url, http_store)
    client = app.test_client()
    data = {"picture": (io.BytesIO(images.jpeg(400, 300)), "a.jpg"), "fail": "1"}
    assert client.post("/users/1/picture", data=data).status_code == 500
    assert stored_files(http_store) == []
    with db() as session:
        assert not session.get_one(User, 1).picture
    with app.app_context():
        fsa.engine.dispose()


def test_flask_sqlalchemy_upload_committed_renders_and_resizes_on_demand(
    db: sessionmaker[Session],
    database_url: str,
    http_store: HttpExposedFileSystemStore,
    stored_files: Callable[[HttpExposedFileSystemStore], list[str]],
) -> None:
    with db() as session:
        session.add(User(id=1))
        session.commit()
    app, fsa = make_sqlalchemy_app(database_url, http_store)
    client = app.test_client()
    data = {"picture": (io.BytesIO(images.jpeg(400, 300)), "a.jpg")}
    assert client.post("/users/1/picture", data=data).status_code == 302
    assert stored_files(http_store) == ["ia-user-picture/1/0/1.400x300.jpe"]

    page = client.get("/users/1").get_data(as_text=True)
    tag, thumbnail_url = page.split("|")
    assert tag.startswith(
        '<img src="http://localhost/__images__/ia-user-picture/1/0/1.400x300.jpe?'
    )
    assert tag.endswith('" width="400" height="300">')
    assert thumbnail_url.startswith("http://localhost/__images__/")

    original = client.get(html.unescape(tag.split('"')[1]))
    assert original.status_code == 200
    assert (imaging.probe(original.data).width, imaging.probe(original.data).height) == (400, 300)
    thumbnail = client.get(html.unescape(thumbnail_url))
    assert thumbnail.status_code == 200
    info = imaging.probe(thumbnail.data)
    assert (info.width, info.height, info.mimetype) == (150, 113, "image/jpeg")
    assert "ia-user-picture/1/0/1.150x113.jpe" in stored_files(http_store)
    with app.app_context():
        fsa.engine.dispose()
