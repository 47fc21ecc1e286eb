"""End to end through real servers on loopback: gunicorn (sync and gthread),
granian (WSGI, and ASGI with pathsend) and uvicorn, each serving
``e2e_app`` (the store's middlewares).  Checked with a real HTTP client:
statuses, headers and bytes, and a 1 GiB sparse file served whole and by
range while the server's resident memory stays flat."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from images import jpeg
from processes import stop_group

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
HERE = Path(__file__).parent
GIB = 1 << 30
#: Offset → bytes written into the otherwise sparse (all zero) big file.
MARKERS = {0: b"HEAD", 1 << 20: b"1MiB", GIB // 2: b"HALF", GIB - 4: b"TAIL"}
#: Resident memory the server may gain while sending the big file.
RSS_GROWTH_LIMIT = 64 << 20
SECRET = b"SECRET outside the served directory"


def _command(name: str, port: int) -> list[str]:
    gunicorn = [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}"]
    gunicorn.append("--no-control-socket")  # the default path is shared by every gunicorn
    granian = [str(BIN / "granian"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return {
        "gunicorn-sync": [*gunicorn, "--worker-class", "sync", "e2e_app:wsgi"],
        "gunicorn-gthread": [
            *gunicorn,
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "e2e_app:wsgi",
        ],
        "granian-wsgi": [*granian, "--interface", "wsgi", "e2e_app:wsgi"],
        "granian-asgi": [*granian, "--interface", "asgi", "e2e_app:asgi"],
        "uvicorn": [
            str(BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "e2e_app:asgi",
        ],
    }[name]


@dataclass
class Server:
    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]

    def rss(self) -> int:
        """Resident bytes of the server and all its descendant processes."""
        return sum(_rss(pid) for pid in _process_tree(self.process.pid))


def _process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("PPid:"):
                    parents[int(entry)] = int(line.split()[1])
    tree = [root]
    for pid in tree:
        tree.extend(child for child, parent in parents.items() if parent == pid)
    return tree


def _rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A served directory with a JPEG and a sparse 1 GiB file, and a secret
    file next to it."""
    base = tmp_path_factory.mktemp("e2e")
    root = base / "images"
    (root / "photo").mkdir(parents=True)
    (root / "photo/1.400x300.jpe").write_bytes(jpeg(400, 300))
    with open(root / "big.png", "wb") as file:
        file.truncate(GIB)
        for offset, marker in MARKERS.items():
            file.seek(offset)
            file.write(marker)
    (base / "secret.png").write_bytes(SECRET)
    return root


