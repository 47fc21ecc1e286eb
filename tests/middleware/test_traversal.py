"""No request leaks a byte from outside the served directory: a corpus of
known traversal tricks and a property-based test over random paths, through
every front end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import FILES, Serve, make_client

SECRETS = {
    "secret.png": b"SECRET-1 outside the root",
    "root2/x.png": b"SECRET-2 in a sibling whose name starts like the root's",
    "outside/x.png": b"SECRET-3 behind a directory symlink",
}


@pytest.fixture
def secrets(root: Path) -> Path:
    """Secret files next to ``root``, and symlinks from inside it."""
    base = root.parent
    for relative, content in SECRETS.items():
        (base / relative).parent.mkdir(parents=True, exist_ok=True)
        (base / relative).write_bytes(content)
    (root / "outside_link.png").symlink_to(base / "secret.png")
    (root / "linkdir").symlink_to(base / "outside", target_is_directory=True)
    (root / "inside_link.png").symlink_to(root / "user/5/0/5.40x30.png")
    (root / "relative_out.png").symlink_to("../secret.png")
    return root


def _assert_nothing_leaked(response_status: int, body: bytes, fell_through: bool) -> None:
    for secret in SECRETS.values():
        assert secret not in body
    assert fell_through or response_status in (400, 404), response_status


CORPUS = [
    "/images/../secret.png",
    "/images/%2e%2e/secret.png",
    "/images/%2E%2E/secret.png",
    "/images/.%2e/secret.png",
    "/images/%252e%252e/secret.png",
    "/images/%252e%252e%252fsecret.png",
    "/images/..%2fsecret.png",
    "/images/..%2Fsecret.png",
    "/images/%2e%2e%2fsecret.png",
    "/images/..%5csecret.png",
    "/images/..\\secret.png",
    "/images/%5c..%5csecret.png",
    "/images/....//secret.png",
    "/images/%c0%ae%c0%ae/secret.png",
    "/images/%c0%af..%c0%afsecret.png",
    "/images/%00../secret.png",
    "/images/user/5/0/5.40x30.png%00.png",
    "/images//etc/passwd",
    "/images/%2fetc%2fpasswd",
    "/images/%2Fetc/passwd",
    "/images/C:/Windows/win.ini",
    "/images/C:%5cWindows%5cwin.ini",
    "/images/c:secret.png",
    "/images/outside_link.png",
    "/images/relative_out.png",
    "/images/linkdir/x.png",
    "/images/../root2/x.png",
    "/images/%2e%2e/root2/x.png",
    "/images/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/images/" + "../" * 50 + "etc/passwd",
    "/images/" + "%2e%2e/" * 20 + "etc/passwd",
    "/images/" + "a/" * 600 + "x.png",
    "/images/" + "x" * 5000 + ".png",
    "/images/./secret.png",
    "/images/user/../../secret.png",
    "/images/user/5/0/../../../../secret.png",
]


@pytest.mark.parametrize("missing", ["404", "fallthrough"])
@pytest.mark.parametrize("target", CORPUS)
def test_traversal_corpus_leaks_nothing(
    serve: Serve, secrets: Path, target: str, missing: str
) -> None:
    response = serve(missing=missing).request("GET", target)
    _assert_nothing_leaked(response.status, response.body, response.fell_through)
    if missing == "404":
        assert not response.fell_through


def test_symlinks_inside_the_root_are_followed(serve: Serve, secrets: Path) -> None:
    response = serve().request("GET", "/images/inside_link.png")
    assert (response.status, response.body) == (200, FILES["user/5/0/5.40x30.png"])


def test_symlinks_leaving_the_root_only_when_opted_in(serve: Serve, secrets: Path) -> None:
    client = serve(follow_symlinks=True)
    assert client.request("GET", "/images/outside_link.png").body == SECRETS["secret.png"]
    assert client.request("GET", "/images/linkdir/x.png").body == SECRETS["outside/x.png"]
    # syntactic traversal stays refused even then
    assert client.request("GET", "/images/../secret.png").status == 400


def test_a_root_that_is_itself_a_symlink(kind: str, secrets: Path, tmp_path: Path) -> None:
    link = tmp_path / "served"
    link.symlink_to(secrets, target_is_directory=True)
    client = make_client(kind, link)
    assert client.request("GET", "/images/user/5/0/5.40x30.png").status == 200
    assert client.request("GET", "/images/outside_link.png").status == 404


_TOKENS = [
    "..",
    ".",
    "%2e",
    "%2E%2e",
    "%252e%252e",
    "%2f",
    "%2F",
    "%5c",
    "\\",
    "%00",
    "",
    "C:",
    "%c0%ae",
    "%20",
    "secret.png",
    "root2",
    "x.png",
    "user",
    "5",
    "0",
    "5.40x30.png",
    "5.1000x1000.jpe",
    "outside_link.png",
    "inside_link.png",
    "linkdir",
    "outside",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=8))
def test_random_paths_serve_only_files_inside_the_root(
    serve: Serve, secrets: Path, tokens: list[str]
) -> None:
    target = "/images/" + "/".join(tokens)
    response = serve().request("GET", target)
    if response.status in (200, 206):
        inside = {
            path.read_bytes()
            for path in secrets.rglob("*")
            if path.is_file()
            and os.path.commonpath([str(secrets), os.path.realpath(path)]) == str(secrets)
        }
        assert response.body in inside
    else:
        _assert_nothing_leaked(response.status, response.body, response.fell_through)
