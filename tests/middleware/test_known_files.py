"""The by-path answers (``StaticServer.decide(..., by_path=True)``, used by
the ASGI front end under a server with ``pathsend``): a file answered before
is checked with one ``stat`` instead of an open, and every change to it is
seen: a replaced file (also of the same size and mtime), a file rewritten in
place, a deleted one, one added later, a symlink or directory put in its
place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from imageattach.middleware.core import Miss, Request, Response, StaticServer
from imageattach.middleware.files import FileBody
from imageattach.middleware.options import ServeOptions

from .conftest import FILES, make_client

NAME = "user/5/0/5.1000x1000.jpe"
JPE = "/images/" + NAME
DATA = FILES[NAME]
MTIME_NS = 1_700_000_000_123_456_789


@pytest.fixture
def core(root: Path) -> StaticServer:
    return StaticServer("/images", root, ServeOptions())


@dataclass
class Answer:
    """What a test looks at of a :class:`Response` (its descriptor closed)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | FileBody
    #: Whether it was answered from a ``stat`` alone (no descriptor opened).
    by_path: bool


def _get(core: StaticServer, path: str = JPE, method: str = "GET", **fields: str) -> Answer:
    decided = core.decide(Request(method, path, **fields), by_path=True)  # type: ignore[arg-type]
    assert isinstance(decided, Response)
    by_path = type(decided.body) is FileBody and decided.body.fd == -1
    decided.close()
    return Answer(decided.status, decided.headers, decided.body, by_path)


def _header(response: Answer, name: str) -> str:
    [value] = [v for k, v in response.headers if k == name]
    return value


def _replace(root: Path, data: bytes, mtime_ns: int | None = None) -> None:
    """``os.replace`` the JPEG with a new file (a new inode)."""
    temp = root / "user/5/0/.tmp-new"
    temp.write_bytes(data)
    if mtime_ns is not None:
        os.utime(temp, ns=(mtime_ns, mtime_ns))
    os.replace(temp, root / NAME)


def test_a_file_answered_before_is_answered_by_path(core: StaticServer, root: Path) -> None:
    first = _get(core)
    second = _get(core)
    assert not first.by_path
    assert second.by_path
    assert second.status == 200
    assert second.headers == first.headers
    assert isinstance(second.body, FileBody)
    assert (second.body.path, second.body.whole) == (str(root / NAME), True)
    assert _header(second, "Content-Length") == str(len(DATA))


def test_without_by_path_nothing_is_remembered(core: StaticServer) -> None:
    for _ in range(2):
        response = core.decide(Request("GET", JPE))
        assert isinstance(response, Response)
        assert isinstance(response.body, FileBody)
        assert response.body.fd >= 0
        response.close()


def test_a_replaced_file_gets_its_new_headers(core: StaticServer, root: Path) -> None:
    _get(core)
    before = _get(core)
    _replace(root, b"a new picture")
    after = _get(core)
    assert not after.by_path
    assert _header(after, "Content-Length") == "13"
    assert _header(after, "ETag") != _header(before, "ETag")
    assert _get(core).by_path


def test_a_replacement_of_the_same_size_and_mtime_is_looked_up_afresh(
    core: StaticServer, root: Path
) -> None:
    _get(core)
    assert _get(core).by_path
    _replace(root, bytes(reversed(DATA)), MTIME_NS)  # only the inode differs
    assert (root / NAME).stat().st_mtime_ns == MTIME_NS
    assert not _get(core).by_path
    assert _get(core).by_path


def test_a_file_rewritten_in_place_is_looked_up_afresh(core: StaticServer, root: Path) -> None:
    _get(core)
    assert _get(core).by_path
    (root / NAME).write_bytes(bytes(reversed(DATA)))  # same inode and size
    os.utime(root / NAME, ns=(MTIME_NS, MTIME_NS))  # same mtime; the ctime moved
    assert not _get(core).by_path


def test_a_deleted_file_is_no_longer_served(core: StaticServer, root: Path) -> None:
    _get(core)
    assert _get(core).by_path
    (root / NAME).unlink()
    assert _get(core).status == 404
    assert _get(core).status == 404


