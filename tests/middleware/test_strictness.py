"""Where RFC 9110 is stricter than Werkzeug's parsers: ``Range: bytes=-0`` is
416, ``bytes = 0-1`` is ignored, and an ``If-Match`` / ``If-None-Match``
member that is not an entity-tag never matches.  Asserted at the core,
through each front end, and against a real nginx serving the same file."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageattach.middleware.core import Request, Response, StaticServer
from imageattach.middleware.options import ServeOptions

from .conftest import FILES, KINDS, Serve, make_client

JPE = "/images/user/5/0/5.1000x1000.jpe"
DATA = FILES["user/5/0/5.1000x1000.jpe"]
SIZE = len(DATA)

#: ``(headers, expected status)``; ``{etag}`` is the server's own ETag
#: without its quotes (ours and nginx's differ), ``{size}`` the file's size.
CASES: list[tuple[dict[str, str], int]] = [
    # Range: the unit is case-insensitive, no whitespace around "=".
    ({"Range": "bytes=-0"}, 416),
    ({"Range": "bytes=-000"}, 416),
    ({"Range": "bytes= -0 "}, 416),
    ({"Range": "bytes = 0-1"}, 200),
    ({"Range": "bytes =0-1"}, 200),
    ({"Range": "bytes= 0-1"}, 206),
    ({"Range": "Bytes=0-1"}, 206),
    ({"Range": "bytes=0-1"}, 206),
    ({"Range": "bytes=-1"}, 206),
    ({"Range": "bytes=-5000"}, 206),
    ({"Range": "bytes={size}-"}, 416),
    ({"Range": "items=0-1"}, 200),
    # If-None-Match: entity-tags only, weak comparison, "*" only alone.
    ({"If-None-Match": '"{etag}"'}, 304),
    ({"If-None-Match": "{etag}"}, 200),
    ({"If-None-Match": 'W/"{etag}"'}, 304),
    ({"If-None-Match": 'w/"{etag}"'}, 200),
    ({"If-None-Match": '"{etag}'}, 200),
    ({"If-None-Match": "*"}, 304),
    ({"If-None-Match": '"other", *'}, 200),
    ({"If-None-Match": 'garbage, "{etag}"'}, 304),
    ({"If-None-Match": '{etag}, "other"'}, 200),
    # If-Match: strong comparison; a member that is not an entity-tag fails.
    ({"If-Match": '"{etag}"'}, 200),
    ({"If-Match": "{etag}"}, 412),
    ({"If-Match": 'W/"{etag}"'}, 412),
    ({"If-Match": "*"}, 200),
    ({"If-Match": '"other", *'}, 412),
    ({"If-Match": 'garbage, "{etag}"'}, 200),
]


def _ids(case: tuple[dict[str, str], int]) -> str:
    [(name, value)] = case[0].items()
    return f"{name}: {value}"


def _headers(case: dict[str, str], etag: str) -> list[tuple[str, str]]:
    return [(k, v.format(etag=etag.strip('"'), size=SIZE)) for k, v in case.items()]


# -- the core ----------------------------------------------------------------------


@pytest.fixture
def core(root: Path) -> StaticServer:
    return StaticServer("/images", root, ServeOptions())


def _decide(core: StaticServer, **headers: str) -> Response:
    response = core.decide(Request("GET", JPE, **headers))  # type: ignore[arg-type]
    assert isinstance(response, Response)
    response.close()
    return response


@pytest.mark.parametrize("value", ["bytes=-0", "bytes=-00", "BYTES=-0", "bytes=\t-0"])
def test_core_a_zero_suffix_is_unsatisfiable(core: StaticServer, value: str) -> None:
    response = _decide(core, range=value)
    assert response.status == 416
    assert ("Content-Range", f"bytes */{SIZE}") in response.headers


@pytest.mark.parametrize("value", ["bytes = 0-1", "bytes =0-1", "bytes\t=0-1", " bytes=0-1"])
def test_core_whitespace_around_the_equals_sign_ignores_range(
    core: StaticServer, value: str
) -> None:
    response = _decide(core, range=value)
    assert response.status == 200
    assert ("Content-Length", str(SIZE)) in response.headers


def test_core_whitespace_inside_the_range_set_is_werkzeugs(core: StaticServer) -> None:
    response = _decide(core, range="bytes= 2 - 3 ")
    assert response.status == 206
    assert ("Content-Range", f"bytes 2-3/{SIZE}") in response.headers


def test_core_an_unquoted_tag_does_not_match(core: StaticServer) -> None:
    etag = dict(_decide(core).headers)["ETag"]
    assert _decide(core, if_none_match=etag).status == 304
    assert _decide(core, if_none_match=etag.strip('"')).status == 200
    assert _decide(core, if_match=etag).status == 200
    assert _decide(core, if_match=etag.strip('"')).status == 412


# -- through each front end ----------------------------------------------------------


@pytest.mark.parametrize(("headers", "status"), CASES, ids=[_ids(c) for c in CASES])
def test_front_ends(serve: Serve, headers: dict[str, str], status: int) -> None:
    client = serve()
    etag = client.request("GET", JPE).header("ETag")
    assert etag is not None
    response = client.request("GET", JPE, _headers(headers, etag))
    assert response.status == status
    if status == 200:
        assert response.body == DATA
    elif status == 416:
        assert response.header("Content-Range") == f"bytes */{SIZE}"


# -- the same answers as nginx ---------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the JPEG of :data:`FILES` at ``images/...``."""
    base = tmp_path_factory.mktemp("strict")
    path = base / "site" / JPE.lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_bytes(DATA)
    return base


