"""The blocks of docs/security.md and docs/imaging.md that tests/test_docs.py
cannot run: the headers, the CloudFront policy and the nginx configuration
of security.md give exactly the middleware's headers (the nginx one is
served by a real nginx); imaging.md's MAGICK_CONFIGURE_PATH line puts the
policy in force for a process that imports Wand first.  (tests/test_docs.py
runs their Python blocks.)"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from images import png, svg
from test_docs import blocks as page_blocks

from imageattach.middleware.core import SVG_CSP

from .helpers import ROOT

SECURITY = ROOT / "docs" / "security.md"
IMAGING = ROOT / "docs" / "imaging.md"


def blocks(language: str, page: Path = SECURITY) -> list[str]:
    """The code of ``page``'s ``language`` blocks that name this test."""
    return [
        block.code
        for block in page_blocks(page)
        if block.lang == language and block.checked_by == "tests/imaging/test_docs.py"
    ]


def test_magick_configure_path_line_puts_the_policy_in_force(tmp_path: Path) -> None:
    """imaging.md: with the variable set before the process starts, Wand
    imported before imageattach still runs under imageattach's policy."""
    [line] = blocks("sh", IMAGING)
    environment = {k: v for k, v in os.environ.items() if k != "MAGICK_CONFIGURE_PATH"}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    environment["PYTHONPATH"] = str(ROOT)
    script = (
        f"{line.strip()}\nexport MAGICK_CONFIGURE_PATH\n"
        "python -c 'import wand.image, imageattach.imaging.policy as p; print(p.check())'"
    )
    result = subprocess.run(
        ["bash", "-c", script], env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert "RuntimeWarning" not in result.stderr


def test_the_listed_headers_are_the_middlewares() -> None:
    [text] = blocks("text")
    assert text.splitlines() == [
        f"Content-Security-Policy: {SVG_CSP}",
        "X-Content-Type-Options: nosniff",
    ]


def test_the_cloudfront_policy_sends_the_same_headers() -> None:
    [policy] = blocks("json")
    headers = json.loads(policy)["SecurityHeadersConfig"]
    assert headers["ContentSecurityPolicy"]["ContentSecurityPolicy"] == SVG_CSP
    assert headers["ContentTypeOptions"] == {"Override": True}


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_the_nginx_snippet_serves_svg_with_the_headers(tmp_path: Path) -> None:
    [snippet] = blocks("nginx")
    images = tmp_path / "site" / "images" / "user" / "5" / "0"
    images.mkdir(parents=True)
    (images / "5.30x20.svg").write_bytes(svg())
    (images / "5.30x20.png").write_bytes(png(30, 20))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = snippet.replace("root /var/lib/myapp;", f"root {tmp_path / 'site'};")
    (tmp_path / "nginx.conf").write_text(
        f"user root; daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        "  types { image/svg+xml svg; image/png png; }\n"
        f"  access_log off; client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy; fastcgi_temp_path {tmp_path}/fastcgi;\n"
        f"  uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;\n"
        f"  server {{ listen 127.0.0.1:{port};\n{server}\n  }}\n"
        "}\n"
    )
    nginx = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stderr=subprocess.PIPE,
    )
    try:
        svg_headers, png_headers = None, None
        for _ in range(100):
            try:
                svg_headers = _headers(port, "/images/user/5/0/5.30x20.svg")
                png_headers = _headers(port, "/images/user/5/0/5.30x20.png")
                break
            except OSError:
                time.sleep(0.05)
        assert svg_headers is not None and png_headers is not None, nginx.stderr
        assert svg_headers["content-type"] == "image/svg+xml"
        assert svg_headers["content-security-policy"] == SVG_CSP
        assert svg_headers["x-content-type-options"] == "nosniff"
        assert png_headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in png_headers
    finally:
        nginx.terminate()
        nginx.wait(10)


def _headers(port: int, path: str) -> dict[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        return {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
