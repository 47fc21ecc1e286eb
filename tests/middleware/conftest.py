"""Fixtures: a served directory with a few files, and ``serve``, which builds
the middleware of one front end (tests using it run once per front end)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

from imageattach.middleware.asgi import StaticFilesMiddleware
from imageattach.middleware.wsgi import StaticServerMiddleware

from .clients import ASGIClient, Result, WSGIClient, asgi_app, wsgi_app

PREFIX = "/images"

#: Relative path → content of the files in the served directory.
FILES: dict[str, bytes] = {
    "user/5/0/5.1000x1000.jpe": bytes(range(250)) * 4,
    "user/5/0/5.40x30.png": b"\x89PNG\r\n\x1a\n" + b"p" * 92,
    "user/5/0/5.20x10.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "user/5/0/empty.gif": b"",
    "user/5/0/notes.txt": b"not an image type",
    "user/5/0/.tmp-abcdef": b"a partial file being written",
}


class Client(Protocol):
    def request(self, method: str, target: str, headers: Any = ()) -> Result: ...


Serve = Callable[..., Client]

KINDS = ["wsgi", "wsgi-file-wrapper", "asgi", "asgi-pathsend"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The served directory, filled with :data:`FILES`."""
    root = tmp_path / "root"
    for relative, content in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    os.utime(root / "user/5/0/5.1000x1000.jpe", ns=(1_700_000_000_123_456_789,) * 2)
    return root


def make_client(kind: str, root: Path, *, prefix: str = PREFIX, **options: Any) -> Client:
    """A client of the ``kind`` front end serving ``root`` under ``prefix``."""
    root_path = options.pop("root_path", "")
    if kind.startswith("wsgi"):
        middleware = StaticServerMiddleware(wsgi_app, prefix, root, **options)
        file_wrapper = kind == "wsgi-file-wrapper"
        return WSGIClient(middleware, file_wrapper=file_wrapper, script_name=root_path)
    asgi = StaticFilesMiddleware(asgi_app, prefix, root, **options)
    return ASGIClient(asgi, pathsend=kind == "asgi-pathsend", root_path=root_path)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """The front end under test."""
    return str(request.param)


@pytest.fixture
def serve(kind: str, root: Path) -> Serve:
    """``serve(**options)``: a client of the front end under test."""

    def make(**options: Any) -> Client:
        return make_client(kind, root, **options)

    return make
