"""What is particular to the ASGI front end: pathsend, chunked reads off the
event loop, disconnects, replaced files, pass-through of other scopes and of
the wrapped app's messages."""

from __future__ import annotations

import os
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from imageattach.exceptions import ConfigurationError
from imageattach.middleware import asgi as asgi_module
from imageattach.middleware import core as core_module
from imageattach.middleware.asgi import MIN_CHUNK_SIZE, StaticFilesMiddleware
from imageattach.stores.fs import HttpExposedFileSystemStore

from .clients import ASGIClient, asgi_app
from .conftest import FILES

JPE = "/images/user/5/0/5.1000x1000.jpe"
BIG = "/images/big.png"
CHUNK = MIN_CHUNK_SIZE
BIG_SIZE = 5 * CHUNK + 1234


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def big(root: Path) -> bytes:
    data = os.urandom(BIG_SIZE)
    (root / "big.png").write_bytes(data)
    return data


def client(root: Path, *, pathsend: bool = False, **options: Any) -> ASGIClient:
    options.setdefault("chunk_size", CHUNK)
    return ASGIClient(
        StaticFilesMiddleware(asgi_app, "/images", root, **options), pathsend=pathsend
    )


def test_pathsend_for_whole_files_when_the_server_offers_it(root: Path) -> None:
    response = client(root, pathsend=True).request("GET", JPE)
    assert response.body_via == "pathsend"
    assert response.messages[1]["path"] == str((root / JPE[8:]).resolve())
    assert response.body == FILES["user/5/0/5.1000x1000.jpe"]


@pytest.mark.parametrize(
    ("method", "headers", "options"),
    [
        ("GET", [("Range", "bytes=1-2")], {}),
        ("HEAD", [], {}),
        ("GET", [], {"pathsend": False}),
    ],
)
def test_no_pathsend_for_ranges_head_or_when_disabled(
    root: Path, method: str, headers: list[tuple[str, str]], options: dict[str, Any]
) -> None:
    pathsend = options.pop("pathsend", True)
    middleware = StaticFilesMiddleware(asgi_app, "/images", root, pathsend=pathsend)
    response = ASGIClient(middleware, pathsend=True).request(method, JPE, headers)
    assert response.body_via == "body"


def test_large_bodies_stream_in_chunks(root: Path, big: bytes) -> None:
    response = client(root).request("GET", BIG)
    bodies = response.messages[1:]
    sizes = [len(message["body"]) for message in bodies]
    assert sizes == [CHUNK] * 5 + [1234]
    assert [message.get("more_body", False) for message in bodies] == [True] * 5 + [False]
    assert response.body == big


def test_small_bodies_are_one_message(root: Path) -> None:
    response = client(root).request("GET", JPE)
    assert len(response.messages) == 2
    assert response.messages[1].get("more_body", False) is False


