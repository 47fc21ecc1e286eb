"""docs/deployment.md does what it says: its Python blocks run, and its
nginx snippets, served by a real nginx in front of real uvicorn and gunicorn
processes, make the app build the browser's URLs (spoofed client headers
ignored).  Also the cause of "https mixed with 127.0.0.1" under uvicorn."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from images import png
from processes import stop_group

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "deployment.md"
BIN = Path(sys.executable).parent
IMAGE = "user/1/0/1.10x10.png"

APP = """
import os

import flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from imageattach.adapters.flask import ImageAttach
from imageattach.adapters.starlette import ImageAttachMiddleware
from imageattach.stores.fs import HttpExposedFileSystemStore

TRUST = os.environ["TRUST"]
PATH = os.environ["IMAGES"]

# ASGI, for uvicorn: the store configured in code.
store = HttpExposedFileSystemStore(PATH, trusted_proxy_headers=TRUST)


async def where(request):
    return PlainTextResponse(store.base_url)


asgi = Starlette(
    routes=[Route("/", where)], middleware=[Middleware(ImageAttachMiddleware, store=store)]
)

# WSGI, for gunicorn: Flask configuration.
wsgi = flask.Flask(__name__)
wsgi.config.update(IMAGEATTACH_STORE_PATH=PATH, IMAGEATTACH_TRUSTED_PROXY_HEADERS=TRUST)
extension = ImageAttach(wsgi)
wsgi.get("/")(lambda: extension.store.base_url)
"""

SPOOFED = {
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Prefix": "/evil",
    "X-Forwarded-Port": "6666",
    "Forwarded": "host=evil.example;proto=https",
}


def python_blocks() -> list[str]:
    text = PAGE.read_text()
    return [
        match.group("body")
        for match in re.finditer(r"(?P<before>[^\n]*)\n```python\n(?P<body>.*?)```", text, re.S)
        if match.group("before").strip() != "<!-- fragment -->"
    ]


def nginx_blocks() -> list[str]:
    text = PAGE.read_text()
    return re.findall(
        r"<!-- checked by tests/test_deployment_docs.py -->\n```nginx\n(.*?)```", text, re.S
    )


def test_the_python_blocks_run_in_order_in_one_interpreter(tmp_path: Path) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 6
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_nginx_block_is_checked() -> None:
    assert PAGE.read_text().count("```nginx") == len(nginx_blocks()) == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {log.read_text()[-2000:]}")
        try:
            _get(port, "/", {})
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)


@dataclass
class AppServer:
    port: int
    images: Path


def _start(tmp_path: Path, name: str, trust: str) -> tuple[AppServer, subprocess.Popen[bytes]]:
    (tmp_path / "deploy_app.py").write_text(APP)
    images = tmp_path / "images"
    (images / IMAGE).parent.mkdir(parents=True, exist_ok=True)
    (images / IMAGE).write_bytes(png(10, 10))
    port = _free_port()
    if name == "uvicorn":
        command = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port)]
        command += ["--no-access-log", "deploy_app:asgi"]
    else:
        command = [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}"]
        command += ["--no-control-socket", "deploy_app:wsgi"]
    log = tmp_path / f"{name}.log"
    env = {**os.environ, "IMAGES": str(images), "TRUST": trust, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    _wait(port, process, log)
    return AppServer(port, images), process


@pytest.fixture(params=["uvicorn", "gunicorn"])
def app_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppServer]:
    server, process = _start(tmp_path, request.param, "true")
    try:
        yield server
    finally:
        stop_group(process)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
@pytest.mark.parametrize("snippet", [0, 1], ids=["root", "prefix"])
def test_the_nginx_snippet_in_front_of_an_app_server(
    app_server: AppServer, tmp_path: Path, snippet: int
) -> None:
    location = nginx_blocks()[snippet].replace("127.0.0.1:8000", f"127.0.0.1:{app_server.port}")
    port = _free_port()
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    (nginx_dir / "nginx.conf").write_text(
        f"daemon off; pid {nginx_dir}/nginx.pid; error_log {nginx_dir}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"  access_log off; client_body_temp_path {nginx_dir}/body;\n"
        f"  proxy_temp_path {nginx_dir}/proxy; fastcgi_temp_path {nginx_dir}/fastcgi;\n"
        f"  uwsgi_temp_path {nginx_dir}/uwsgi; scgi_temp_path {nginx_dir}/scgi;\n"
        f"  server {{ listen 127.0.0.1:{port};\n{location}\n  }}\n"
        "}\n"
    )
    if os.geteuid() == 0:
        conf = nginx_dir / "nginx.conf"
        conf.write_text("user root;\n" + conf.read_text())
    nginx = subprocess.Popen(
        ["nginx", "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf")],
        stderr=subprocess.PIPE,
    )
    prefix = "/app" if snippet else ""
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                status, body = _get(port, f"{prefix}/", {"Host": "example.com", **SPOOFED})
                break
            except OSError:
                if time.monotonic() > deadline or nginx.poll() is not None:
                    pytest.fail(f"nginx did not start: {(nginx_dir / 'error.log').read_text()}")
                time.sleep(0.05)
        # nginx replaced or removed every forwarded header the client sent.
        base = f"http://example.com:{port}{prefix}/__images__/"
        assert (status, body.decode()) == (200, base)
        # The image URL the app built is served through nginx.
        path = base.split(str(port), 1)[1] + IMAGE
        status, data = _get(port, path, {"Host": "example.com"})
        assert (status, data) == (200, (app_server.images / IMAGE).read_bytes())
    finally:
        nginx.terminate()
        nginx.wait(10)


@pytest.mark.parametrize("trust", ["false", "true"])
def test_uvicorn_behind_a_proxy_that_keeps_its_own_host(tmp_path: Path, trust: str) -> None:
    """What nginx sends by default (``Host`` the upstream address) with
    ``X-Forwarded-Proto``: uvicorn's ``--proxy-headers`` (on by default,
    trusting 127.0.0.1) makes the scheme https; the host is the upstream's
    unless ``X-Forwarded-Host`` is trusted."""
    server, process = _start(tmp_path, "uvicorn", trust)
    try:
        headers = {
            "Host": f"127.0.0.1:{server.port}",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "example.com",
            "X-Forwarded-For": "203.0.113.7",
        }
        status, body = _get(server.port, "/", headers)
    finally:
        stop_group(process)
    expected = {
        "false": f"https://127.0.0.1:{server.port}/__images__/",
        "true": "https://example.com/__images__/",
    }[trust]
    assert (status, body.decode()) == (200, expected)