@pytest.fixture(scope="module")
def nginx(site: Path) -> Iterator[int]:
    """The port of a real nginx serving ``site``'s files (as in
    tests/imaging/test_docs.py)."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    temp = site / "nginx"
    temp.mkdir()
    user = "user root; " if os.geteuid() == 0 else ""
    (temp / "nginx.conf").write_text(
        f"{user}daemon off; pid {temp}/nginx.pid; error_log {temp}/error.log;\n"
        "events {}\n"
        "http {\n"
        "  types { image/jpeg jpe; }\n"
        f"  access_log off; client_body_temp_path {temp}/body;\n"
        f"  proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;\n"
        f"  uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;\n"
        f"  server {{ listen 127.0.0.1:{port}; root {site / 'site'}; }}\n"
        "}\n"
    )
    process = subprocess.Popen(
        ["nginx", "-p", str(temp), "-c", str(temp / "nginx.conf")], stderr=subprocess.PIPE
    )
    try:
        for _ in range(100):
            try:
                _nginx_get(port, [])
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail(f"nginx did not start: {(temp / 'error.log').read_text()[-2000:]}")
        yield port
    finally:
        process.terminate()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def _nginx_get(port: int, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest("GET", JPE, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


@pytest.mark.parametrize("kind", KINDS)
def test_every_case_is_answered_as_nginx_does(nginx: int, site: Path, kind: str) -> None:
    status, headers = _nginx_get(nginx, [])
    assert status == 200
    nginx_etag = headers["etag"]
    client = make_client(kind, site / "site" / "images")
    our_etag = client.request("GET", JPE).header("ETag")
    assert our_etag is not None
    differences = []
    for case, _ in CASES:
        nginx_status = _nginx_get(nginx, _headers(case, nginx_etag))[0]
        ours = client.request("GET", JPE, _headers(case, our_etag)).status
        if ours != nginx_status:
            differences.append((case, ours, nginx_status))
    assert differences == []


@pytest.mark.parametrize("value", ["bytes=abc", "bytes=5-1"])
def test_a_malformed_range_is_ignored_where_nginx_refuses_it(
    nginx: int, site: Path, value: str
) -> None:
    """RFC 9110 section 14.2 lets a server ignore an invalid range: ours does
    (200, the whole file), nginx answers 416; documented in docs/serving.md."""
    assert _nginx_get(nginx, [("Range", value)])[0] == 416
    response = make_client("asgi", site / "site" / "images").request("GET", JPE, [("Range", value)])
    assert (response.status, response.body) == (200, DATA)