def test_a_file_added_later_is_served(root: Path) -> None:
    core = StaticServer("/images", root, ServeOptions(on_miss=lambda path, query: None))
    path = "/images/new/1.png"
    assert isinstance(core.decide(Request("GET", path), by_path=True), Miss)
    (root / "new").mkdir()
    (root / "new/1.png").write_bytes(b"fresh")
    first, second = _get(core, path), _get(core, path)
    assert (first.status, second.status) == (200, 200)
    assert second.by_path


def test_a_symlink_put_in_its_place_is_refused(
    core: StaticServer, root: Path, tmp_path: Path
) -> None:
    _get(core)
    assert _get(core).by_path
    outside = tmp_path / "secret.jpe"  # of the same size and mtime: only the inode differs
    outside.write_bytes(bytes(reversed(DATA)))
    os.utime(outside, ns=(MTIME_NS, MTIME_NS))
    (root / NAME).unlink()
    (root / NAME).symlink_to(outside)
    assert _get(core).status == 404


def test_a_directory_put_in_its_place_is_not_served(core: StaticServer, root: Path) -> None:
    _get(core)
    (root / NAME).unlink()
    (root / NAME).mkdir()
    assert _get(core).status == 404


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"range": "bytes=0-9"}, 206),
        ({"range": "bytes=-0"}, 416),
        ({"if_none_match": "*"}, 304),
        ({"if_match": '"other"'}, 412),
        ({"if_modified_since": "Sun, 06 Dec 2099 00:00:00 GMT"}, 304),
        ({"if_unmodified_since": "Sun, 06 Dec 1999 00:00:00 GMT"}, 412),
    ],
)
def test_every_other_rule_still_applies(
    core: StaticServer, fields: dict[str, str], status: int
) -> None:
    _get(core)
    response = _get(core, **fields)
    assert response.status == status
    assert not response.by_path


def test_an_encoded_slash_is_refused_even_for_a_known_path(core: StaticServer) -> None:
    _get(core)
    raw = "/images/user%2F5/0/5.1000x1000.jpe"
    assert _get(core, raw_path=raw).status == 400


def test_head_and_versioned_urls(core: StaticServer) -> None:
    _get(core)
    head = _get(core, method="HEAD")
    assert (head.status, head.body) == (200, b"")
    versioned = _get(core, query_string="_ts=5")
    assert versioned.by_path
    assert _header(versioned, "Cache-Control") == "public, max-age=31536000, immutable"
    assert _header(_get(core), "Cache-Control") == "no-cache"


def test_other_methods_are_not_answered(core: StaticServer) -> None:
    _get(core)
    assert _get(core, method="POST").status == 405


# -- through the ASGI front end with pathsend ----------------------------------------


def test_asgi_pathsend_serves_every_state_of_the_file(root: Path, tmp_path: Path) -> None:
    client = make_client("asgi-pathsend", root)
    for _ in range(2):
        response = client.request("GET", JPE)
        assert (response.status, response.body, response.body_via) == (200, DATA, "pathsend")
    etag = response.header("ETag")

    _replace(root, b"a new picture")
    response = client.request("GET", JPE)
    assert (response.status, response.body) == (200, b"a new picture")
    assert response.header("Content-Length") == "13"
    assert response.header("ETag") != etag

    (root / NAME).unlink()
    assert client.request("GET", JPE).status == 404

    _replace(root, DATA, MTIME_NS)
    response = client.request("GET", JPE)
    assert (response.status, response.body, response.header("ETag")) == (200, DATA, etag)

    outside = tmp_path / "secret.jpe"
    outside.write_bytes(b"secret")
    (root / NAME).unlink()
    (root / NAME).symlink_to(outside)
    response = client.request("GET", JPE)
    assert response.status == 404
    assert b"secret" not in response.body


def test_asgi_without_pathsend_reads_the_descriptor(root: Path) -> None:
    client = make_client("asgi", root)
    for _ in range(2):
        response = client.request("GET", JPE)
        assert (response.status, response.body, response.body_via) == (200, DATA, "body")
