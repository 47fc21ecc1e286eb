"""The ``on_miss`` seam, through every front end."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from imageattach.exceptions import ConfigurationError
from imageattach.middleware.miss import FILE_READY, MissResponse, MissResult

from .conftest import Serve, make_client

THUMB = "/images/user/5/0/5.10x10.png"


class Hook:
    """A blocking hook that records its calls and makes the file when asked."""

    def __init__(self, root: Path, result: MissResult = FILE_READY, make: bool = True) -> None:
        self.root = root
        self.result = result
        self.make = make
        self.calls: list[tuple[str, str]] = []
        self.threads: set[int] = set()

    def __call__(self, relative_path: str, query_string: str) -> MissResult:
        self.calls.append((relative_path, query_string))
        self.threads.add(threading.get_ident())
        if self.make:
            (self.root / relative_path).write_bytes(b"made on demand")
        return self.result


def test_file_ready_serves_the_new_file(serve: Serve, root: Path) -> None:
    hook = Hook(root)
    client = serve(on_miss=hook)
    response = client.request("GET", THUMB + "?s=abc&_ts=1")
    assert (response.status, response.body) == (200, b"made on demand")
    assert response.header("Cache-Control") == "public, max-age=31536000, immutable"
    assert hook.calls == [("user/5/0/5.10x10.png", "s=abc&_ts=1")]
    # now a plain static hit: the hook is not called again
    assert client.request("GET", THUMB).body == b"made on demand"
    assert len(hook.calls) == 1


def test_file_ready_honours_range_and_head(serve: Serve, root: Path) -> None:
    client = serve(on_miss=Hook(root))
    response = client.request("GET", THUMB, [("Range", "bytes=0-3")])
    assert (response.status, response.body) == (206, b"made")
    other = "/images/user/5/0/5.20x20.png"
    head = client.request("HEAD", other)
    assert (head.status, head.body, head.header("Content-Length")) == (200, b"", "14")


def test_none_is_the_usual_miss(serve: Serve, root: Path) -> None:
    hook = Hook(root, result=None, make=False)
    assert serve(on_miss=hook).request("GET", THUMB).status == 404
    assert serve(on_miss=hook, missing="fallthrough").request("GET", THUMB).fell_through
    assert len(hook.calls) == 2


def test_a_miss_response_is_sent_with_cors_and_its_headers(serve: Serve, root: Path) -> None:
    busy = MissResponse(503, "busy, retry", (("Retry-After", "5"),))
    client = serve(on_miss=Hook(root, result=busy, make=False), cors=True)
    response = client.request("GET", THUMB)
    assert (response.status, response.body) == (503, b"busy, retry")
    assert response.header("Retry-After") == "5"
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert response.header("Content-Type") == "text/plain; charset=utf-8"


def test_file_ready_without_a_file_is_404(serve: Serve, root: Path) -> None:
    assert serve(on_miss=Hook(root, make=False)).request("GET", THUMB).status == 404


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/images/user/5/0/5.1000x1000.jpe"),  # exists
        ("GET", "/images/../x.png"),  # unsafe
        ("GET", "/images/a%2Fb.png"),  # encoded slash
        ("GET", "/images/user/5/0/x.txt"),  # not an image type
        ("GET", "/images/user/5/0/.hidden.png"),  # hidden
        ("GET", "/images/user/5/0/"),  # directory
        ("GET", "/elsewhere/x.png"),  # outside the prefix
        ("POST", THUMB),
        ("DELETE", THUMB),
    ],
)
def test_the_hook_is_only_asked_about_safe_gets_of_missing_images(
    serve: Serve, root: Path, method: str, target: str
) -> None:
    hook = Hook(root)
    serve(on_miss=hook).request(method, target)
    assert hook.calls == []


def test_a_hook_returning_garbage_is_an_error(serve: Serve, root: Path, kind: str) -> None:
    client = serve(on_miss=lambda path, query: "yes")
    with pytest.raises(TypeError, match="FILE_READY"):
        client.request("GET", THUMB)


@pytest.mark.parametrize("front_end", ["asgi", "asgi-pathsend"])
def test_asgi_runs_a_blocking_hook_in_a_worker_thread(root: Path, front_end: str) -> None:
    hook = Hook(root)
    client = make_client(front_end, root, on_miss=hook)
    response = client.request("GET", THUMB)
    assert response.body == b"made on demand"
    assert hook.threads and threading.get_ident() not in hook.threads


def test_asgi_awaits_a_coroutine_hook(root: Path) -> None:
    calls: list[tuple[str, str]] = []

    async def hook(relative_path: str, query_string: str) -> MissResult:
        calls.append((relative_path, query_string))
        (root / relative_path).write_bytes(b"async")
        return FILE_READY

    response = make_client("asgi", root, on_miss=hook).request("GET", THUMB + "?q=1")
    assert response.body == b"async"
    assert calls == [("user/5/0/5.10x10.png", "q=1")]


@pytest.mark.parametrize(
    "arguments",
    [
        {"status": 200},
        {"status": 302},
        {"status": 600},
        {"status": True},
        {"status": 503, "headers": [("Retry-After", "1\r\nSet-Cookie: x=1")]},
        {"status": 503, "headers": [("Bad Name", "1")]},
    ],
)
def test_miss_response_is_validated(arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        MissResponse(**arguments)