def test_reads_happen_off_the_event_loop(
    root: Path, big: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[int] = set()
    original = asgi_module.read_at

    def recording(fd: int, length: int, offset: int) -> bytes:
        threads.add(threading.get_ident())
        return original(fd, length, offset)

    monkeypatch.setattr(asgi_module, "read_at", recording)
    c = client(root)

    async def main() -> int:
        await c.arequest("GET", BIG)
        await c.arequest("GET", JPE)
        return threading.get_ident()

    loop_thread = anyio.run(main)
    assert threads and loop_thread not in threads


async def _disconnecting_request(
    middleware: StaticFilesMiddleware, *, raise_on_send: bool
) -> list[MutableMapping[str, Any]]:
    """GET the big file; the client disconnects after the first body chunk."""
    scope = ASGIClient(middleware).scope("GET", BIG)
    gone = anyio.Event()
    messages: list[MutableMapping[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b""}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if gone.is_set() and raise_on_send:
            raise OSError("client disconnected")
        messages.append(message)
        if message["type"] == "http.response.body":
            gone.set()
            await anyio.sleep(0.01)  # the server notices the disconnect

    with anyio.fail_after(10):
        await middleware(scope, receive, send)
    return messages


@pytest.mark.parametrize("raise_on_send", [False, True])
def test_streaming_stops_when_the_client_disconnects(
    root: Path, big: bytes, raise_on_send: bool
) -> None:
    middleware = StaticFilesMiddleware(asgi_app, "/images", root, chunk_size=CHUNK)
    before = open_fds()
    messages = anyio.run(lambda: _disconnecting_request(middleware, raise_on_send=raise_on_send))
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert 1 <= len(bodies) < 6
    assert open_fds() == before


def test_a_replaced_file_keeps_streaming_the_old_bytes(root: Path, big: bytes) -> None:
    replaced = False

    def replace_after_first_chunk(message: MutableMapping[str, Any]) -> None:
        nonlocal replaced
        if message["type"] == "http.response.body" and not replaced:
            replaced = True
            temp = root / ".tmp-new"
            temp.write_bytes(b"N" * BIG_SIZE)
            os.replace(temp, root / "big.png")

    c = client(root)
    response = anyio.run(lambda: c.arequest("GET", BIG, on_message=replace_after_first_chunk))
    assert replaced
    assert response.body == big


def test_no_pathsend_for_a_file_replaced_since_it_was_opened(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server would open the new file by path: the old one is streamed."""
    original = core_module.open_file

    def open_then_replace(path: str, confine_to: str | None) -> Any:
        opened = original(path, confine_to)
        os.replace(root / "user/5/0/5.40x30.png", path)  # right after our open
        opened.real_path = os.readlink(f"/proc/self/fd/{opened.fd}")
        return opened

    monkeypatch.setattr(core_module, "open_file", open_then_replace)
    response = client(root, pathsend=True).request("GET", JPE)
    assert response.body_via == "body"
    assert response.body == FILES["user/5/0/5.1000x1000.jpe"]


def test_no_pathsend_for_a_file_unlinked_since_it_was_opened(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen by ``fstat`` (no link left), whatever the real path says."""
    original = core_module.open_file

    def open_then_replace(path: str, confine_to: str | None) -> Any:
        opened = original(path, confine_to)
        os.replace(root / "user/5/0/5.40x30.png", path)
        opened.stat = os.fstat(opened.fd)
        opened.real_path = path
        return opened

    monkeypatch.setattr(core_module, "open_file", open_then_replace)
    response = client(root, pathsend=True).request("GET", JPE)
    assert response.body_via == "body"
    assert response.body == FILES["user/5/0/5.1000x1000.jpe"]


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
def test_other_scopes_pass_through_untouched(root: Path, scope_type: str) -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.extend([scope, receive, send])

    middleware = StaticFilesMiddleware(inner, "/images", root)
    scope = {"type": scope_type, "path": "/images/user/5/0/5.40x30.png", "headers": []}

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        return None

    anyio.run(middleware, scope, receive, send)
    assert seen == [scope, receive, send]
    assert scope == {"type": scope_type, "path": "/images/user/5/0/5.40x30.png", "headers": []}


def test_the_apps_pathsend_messages_pass_through(root: Path) -> None:
    target = str(root / "user/5/0/5.40x30.png")

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": target})

    response = ASGIClient(StaticFilesMiddleware(inner, "/images", root), pathsend=True).request(
        "GET", "/download"
    )
    assert response.messages[1] == {"type": "http.response.pathsend", "path": target}
    assert response.body == FILES["user/5/0/5.40x30.png"]


def test_the_root_path_is_stripped_only_at_a_segment_boundary(root: Path) -> None:
    c = ASGIClient(StaticFilesMiddleware(asgi_app, "/images", root), root_path="/app")
    scope = c.scope("GET", "/images/user/5/0/5.40x30.png")
    scope["path"] = "/application/images/user/5/0/5.40x30.png"
    scope["root_path"] = "/app"
    response = anyio.run(lambda: c.arequest("GET", "", scope=scope))
    assert response.fell_through


def test_a_chunk_size_below_64_kib_is_refused(root: Path) -> None:
    with pytest.raises(ConfigurationError, match="chunk_size"):
        StaticFilesMiddleware(asgi_app, "/images", root, chunk_size=8192)


def test_starlette_with_the_store_middleware(root: Path) -> None:
    store = HttpExposedFileSystemStore(root, "images", cors=["https://a.example"])

    async def where(request: Request) -> PlainTextResponse:
        return PlainTextResponse(store.base_url)

    app = store.asgi_middleware(Starlette(routes=[Route("/where", where)]))
    c = ASGIClient(app, root_path="/site")
    assert c.request("GET", "/where").body == b"http://testserver/site/images/"
    served = c.request("GET", JPE, [("Origin", "https://a.example")])
    assert served.body == FILES["user/5/0/5.1000x1000.jpe"]
    assert served.header("Access-Control-Allow-Origin") == "https://a.example"
