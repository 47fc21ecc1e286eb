"""Every HTTP rule of the serving core, asserted through each front end
(WSGI with and without ``wsgi.file_wrapper``, ASGI with and without
``pathsend``): the ``serve`` fixture is parametrised over them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from werkzeug.http import http_date

from imageattach.middleware.core import SVG_CSP

from .conftest import FILES, Serve

JPE = "/images/user/5/0/5.1000x1000.jpe"
DATA = FILES["user/5/0/5.1000x1000.jpe"]
SIZE = len(DATA)
MTIME_NS = 1_700_000_000_123_456_789
ETAG = f'"{SIZE:x}-{MTIME_NS:x}"'
LAST_MODIFIED = http_date(MTIME_NS // 1_000_000_000)
EARLIER = http_date(MTIME_NS // 1_000_000_000 - 3600)
LATER = http_date(MTIME_NS // 1_000_000_000 + 3600)


# -- plain GET and HEAD ----------------------------------------------------------


def test_get_serves_the_file_with_its_headers(serve: Serve) -> None:
    response = serve().request("GET", JPE)
    assert response.status == 200
    assert response.body == DATA
    assert response.header("Content-Type") == "image/jpeg"
    assert response.header("Content-Length") == str(SIZE)
    assert response.header("ETag") == ETAG
    assert response.header("Last-Modified") == LAST_MODIFIED
    assert response.header("Accept-Ranges") == "bytes"
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert response.header("Cache-Control") == "no-cache"
    assert response.header("Content-Security-Policy") is None
    assert response.header("Access-Control-Allow-Origin") is None


def test_head_has_the_headers_of_get_and_no_body(serve: Serve) -> None:
    client = serve()
    get = client.request("GET", JPE)
    head = client.request("HEAD", JPE)
    assert head.status == 200
    assert head.body == b""
    assert dict(head.headers) == dict(get.headers)


@pytest.mark.parametrize(
    ("extension", "content_type"),
    [
        (".jpe", "image/jpeg"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".png", "image/png"),
        (".gif", "image/gif"),
        (".webp", "image/webp"),
        (".avif", "image/avif"),
        (".svg", "image/svg+xml"),
        (".pdf", "application/pdf"),
        (".ico", "image/vnd.microsoft.icon"),
        (".bmp", "image/bmp"),
        (".tiff", "image/tiff"),
        (".tif", "image/tiff"),
        (".heic", "image/heic"),
        (".jxl", "image/jxl"),
    ],
)
def test_content_type_comes_from_the_fixed_table(
    serve: Serve, root: Path, extension: str, content_type: str
) -> None:
    (root / f"file{extension}").write_bytes(b"x")
    response = serve().request("GET", f"/images/file{extension}")
    assert response.status == 200
    assert response.header("Content-Type") == content_type


def test_svg_gets_a_restrictive_content_security_policy(serve: Serve) -> None:
    response = serve().request("GET", "/images/user/5/0/5.20x10.svg")
    assert response.status == 200
    assert response.header("Content-Security-Policy") == SVG_CSP
    assert "sandbox" in SVG_CSP and "default-src 'none'" in SVG_CSP
    assert response.header("X-Content-Type-Options") == "nosniff"


def test_empty_file(serve: Serve) -> None:
    response = serve().request("GET", "/images/user/5/0/empty.gif")
    assert response.status == 200
    assert response.body == b""
    assert response.header("Content-Length") == "0"


@pytest.mark.parametrize(
    "path",
    [
        "/images/user/5/0/notes.txt",  # not an image type
        "/images/user/5/0/.tmp-abcdef",  # the store's temporary file
        "/images/user/5/0/missing.png",
        "/images/user/5/0/",  # a directory
        "/images/user/5/0",  # a directory, no slash
        "/images/user/5/0.png",  # nothing there
        "/images/",
    ],
)
def test_what_is_not_served_is_404(serve: Serve, path: str) -> None:
    response = serve().request("GET", path)
    assert response.status == 404
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert b"not an image" not in response.body and b"partial" not in response.body


def test_a_directory_named_like_an_image_is_not_served(serve: Serve, root: Path) -> None:
    (root / "dir.png").mkdir()
    assert serve().request("GET", "/images/dir.png").status == 404


def test_files_added_after_start_up_are_served(serve: Serve, root: Path) -> None:
    client = serve()
    assert client.request("GET", "/images/new/1.png").status == 404
    (root / "new").mkdir()
    (root / "new/1.png").write_bytes(b"fresh")
    response = client.request("GET", "/images/new/1.png")
    assert (response.status, response.body) == (200, b"fresh")


def test_replaced_file_is_served_with_its_new_validators(serve: Serve, root: Path) -> None:
    client = serve()
    before = client.request("GET", JPE)
    temp = root / "user/5/0/.tmp-new"
    temp.write_bytes(b"replacement")
    os.replace(temp, root / "user/5/0/5.1000x1000.jpe")
    after = client.request("GET", JPE)
    assert after.body == b"replacement"
    assert after.header("ETag") != before.header("ETag")


# -- paths outside the prefix, missing files -------------------------------------


@pytest.mark.parametrize("path", ["/", "/index", "/images", "/imagesx/a.png", "/other/a.png"])
def test_paths_outside_the_prefix_fall_through(serve: Serve, path: str) -> None:
    response = serve().request("GET", path)
    assert response.fell_through
    assert response.status == 200


def test_missing_falls_through_when_configured(serve: Serve) -> None:
    client = serve(missing="fallthrough")
    assert client.request("GET", "/images/user/5/0/missing.png").fell_through
    assert client.request("GET", "/images/../secret.png").fell_through
    assert client.request("POST", "/images/upload").fell_through
    served = client.request("GET", JPE)
    assert not served.fell_through and served.body == DATA


def test_post_to_a_missing_path_is_404_not_405(serve: Serve) -> None:
    assert serve().request("POST", "/images/user/5/0/missing.png").status == 404


# -- methods ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_on_a_file_are_405(serve: Serve, method: str) -> None:
    response = serve().request(method, JPE)
    assert response.status == 405
    assert response.header("Allow") == "GET, HEAD"


def test_405_allows_options_when_cors_is_on(serve: Serve) -> None:
    response = serve(cors=True).request("DELETE", JPE)
    assert response.status == 405
    assert response.header("Allow") == "GET, HEAD, OPTIONS"
    assert response.header("Access-Control-Allow-Origin") == "*"


def test_cors_preflight(serve: Serve) -> None:
    response = serve(cors=True).request(
        "OPTIONS",
        JPE,
        [("Origin", "https://a.example"), ("Access-Control-Request-Method", "GET")],
    )
    assert response.status == 204
    assert response.body == b""
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert "GET" in (response.header("Access-Control-Allow-Methods") or "")
    assert "Range" in (response.header("Access-Control-Allow-Headers") or "")
    assert response.header("Access-Control-Max-Age") == "86400"
    assert response.header("Content-Length") is None


def test_cors_preflight_for_a_file_not_made_yet(serve: Serve) -> None:
    headers = [("Origin", "https://a.example"), ("Access-Control-Request-Method", "GET")]
    response = serve(cors=True).request("OPTIONS", "/images/user/5/0/5.10x10.jpe", headers)
    assert response.status == 204


def test_options_without_a_preflight_header_is_not_a_preflight(serve: Serve) -> None:
    # The same rule for a file that exists and one not made yet.
    client = serve(cors=True)
    for path in (JPE, "/images/user/5/0/5.10x10.jpe"):
        response = client.request("OPTIONS", path, [("Origin", "https://a.example")])
        assert response.status in (404, 405)
        assert response.header("Access-Control-Allow-Methods") is None


# -- ETag and Last-Modified --------------------------------------------------------


def test_etag_is_strong_and_follows_size_and_mtime(serve: Serve, root: Path) -> None:
    client = serve()
    path = root / "user/5/0/5.1000x1000.jpe"
    assert client.request("GET", JPE).header("ETag") == ETAG
    os.utime(path, ns=(MTIME_NS + 1, MTIME_NS + 1))
    assert client.request("GET", JPE).header("ETag") == f'"{SIZE:x}-{MTIME_NS + 1:x}"'
    path.write_bytes(DATA + b"!")
    os.utime(path, ns=(MTIME_NS, MTIME_NS))
    assert client.request("GET", JPE).header("ETag") == f'"{SIZE + 1:x}-{MTIME_NS:x}"'


def test_validators_do_not_depend_on_the_time_zone(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = serve()
    seen = set()
    for zone in ("UTC", "Asia/Seoul", "America/St_Johns"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        response = client.request("GET", JPE)
        seen.add((response.header("ETag"), response.header("Last-Modified")))
    monkeypatch.delenv("TZ")
    time.tzset()
    assert seen == {(ETAG, LAST_MODIFIED)}


# -- conditional requests ----------------------------------------------------------


@pytest.mark.parametrize(
    "if_none_match",
    [ETAG, f'"other", {ETAG}', f"W/{ETAG}", "*", f' "a" ,W/{ETAG} '],
)
def test_if_none_match_gives_304(serve: Serve, if_none_match: str) -> None:
    response = serve(cors=True).request("GET", JPE + "?_ts=1", [("If-None-Match", if_none_match)])
    assert response.status == 304
    assert response.body == b""
    assert response.header("ETag") == ETAG
    assert response.header("Last-Modified") == LAST_MODIFIED
    assert response.header("Cache-Control") == "public, max-age=31536000, immutable"
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Content-Type") is None


def test_head_with_if_none_match_gives_304(serve: Serve) -> None:
    assert serve().request("HEAD", JPE, [("If-None-Match", ETAG)]).status == 304


@pytest.mark.parametrize("if_none_match", ['"other"', 'W/"other"', f'"{SIZE:x}-0"'])
def test_if_none_match_other_tags_gives_200(serve: Serve, if_none_match: str) -> None:
    response = serve().request("GET", JPE, [("If-None-Match", if_none_match)])
    assert (response.status, response.body) == (200, DATA)


@pytest.mark.parametrize("since", [LAST_MODIFIED, LATER])
def test_if_modified_since_gives_304(serve: Serve, since: str) -> None:
    response = serve().request("GET", JPE, [("If-Modified-Since", since)])
    assert response.status == 304
    assert response.header("ETag") == ETAG


@pytest.mark.parametrize("since", [EARLIER, "yesterday", ""])
def test_if_modified_since_earlier_or_invalid_gives_200(serve: Serve, since: str) -> None:
    response = serve().request("GET", JPE, [("If-Modified-Since", since)])
    assert (response.status, response.body) == (200, DATA)


def test_if_modified_since_is_ignored_with_if_none_match(serve: Serve) -> None:
    headers = [("If-None-Match", '"other"'), ("If-Modified-Since", LATER)]
    assert serve().request("GET", JPE, headers).status == 200


@pytest.mark.parametrize("if_match", [ETAG, "*", f'"x", {ETAG}'])
def test_if_match_matching_gives_200(serve: Serve, if_match: str) -> None:
    assert serve().request("GET", JPE, [("If-Match", if_match)]).status == 200


@pytest.mark.parametrize("if_match", ['"other"', f"W/{ETAG}"])
def test_if_match_failing_gives_412_with_empty_body(serve: Serve, if_match: str) -> None:
    response = serve(cors=True).request("GET", JPE, [("If-Match", if_match)])
    assert response.status == 412
    assert response.body == b""
    assert response.header("Content-Length") == "0"
    assert response.header("Access-Control-Allow-Origin") == "*"


def test_if_unmodified_since(serve: Serve) -> None:
    client = serve()
    assert client.request("GET", JPE, [("If-Unmodified-Since", EARLIER)]).status == 412
    assert client.request("GET", JPE, [("If-Unmodified-Since", LAST_MODIFIED)]).status == 200
    assert client.request("GET", JPE, [("If-Unmodified-Since", "garbage")]).status == 200
    # ignored when If-Match is present
    headers = [("If-Match", ETAG), ("If-Unmodified-Since", EARLIER)]
    assert client.request("GET", JPE, headers).status == 200


def test_if_match_is_checked_before_if_none_match(serve: Serve) -> None:
    headers = [("If-Match", '"other"'), ("If-None-Match", ETAG)]
    assert serve().request("GET", JPE, headers).status == 412


# -- ranges ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=990-", 990, SIZE - 1),
        ("bytes=-10", SIZE - 10, SIZE - 1),
        ("bytes=-5000", 0, SIZE - 1),  # a suffix longer than the file: all of it
        ("bytes=995-2000", 995, SIZE - 1),
        ("bytes=999-999", 999, 999),
        ("Bytes=5-6", 5, 6),  # the unit is case-insensitive
    ],
)
def test_single_range_gives_206(serve: Serve, range_: str, start: int, end: int) -> None:
    response = serve(cors=True).request("GET", JPE, [("Range", range_)])
    assert response.status == 206
    assert response.body == DATA[start : end + 1]
    assert response.header("Content-Range") == f"bytes {start}-{end}/{SIZE}"
    assert response.header("Content-Length") == str(end - start + 1)
    assert response.header("ETag") == ETAG
    assert response.header("Content-Type") == "image/jpeg"
    assert response.header("Cache-Control") == "no-cache"
    assert response.header("Access-Control-Allow-Origin") == "*"


@pytest.mark.parametrize("range_", ["bytes=1000-", "bytes=1000-1001", "bytes=5000-6000"])
def test_unsatisfiable_range_gives_416(serve: Serve, range_: str) -> None:
    response = serve(cors=True).request("GET", JPE, [("Range", range_)])
    assert response.status == 416
    assert response.body == b""
    assert response.header("Content-Range") == f"bytes */{SIZE}"
    assert response.header("ETag") == ETAG
    assert response.header("Cache-Control") == "no-cache"
    assert response.header("Access-Control-Allow-Origin") == "*"


@pytest.mark.parametrize(
    "range_",
    [
        "bytes=abc",
        "bytes=5-1",
        "bytes=--1",
        "bytes",
        "items=0-1",
        "bytes=0-1,5-6",  # several ranges: answered with the whole file
        "bytes=0-10,5-20",
        "bytes=0-1,1-2,2-3,3-4",
    ],
)
def test_malformed_unknown_or_multiple_ranges_give_200(serve: Serve, range_: str) -> None:
    response = serve().request("GET", JPE, [("Range", range_)])
    assert (response.status, response.body) == (200, DATA)
    assert response.header("Content-Range") is None


def test_range_is_ignored_for_head_and_empty_files(serve: Serve) -> None:
    client = serve()
    head = client.request("HEAD", JPE, [("Range", "bytes=0-0")])
    assert (head.status, head.header("Content-Length")) == (200, str(SIZE))
    empty = client.request("GET", "/images/user/5/0/empty.gif", [("Range", "bytes=0-0")])
    assert (empty.status, empty.body) == (200, b"")


@pytest.mark.parametrize(("if_range", "status"), [(ETAG, 206), (LAST_MODIFIED, 206)])
def test_if_range_matching_gives_206(serve: Serve, if_range: str, status: int) -> None:
    headers = [("Range", "bytes=0-9"), ("If-Range", if_range)]
    response = serve().request("GET", JPE, headers)
    assert response.status == status
    assert response.body == DATA[:10]


@pytest.mark.parametrize("if_range", ['"other"', f"W/{ETAG}", EARLIER, LATER, "garbage"])
def test_if_range_not_matching_gives_the_whole_file(serve: Serve, if_range: str) -> None:
    headers = [("Range", "bytes=0-9"), ("If-Range", if_range)]
    response = serve().request("GET", JPE, headers)
    assert (response.status, response.body) == (200, DATA)


def test_304_wins_over_range(serve: Serve) -> None:
    headers = [("Range", "bytes=0-9"), ("If-None-Match", ETAG)]
    assert serve().request("GET", JPE, headers).status == 304


# -- Cache-Control ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cache_control"),
    [
        ("", "no-cache"),
        ("?_ts=20240101", "public, max-age=31536000, immutable"),
        ("?w=1&_ts=20240101", "public, max-age=31536000, immutable"),
        ("?x_ts=1", "no-cache"),
        ("?ts=1", "no-cache"),
    ],
)
def test_versioned_urls_are_immutable(serve: Serve, query: str, cache_control: str) -> None:
    assert serve().request("GET", JPE + query).header("Cache-Control") == cache_control


def test_cache_control_is_configurable(serve: Serve) -> None:
    client = serve(
        cache_control=None,
        versioned_cache_control="public, max-age=60",
        is_versioned=lambda query: "v=" in query,
    )
    assert client.request("GET", JPE).header("Cache-Control") is None
    assert client.request("GET", JPE + "?v=2").header("Cache-Control") == "public, max-age=60"
    assert client.request("GET", JPE + "?_ts=2").header("Cache-Control") is None


# -- CORS ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", JPE, [], 200),
        ("GET", JPE, [("Range", "bytes=0-1")], 206),
        ("GET", JPE, [("If-None-Match", ETAG)], 304),
        ("GET", JPE, [("If-Match", '"x"')], 412),
        ("GET", JPE, [("Range", "bytes=5000-")], 416),
        ("GET", "/images/missing.png", [], 404),
        ("GET", "/images/../x.png", [], 400),
        ("PUT", JPE, [], 405),
    ],
)
def test_cors_any_origin_on_every_status(
    serve: Serve, method: str, path: str, headers: list[tuple[str, str]], status: int
) -> None:
    response = serve(cors=True).request(method, path, [("Origin", "https://a.example"), *headers])
    assert response.status == status
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Vary") is None


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", JPE, [], 200),
        ("GET", JPE, [("Range", "bytes=0-1")], 206),
        ("GET", JPE, [("If-None-Match", ETAG)], 304),
        ("GET", JPE, [("Range", "bytes=5000-")], 416),
        ("GET", "/images/missing.png", [], 404),
        ("PUT", JPE, [], 405),
    ],
)
def test_cors_origin_list_echoes_allowed_origins_with_vary(
    serve: Serve, method: str, path: str, headers: list[tuple[str, str]], status: int
) -> None:
    client = serve(cors=["https://a.example", "https://b.example:8443"])
    allowed = client.request(method, path, [("Origin", "https://b.example:8443"), *headers])
    assert allowed.status == status
    assert allowed.header("Access-Control-Allow-Origin") == "https://b.example:8443"
    assert allowed.header("Vary") == "Origin"
    other = client.request(method, path, [("Origin", "https://evil.example"), *headers])
    assert other.status == status
    assert other.header("Access-Control-Allow-Origin") is None
    assert other.header("Vary") == "Origin"


def test_no_cors_headers_by_default(serve: Serve) -> None:
    response = serve().request("GET", JPE, [("Origin", "https://a.example")])
    assert response.header("Access-Control-Allow-Origin") is None
    assert serve().request("OPTIONS", JPE).status == 405


# -- the base URL for locate() -----------------------------------------------------


def test_the_app_sees_the_request_base_url(serve: Serve, kind: str) -> None:
    response = serve().request("GET", "/page")
    assert response.fell_through
    host = "localhost" if kind.startswith("wsgi") else "testserver"
    assert response.body == f"http://{host}/".encode()


def test_the_base_url_includes_the_mount_point(serve: Serve, kind: str) -> None:
    client = serve(root_path="/app")
    response = client.request("GET", "/page")
    host = "localhost" if kind.startswith("wsgi") else "testserver"
    assert response.body == f"http://{host}/app/".encode()
    assert client.request("GET", JPE).body == DATA  # the prefix is below the mount point


def test_forwarded_headers_are_ignored_unless_trusted(serve: Serve) -> None:
    headers = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example")]
    assert b"evil" not in serve().request("GET", "/page", headers).body
    trusted = serve(trusted_proxy_headers=True).request(
        "GET", "/page", [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "a, cdn.example")]
    )
    assert trusted.body == b"https://cdn.example/"
