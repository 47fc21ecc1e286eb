"""Path safety: the syntactic check of request paths, and the real-path check."""

from __future__ import annotations

import os
import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageattach.middleware.paths import MAX_PATH_LENGTH, PathRejected, is_inside, relative_path


@pytest.mark.parametrize("path", ["a.png", "user/5/0/5.40x30.jpe", "é/ü.png", "a b/c%2e.png"])
def test_safe_paths_are_returned_unchanged(path: str) -> None:
    assert relative_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "../x.png",
        "a/../../x.png",
        "a/..",
        "./a.png",
        "a/./b.png",
        "a//b.png",
        "/etc/passwd",
        "a\\..\\x.png",
        "..\\x.png",
        "a\x00.png",
        "C:/x.png",
        "c:x.png",
        "a/C:/x.png",
        "a.png:stream",
        "x" * (MAX_PATH_LENGTH + 1),
    ],
)
def test_unsafe_paths_are_400(path: str) -> None:
    with pytest.raises(PathRejected) as raised:
        relative_path(path)
    assert raised.value.status == 400


@pytest.mark.parametrize("path", ["", "a/", "a/b/", ".hidden.png", "a/.tmp-123", "a/.git/x.png"])
def test_directories_and_hidden_files_are_404(path: str) -> None:
    with pytest.raises(PathRejected) as raised:
        relative_path(path)
    assert raised.value.status == 404


@pytest.mark.parametrize(
    "raw_path",
    [
        "/images/a%2Fb.png",
        "/images/a%2fb.png",
        "/images/a%5Cb.png",
        "/images/a%00.png",
        "http://host/images/a%2F..%2Fb.png",
    ],
)
def test_encoded_separators_in_the_raw_path_are_400(raw_path: str) -> None:
    with pytest.raises(PathRejected) as raised:
        relative_path("a/b.png", raw_path)
    assert raised.value.status == 400


def test_encoded_separators_in_the_query_are_fine() -> None:
    assert relative_path("a/b.png", "/images/a/b.png?next=%2Fhome") == "a/b.png"


@pytest.mark.parametrize(
    ("root", "path", "inside"),
    [
        ("/srv/img", "/srv/img/a.png", True),
        ("/srv/img", "/srv/img", True),
        ("/srv/img", "/srv/img2/a.png", False),  # commonprefix would say yes
        ("/srv/img", "/srv/im", False),
        ("/srv/img", "/srv/a.png", False),
        ("/", "/etc/passwd", True),
    ],
)
def test_is_inside(root: str, path: str, inside: bool) -> None:
    assert is_inside(root, path) is inside


_segment = st.sampled_from(["srv", "img", "img2", "im", "a", "a.png", "..", "x"])


@given(st.lists(_segment, min_size=0, max_size=4), st.lists(_segment, min_size=0, max_size=6))
def test_is_inside_agrees_with_commonpath(root_parts: list[str], path_parts: list[str]) -> None:
    root = posixpath.normpath("/" + "/".join(root_parts))
    path = posixpath.normpath("/" + "/".join(path_parts))
    assert is_inside(root, path) == (os.path.commonpath([root, path]) == root)
