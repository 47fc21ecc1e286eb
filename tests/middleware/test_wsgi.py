"""What is particular to the WSGI front end: file_wrapper, streaming and
closing, replaced files, the host URL while a streamed response is consumed,
and the seed-compatible constructor."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper

import pytest
from flask import Flask
from werkzeug.test import Client, EnvironBuilder

from imageattach.exceptions import ConfigurationError
from imageattach.hosturl import current_host_url
from imageattach.middleware.wsgi import READ_AT_ONCE, StaticServerMiddleware
from imageattach.stores.fs import HttpExposedFileSystemStore

from .clients import wsgi_app
from .conftest import FILES

JPE = "/images/user/5/0/5.1000x1000.jpe"
BIG = "/images/big.png"
BIG_SIZE = READ_AT_ONCE + 300_000


class RecordingWrapper(FileWrapper):
    """A ``wsgi.file_wrapper`` remembering what it wrapped."""

    instances: list[RecordingWrapper] = []

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        super().__init__(filelike, blksize)
        self.filelike_ = filelike
        RecordingWrapper.instances.append(self)


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def big(root: Path) -> bytes:
    data = os.urandom(BIG_SIZE)
    (root / "big.png").write_bytes(data)
    return data


@pytest.fixture
def middleware(root: Path) -> StaticServerMiddleware:
    return StaticServerMiddleware(wsgi_app, "/images", root, block_size=65536)


def call(
    app: Callable[..., Iterable[bytes]], path: str, headers: Any = (), **environ: Any
) -> tuple[list[Any], Iterable[bytes]]:
    """Call a WSGI app directly: the ``start_response`` arguments and the
    (unconsumed) body iterable."""
    env = EnvironBuilder(path=path, headers=list(headers)).get_environ()
    env.update(environ)
    started: list[Any] = []
    body = app(env, lambda status, headers, exc_info=None: started.extend([status, headers]))
    return started, body


def test_whole_files_go_through_the_file_wrapper(middleware: StaticServerMiddleware) -> None:
    RecordingWrapper.instances.clear()
    started, body = call(middleware, JPE, **{"wsgi.file_wrapper": RecordingWrapper})
    assert started[0] == "200 OK"
    assert isinstance(body, RecordingWrapper)
    fd = body.filelike_.fileno()
    assert is_open(fd)
    assert os.lseek(fd, 0, os.SEEK_CUR) == 0  # where sendfile starts
    assert b"".join(body) == FILES["user/5/0/5.1000x1000.jpe"]
    body.close()
    assert not is_open(fd)


def test_ranges_do_not_use_the_file_wrapper(middleware: StaticServerMiddleware) -> None:
    RecordingWrapper.instances.clear()
    started, body = call(
        middleware, JPE, [("Range", "bytes=10-19")], **{"wsgi.file_wrapper": RecordingWrapper}
    )
    assert started[0] == "206 Partial Content"
    assert not RecordingWrapper.instances
    assert b"".join(body) == FILES["user/5/0/5.1000x1000.jpe"][10:20]


def test_small_bodies_are_one_bytes_item_and_the_file_is_closed(
    middleware: StaticServerMiddleware,
) -> None:
    before = open_fds()
    _started, body = call(middleware, JPE)
    assert body == [FILES["user/5/0/5.1000x1000.jpe"]]
    assert open_fds() == before


def test_large_bodies_stream_in_blocks(middleware: StaticServerMiddleware, big: bytes) -> None:
    _started, body = call(middleware, BIG)
    assert not isinstance(body, list)
    chunks = list(body)
    assert all(isinstance(chunk, bytes) and len(chunk) <= 65536 for chunk in chunks)
    assert len(chunks) == -(-BIG_SIZE // 65536)
    assert b"".join(chunks) == big


def test_a_client_going_away_closes_the_file(
    middleware: StaticServerMiddleware, big: bytes
) -> None:
    before = open_fds()
    for headers in ([], [("Range", "bytes=100-")]):
        _, body = call(middleware, BIG, headers)
        iterator = iter(body)
        next(iterator)
        assert open_fds() == before + 1
        body.close()  # type: ignore[attr-defined]  # what the server does on disconnect
        assert open_fds() == before


def test_a_replaced_file_keeps_yielding_the_old_bytes(
    middleware: StaticServerMiddleware, root: Path, big: bytes
) -> None:
    for environ in ({}, {"wsgi.file_wrapper": FileWrapper}):
        (root / "big.png").write_bytes(big)
        _, body = call(middleware, BIG, **environ)
        iterator = iter(body)
        first = next(iterator)
        replacement = root / ".tmp-replacement"
        replacement.write_bytes(b"N" * BIG_SIZE)
        os.replace(replacement, root / "big.png")
        assert first + b"".join(iterator) == big
        body.close()  # type: ignore[attr-defined]


def test_a_file_truncated_in_place_is_cut_not_padded(
    middleware: StaticServerMiddleware, root: Path, big: bytes
) -> None:
    _, body = call(middleware, BIG)
    iterator = iter(body)
    next(iterator)
    os.truncate(root / "big.png", 100_000)
    with pytest.raises(OSError, match="shrank"):
        list(iterator)
    body.close()  # type: ignore[attr-defined]


def test_head_has_no_body_even_with_a_file_wrapper(middleware: StaticServerMiddleware) -> None:
    env = EnvironBuilder(path=JPE, method="HEAD").get_environ()
    env["wsgi.file_wrapper"] = FileWrapper
    assert middleware(env, lambda *args: None) == []


def test_non_ascii_paths(root: Path) -> None:
    (root / "é.png").write_bytes(b"accent")
    client = Client(StaticServerMiddleware(wsgi_app, "/images", root))
    assert client.get("/images/%C3%A9.png").data == b"accent"


def test_the_host_url_is_current_while_a_streamed_response_is_consumed(root: Path) -> None:
    def streaming_app(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield (current_host_url() or "-").encode()
        yield (current_host_url() or "-").encode()

    middleware = StaticServerMiddleware(streaming_app, "/images", root)
    _started, body = call(middleware, "/page", HTTP_HOST="example.com:8080")
    assert current_host_url() is None
    chunks: list[bytes] = []
    # granian iterates in another thread than the one that called the app
    thread = threading.Thread(target=lambda: chunks.extend(body))
    thread.start()
    thread.join()
    assert chunks == [b"http://example.com:8080/"] * 2
    body.close()  # type: ignore[attr-defined]
    assert current_host_url() is None


def test_the_apps_file_wrapper_reaches_the_server_unwrapped(root: Path) -> None:
    def file_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [("Content-Type", "image/png")])
        return environ["wsgi.file_wrapper"](open(root / "user/5/0/5.40x30.png", "rb"))

    middleware = StaticServerMiddleware(file_app, "/images", root)
    _, body = call(middleware, "/download", **{"wsgi.file_wrapper": RecordingWrapper})
    assert isinstance(body, RecordingWrapper)
    body.close()


def test_the_seed_constructor_and_import_path_keep_working(root: Path) -> None:
    from imageattach.stores.fs import StaticServerMiddleware as FromStore

    assert FromStore is StaticServerMiddleware
    middleware = FromStore(wsgi_app, "images", str(root), 4096, True)
    response = Client(middleware).get(JPE)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert middleware.block_size == 4096


@pytest.mark.parametrize(
    "arguments",
    [
        {"block_size": 0},
        {"block_size": "big"},
        {"cors": "yes"},
        {"missing": "ignore"},
        {"no_such_option": 1},
    ],
)
def test_bad_options_are_refused(root: Path, arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        StaticServerMiddleware(wsgi_app, "/images", root, **arguments)


def test_an_async_hook_is_refused(root: Path) -> None:
    async def hook(path: str, query: str) -> None:
        return None

    with pytest.raises(ConfigurationError, match="blocking"):
        StaticServerMiddleware(wsgi_app, "/images", root, on_miss=hook)


def test_flask_with_the_store_middleware(root: Path) -> None:
    store = HttpExposedFileSystemStore(root, "images/")
    app = Flask(__name__)

    @app.route("/where")
    def where() -> str:
        return store.base_url

    app.wsgi_app = store.wsgi_middleware(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    assert client.get("/where", base_url="https://example.org/").text == (
        "https://example.org/images/"
    )
    assert client.get(JPE).data == FILES["user/5/0/5.1000x1000.jpe"]
    assert client.get("/images/nothing.png").status_code == 404
