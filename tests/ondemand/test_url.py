"""The resize URL format: one key, one URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageattach.ondemand.url import build_query, is_resize_query, make_request, parse
from imageattach.stores.fs import FileSystemStore


@pytest.fixture
def store(tmp_path: Path) -> FileSystemStore:
    return FileSystemStore(tmp_path, "http://example.com/")


def test_round_trip(store: FileSystemStore) -> None:
    request = make_request(
        store,
        object_type="user-picture",
        object_id=1234,
        width=150,
        height=113,
        source_width=640,
        source_height=480,
        source_mimetype="image/jpeg",
        tag="20240102030405000006",
    )
    assert request.path == "user-picture/234/1/1234.150x113.jpe"
    query = build_query(request, "c2lnbmF0dXJl")
    assert query == "_ts=20240102030405000006&src=640x480.jpe&sig=c2lnbmF0dXJl"
    assert parse(store, request.path, query) == (request, "c2lnbmF0dXJl")
    assert is_resize_query(query)


def test_vector_original_gives_png(store: FileSystemStore) -> None:
    request = make_request(
        store,
        object_type="logo",
        object_id=7,
        width=100,
        height=50,
        source_width=200,
        source_height=100,
        source_mimetype="image/svg+xml",
        tag="",
    )
    assert request.path == "logo/7/0/7.100x50.png"
    assert build_query(request, None) == "src=200x100.svg"
    assert parse(store, request.path, "src=200x100.svg") == (request, None)


PATH = "user-picture/234/1/1234.150x113.jpe"
QUERY = "_ts=20240102030405000006&src=640x480.jpe&sig=abc"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("user-picture/234/1/01234.150x113.jpe", QUERY),  # leading zero
        ("user-picture/233/1/1234.150x113.jpe", QUERY),  # wrong id % 1000
        ("user-picture/234/0/1234.150x113.jpe", QUERY),  # wrong id // 1000
        ("user-picture/234/1/1234.150x113.png", QUERY),  # not the type of a JPEG's thumbnail
        ("user-picture/234/1/1234.150x113.jpeg", QUERY),  # not the store's extension
        ("user-picture/234/1/1234.0150x113.jpe", QUERY),
        ("user-picture/234/1/1234.150x113.jpe/x", QUERY),
        ("234/1/1234.150x113.jpe", QUERY),
        (".imageattach-locks/234/1/1234.150x113.jpe", QUERY),
        ("/234/1/1234.150x113.jpe", QUERY),
        ("user-picture/234/1/1234.\u0661\u0665\u0660x113.jpe", QUERY),  # non-ASCII digits
        (PATH, QUERY + "&sig=abc"),  # duplicate
        (PATH, QUERY + "&utm=1"),  # unknown parameter
        (PATH, "_ts=20240102030405000006&sig=abc"),  # no source
        (PATH, "_ts=x&src=640x480.jpe&sig=abc"),
        (PATH, "src=640x480.xyz&sig=abc"),  # unknown extension
        (PATH, "src=0640x480.jpe&sig=abc"),
        (PATH, "src=640x480.jpe&sig=a+b"),
        (PATH, "src=640x480x1.jpe"),
        (PATH, "src=640x480.jpe&sig=" + "a" * 2000),
        ("user-picture/234/1/1234." + "9" * 5000 + "x113.jpe", QUERY),
    ],
)
def test_non_canonical_urls_refused(store: FileSystemStore, path: str, query: str) -> None:
    assert parse(store, path, query) is None


def test_canonical_url_accepted(store: FileSystemStore) -> None:
    # The control for the cases above.
    assert parse(store, PATH, QUERY) is not None


@pytest.mark.parametrize("query", ["", "_ts=20240102030405000006", "a=b", "%%%"])
def test_other_queries_are_not_resize_queries(query: str) -> None:
    assert not is_resize_query(query)