@pytest.fixture(
    scope="module",
    params=["gunicorn-sync", "gunicorn-gthread", "granian-wsgi", "granian-asgi", "uvicorn"],
)
def server(request: pytest.FixtureRequest, site: Path) -> Iterator[Server]:
    name: str = request.param
    port = _free_port()
    log = open(site.parent / f"{name}.log", "wb")  # noqa: SIM115 - closed at teardown
    env = {
        **os.environ,
        "E2E_ROOT": str(site),
        "PYTHONPATH": f"{HERE}{os.pathsep}{HERE.parents[1]}",
    }
    process = subprocess.Popen(
        _command(name, port), cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.flush()
                pytest.fail(f"{name} exited: {(site.parent / f'{name}.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/ready", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not start")
            time.sleep(0.1)
        yield Server(name, url, port, process)
    finally:
        stop_group(process)
        log.close()


def test_static_file_rules(server: Server, site: Path) -> None:
    photo = (site / "photo/1.400x300.jpe").read_bytes()
    path = "/images/photo/1.400x300.jpe"
    with httpx.Client(base_url=server.url) as client:
        response = client.get(path)
        assert response.status_code == 200
        assert response.content == photo
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["content-length"] == str(len(photo))
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["x-content-type-options"] == "nosniff"
        etag = response.headers["etag"]

        assert client.get(path + "?_ts=1").headers["cache-control"].endswith("immutable")
        head = client.head(path)
        assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", etag)
        partial = client.get(path, headers={"Range": "bytes=0-99"})
        assert (partial.status_code, partial.content) == (206, photo[:100])
        assert partial.headers["content-range"] == f"bytes 0-99/{len(photo)}"
        not_modified = client.get(path, headers={"If-None-Match": etag})
        assert (not_modified.status_code, not_modified.content) == (304, b"")
        assert not_modified.headers["etag"] == etag
        unsatisfiable = client.get(path, headers={"Range": f"bytes={len(photo)}-"})
        assert unsatisfiable.status_code == 416
        assert client.get("/images/photo/2.400x300.jpe").status_code == 404
        assert client.post(path).status_code == 405

        app = client.get("/hello")
        assert app.headers["x-app"] == "1"
        assert app.text.split()[0] == f"http://127.0.0.1:{server.port}/"
        if server.name == "granian-asgi":
            assert "http.response.pathsend" in app.text.split()


@pytest.mark.parametrize(
    "target",
    ["/images/..%2fsecret.png", "/images/%2e%2e/secret.png", "/images/../secret.png",
     "/images/%252e%252e/secret.png", "/images/..%5csecret.png", "/images//etc/passwd"],
)  # fmt: skip
def test_traversal_leaks_nothing(server: Server, target: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", target)  # sent exactly as written
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert SECRET not in body
    assert response.status in (400, 404)


def _stream(client: httpx.Client, headers: dict[str, str], start: int, length: int) -> None:
    """GET the big file and check, as it streams by, its length and bytes at
    the markers and at a few places that must be zero."""
    checks = {**MARKERS, GIB // 4: b"\0" * 8, 3 * GIB // 4 + 3: b"\0" * 5}
    with client.stream("GET", "/images/big.png", headers=headers) as response:
        assert response.status_code == (206 if headers else 200)
        assert response.headers["content-length"] == str(length)
        position = start
        for chunk in response.iter_raw(1 << 20):
            end = position + len(chunk)
            for offset, expected in checks.items():
                low, high = max(offset, position), min(offset + len(expected), end)
                if low < high:
                    assert (
                        chunk[low - position : high - position]
                        == (expected[low - offset : high - offset])
                    ), offset
            position = end
    assert position - start == length


def test_a_1_gib_file_whole_and_by_range_in_flat_memory(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        _stream(client, {"Range": "bytes=0-1048575"}, 0, 1 << 20)  # warm up
        before = server.rss()
        _stream(client, {}, 0, GIB)
        start = GIB // 2 - (32 << 20)
        _stream(client, {"Range": f"bytes={start}-{start + (64 << 20) - 1}"}, start, 64 << 20)
        _stream(client, {"Range": "bytes=-10"}, GIB - 10, 10)
        growth = server.rss() - before
    assert growth < RSS_GROWTH_LIMIT, f"{server.name} grew by {growth >> 20} MiB"


def test_replaced_deleted_and_added_files(server: Server, site: Path) -> None:
    """A file served before, then replaced (also by one of the same size and
    mtime), deleted, put back and a new one: each answer is the file as it is
    now (under granian ASGI, a known file is checked by one ``stat``)."""
    directory = site / f"changing-{server.name}"
    directory.mkdir()
    path = directory / "1.png"
    url = f"/images/{directory.name}/1.png"

    def replace(data: bytes, mtime_ns: int) -> None:
        temp = directory / ".tmp-new"
        temp.write_bytes(data)
        os.utime(temp, ns=(mtime_ns, mtime_ns))
        os.replace(temp, path)

    with httpx.Client(base_url=server.url) as client:

        def get(target: str = url) -> tuple[int, bytes, str | None, str | None]:
            response = client.get(target)
            headers = response.headers
            return (
                response.status_code,
                response.content,
                headers.get("etag"),
                headers.get("content-length"),
            )

        assert get()[0] == 404
        replace(b"first", 1_700_000_000_000_000_001)
        first = get()
        assert first[:2] == (200, b"first")
        assert get() == first
        replace(b"second!", 1_700_000_000_000_000_002)
        second = get()
        assert second[:2] == (200, b"second!") and second[3] == "7"
        assert second[2] != first[2]
        replace(b"SECOND!", 1_700_000_000_000_000_002)  # same size and mtime, new inode
        assert get()[:2] == (200, b"SECOND!")
        path.unlink()
        assert get()[0] == 404
        replace(b"back", 1_700_000_000_000_000_003)
        assert get()[:2] == (200, b"back")
        (directory / "2.png").write_bytes(b"added later")
        assert get(f"/images/{directory.name}/2.png")[:2] == (200, b"added later")
