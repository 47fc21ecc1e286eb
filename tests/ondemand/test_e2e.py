"""On-demand thumbnails end to end: through the store's middlewares in process
(with real entities on a real database), and through real servers
(gunicorn, uvicorn, granian) on loopback sharing one directory.

Generations are counted from the resizer's log (one line each), never by
mocking the imaging.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest
from entity_models import User, sessions
from images import corrupt_jpeg, huge_png_header, jpeg, large_jpeg, mvg_payload, png
from middleware.clients import ASGIClient, WSGIClient, asgi_app, wsgi_app
from originals import KEY, Original
from sqlalchemy import Engine

from imageattach.context import store_context
from imageattach.filelocks import FileLocks
from imageattach.stores.fs import HttpExposedFileSystemStore

from .conftest import decode_size
from .servers import running

pytestmark = pytest.mark.e2e

_ids = itertools.count(1)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def get(url: str, headers: dict[str, str] | None = None) -> Response:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


# -- in process, with entities -----------------------------------------------------


def test_wsgi_with_entities(engine: Engine, tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(
        tmp_path / "images", "__images__", lambda: "http://localhost/", secret_key=KEY
    )
    client = WSGIClient(store.wsgi_middleware(wsgi_app))
    generated = lambda: store.resizer.generations  # noqa: E731
    for factory in sessions(engine):
        with factory() as session, store_context(store):
            user = User(id=next(_ids))
            user.picture.from_blob(jpeg(301, 202, color="red"))
            session.add(user)
            session.commit()

            url = user.picture.locate(width=150)
            assert url.startswith(f"http://localhost/__images__/ia-user-picture/{user.id}/0/")
            target = url.removeprefix("http://localhost")
            first = client.request("GET", target)
            assert first.status == 200, first.body
            assert decode_size(first.body) == ("JPEG", 150, 101)
            assert "immutable" in (first.header("Cache-Control") or "")
            second = client.request("GET", target)
            assert (second.status, second.body) == (200, first.body)
            assert second.header("ETag") == first.header("ETag")
            assert generated() == 1

            # A ratio may round to a size neither width= nor height= gives.
            ratio_url = user.picture.locate(ratio=0.25)
            assert ".75x51.jpe?" in ratio_url
            third = client.request("GET", ratio_url.removeprefix("http://localhost"))
            assert decode_size(third.body) == ("JPEG", 75, 51)
            assert generated() == 2
            thumbnails = sorted(store.list_files("ia-user-picture", user.id))
            assert thumbnails == [
                (75, 51, "image/jpeg"),
                (150, 101, "image/jpeg"),
                (301, 202, "image/jpeg"),
            ]

            # Replacing the original (same size) removes its on-demand sizes,
            # and the new version has a new URL.
            user.picture.from_blob(jpeg(301, 202, color="blue"))
            session.commit()
            assert store.list_files("ia-user-picture", user.id) == [(301, 202, "image/jpeg")]
            new_url = user.picture.locate(width=150)
            assert new_url != url
            fourth = client.request("GET", new_url.removeprefix("http://localhost"))
            assert fourth.status == 200 and fourth.body != first.body

            # Deleting it removes every size.
            session.delete(user)
            session.commit()
            assert store.list_files("ia-user-picture", user.id) == []
            assert client.request("GET", new_url.removeprefix("http://localhost")).status == 404


def test_asgi_stampede_in_process(tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(
        tmp_path / "images", "__images__", lambda: "http://testserver/", secret_key=KEY
    )
    store.put_file(io.BytesIO(jpeg(1600, 1200)), "photo", 1, 1600, 1200, "image/jpeg", False)
    url = store.locate_resized(Original("photo", 1, 1600, 1200, "image/jpeg"), 300, 225)  # type: ignore[arg-type]
    target = url.removeprefix("http://testserver")
    for pathsend in (False, True):
        client = ASGIClient(store.asgi_middleware(asgi_app), pathsend=pathsend)
        bodies: list[bytes] = []

        async def fetch(client: ASGIClient = client, bodies: list[bytes] = bodies) -> None:
            result = await client.arequest("GET", target)
            assert result.status == 200
            bodies.append(result.body)

        async def main() -> None:
            async with anyio.create_task_group() as group:
                for _ in range(64):
                    group.start_soon(fetch)

        anyio.run(main)
        assert len(bodies) == 64 and len(set(bodies)) == 1
        assert decode_size(bodies[0]) == ("JPEG", 300, 225)
    assert store.resizer.generations == 1


def test_on_miss_cannot_be_combined_with_the_resizer(tmp_path: Path) -> None:
    from imageattach.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="on_miss"):
        HttpExposedFileSystemStore(tmp_path, secret_key=KEY, on_miss=lambda path, query: None)


# -- real servers -------------------------------------------------------------------------

KINDS = ("gunicorn", "uvicorn", "granian")


@dataclass
class Deployment:
    root: Path
    log: Path
    urls: dict[str, str]

    def store(self, kind: str) -> HttpExposedFileSystemStore:
        """A store in the test process that makes the URLs (and writes originals)."""
        base = self.urls[kind] + "/"
        return HttpExposedFileSystemStore(
            self.root, "__images__", lambda: base, secret_key=KEY, max_resize_dimension=8192
        )

    def add(self, data: bytes, size: tuple[int, int], mimetype: str = "image/jpeg") -> Original:
        original = Original("photo", next(_ids), *size, mimetype)
        self.store("gunicorn").put_file(
            io.BytesIO(data), "photo", original.object_id, *size, mimetype, False
        )
        return original

    def generations(self, url: str) -> int:
        path = urlsplit(url).path.removeprefix("/__images__/")
        return sum(f"generated {path} " in line for line in self.log.read_text().splitlines())


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("ondemand-e2e")
    root = directory / "images"
    root.mkdir()
    log = directory / "generations.log"
    log.touch()
    env = {
        "IA_ROOT": str(root),
        "IA_KEY": KEY,
        "IA_LOG": str(log),
        "IA_WORKERS": "1",
        "IA_QUEUE": "0",
        "IA_MAX_DIMENSION": "1000",
        "IA_MAX_PIXELS": "20000000",
    }
    with contextlib.ExitStack() as stack:
        urls = {
            kind: stack.enter_context(running(kind, env, directory / f"{kind}.out"))
            for kind in KINDS
        }
        yield Deployment(root, log, urls)


@pytest.mark.parametrize("kind", KINDS)
def test_cold_miss_then_static_hit(deployment: Deployment, kind: str) -> None:
    original = deployment.add(jpeg(640, 480), (640, 480))
    url = deployment.store(kind).locate_resized(original, 150, 113)  # type: ignore[arg-type]
    first = get(url)
    assert first.status == 200, first.body
    assert first.headers["content-type"] == "image/jpeg"
    assert decode_size(first.body) == ("JPEG", 150, 113)
    assert "immutable" in first.headers["cache-control"]
    second = get(url)
    assert (second.status, second.body) == (200, first.body)
    assert second.headers["etag"] == first.headers["etag"]
    assert get(url, {"If-None-Match": first.headers["etag"]}).status == 304
    assert deployment.generations(url) == 1


def test_png_thumbnail(deployment: Deployment) -> None:
    original = deployment.add(png(300, 200), (300, 200), "image/png")
    url = deployment.store("granian").locate_resized(original, 60, 40)  # type: ignore[arg-type]
    response = get(url)
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    assert decode_size(response.body) == ("PNG", 60, 40)


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_tampered_urls_generate_nothing(deployment: Deployment, kind: str) -> None:
    original = deployment.add(jpeg(640, 480), (640, 480))
    url = deployment.store(kind).locate_resized(original, 150, 113)  # type: ignore[arg-type]
    signature = url.rsplit("sig=", 1)[1]
    tampered = [
        url.replace(".150x113.", ".300x225."),
        url.replace("src=640x480", "src=1280x960"),
        url.replace(signature, ("A" if signature[0] != "A" else "B") + signature[1:]),
        url.split("&sig=")[0],
    ]
    for bad in tampered:
        response = get(bad)
        assert response.status == 403, bad
        assert response.headers["content-type"].startswith("text/plain")
        assert deployment.generations(bad) == 0
    assert sorted(p.name for p in (deployment.root / "photo").rglob(f"{original.object_id}.*")) == [
        f"{original.object_id}.640x480.jpe"
    ]
    assert get(url).status == 200


@pytest.mark.parametrize("kind", KINDS)
def test_stampede_generates_once(deployment: Deployment, kind: str) -> None:
    original = deployment.add(large_jpeg(), (4000, 3000))
    url = deployment.store(kind).locate_resized(original, 300, 225)  # type: ignore[arg-type]
    with ThreadPoolExecutor(64) as clients:
        responses = list(clients.map(lambda _: get(url), range(64)))
    assert [r.status for r in responses] == [200] * 64
    assert len({r.body for r in responses}) == 1
    assert decode_size(responses[0].body) == ("JPEG", 300, 225)
    assert deployment.generations(url) == 1


def test_two_servers_sharing_the_directory_generate_once(deployment: Deployment) -> None:
    original = deployment.add(large_jpeg(), (4000, 3000))
    urls = [
        deployment.store(kind).locate_resized(original, 200, 150)  # type: ignore[arg-type]
        for kind in ("gunicorn", "uvicorn")
    ]
    with ThreadPoolExecutor(64) as clients:
        responses = list(clients.map(get, urls * 32))
    assert [r.status for r in responses] == [200] * 64
    assert len({r.body for r in responses}) == 1
    assert deployment.generations(urls[0]) == 1


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_full_pool_answers_503_with_retry_after(deployment: Deployment, kind: str) -> None:
    # Each server has one resize worker and no queue.  Holding the lock of
    # both files makes the first generation wait in the worker, so the
    # second request finds the pool full, whichever arrives first.
    original = deployment.add(jpeg(640, 480), (640, 480))
    store = deployment.store(kind)
    urls = [store.locate_resized(original, w, h) for w, h in ((64, 48), (32, 24))]  # type: ignore[arg-type]
    locks = FileLocks(str(deployment.root / ".imageattach-locks"))
    responses: dict[str, Response] = {}
    first_done = threading.Event()

    def fetch(url: str) -> None:
        responses[url] = get(url)
        first_done.set()

    paths = [urlsplit(url).path.removeprefix("/__images__/") for url in urls]
    with contextlib.ExitStack() as held:
        for path in paths:
            held.enter_context(locks.hold(path, timeout=5))
        threads = [threading.Thread(target=fetch, args=(url,)) for url in urls]
        for thread in threads:
            thread.start()
        assert first_done.wait(30)
        (busy,) = responses.values()
    for thread in threads:
        thread.join(60)
    assert busy.status == 503
    assert busy.headers["retry-after"] == "1"
    assert sorted(r.status for r in responses.values()) == [200, 503]


def test_limits(deployment: Deployment) -> None:
    original = deployment.add(jpeg(640, 480), (640, 480))
    store = deployment.store("gunicorn")
    too_wide = get(store.locate_resized(original, 1200, 900))  # type: ignore[arg-type]
    assert too_wide.status == 400 and b"1000" in too_wide.body
    # The row says 6000x4000 (24 MP > 20 MP): refused before any file is opened.
    big = Original("photo", original.object_id, 6000, 4000, "image/jpeg")
    assert get(store.locate_resized(big, 300, 200)).status == 422  # type: ignore[arg-type]
    # The row says 64x48, the file's header says 100000x100000.
    bomb = deployment.add(huge_png_header(), (64, 48), "image/png")
    response = get(store.locate_resized(bomb, 32, 24))  # type: ignore[arg-type]
    assert response.status == 422 and b"pixels" in response.body


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
@pytest.mark.parametrize("payload", [corrupt_jpeg, mvg_payload], ids=["corrupt", "mvg"])
def test_bad_originals_refused(deployment: Deployment, kind: str, payload: object) -> None:
    assert callable(payload)
    original = deployment.add(payload(), (400, 300))
    url = deployment.store(kind).locate_resized(original, 40, 30)  # type: ignore[arg-type]
    response = get(url)
    assert response.status == 422
    assert response.headers["content-type"].startswith("text/plain")
    assert b"Traceback" not in response.body and len(response.body) < 200
    names = sorted(p.name for p in (deployment.root / "photo").rglob(f"{original.object_id}.*"))
    assert names == [f"{original.object_id}.400x300.jpe"]
    # The server lives on.
    good = deployment.add(jpeg(64, 48), (64, 48))
    assert get(deployment.store(kind).locate_resized(good, 32, 24)).status == 200  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_auto_cover_variant_through_real_servers(deployment: Deployment, kind: str) -> None:
    """A cover crop in format="auto" of a sideways camera JPEG (EXIF
    orientation 6): each browser's Accept gets its format, exactly 120x80,
    oriented before cropping, with Vary: Accept on 200, 206 and 304."""
    from wand.image import Image as WandImage

    from imageattach.variants import Variant

    original = deployment.add(jpeg(480, 640, orientation=6), (640, 480))
    store = deployment.store(kind)
    url = store.locate_resized(original, 120, 80, variant=Variant("cover"), format="auto")  # type: ignore[arg-type]
    assert ".120x80.cover.auto.jpe?" in url
    chromium = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    safari_15 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
    for accept, content_type, magic in [
        (chromium, "image/avif", b"ftypavif"),
        (safari_15, "image/webp", b"WEBP"),
        ("*/*", "image/jpeg", b"\xff\xd8\xff"),
    ]:
        first = get(url, {"Accept": accept})
        assert first.status == 200, first.body
        assert first.headers["content-type"] == content_type
        assert "Accept" in first.headers["vary"]
        assert magic in first.body[:16]
        with WandImage(blob=first.body) as image:
            assert (image.width, image.height) == (120, 80)
            # The stored top-left quadrant (red) is the displayed top-right
            # after a 90 degree turn: the crop's top right is red, its top
            # left white.  (ImageMagick 6 here reads AVIF colours as YCbCr:
            # the AVIF is checked for its size only.)
            if content_type != "image/avif":
                red, white = image[110, 5], image[10, 5]
                assert red.red_int8 > 200 and red.green_int8 < 80
                assert white.green_int8 > 200
        partial = get(url, {"Accept": accept, "Range": "bytes=0-3"})
        assert partial.status == 206 and "Accept" in partial.headers["vary"]
        cached = get(url, {"Accept": accept, "If-None-Match": first.headers["etag"]})
        assert cached.status == 304 and "Accept" in cached.headers["vary"]
    stored = sorted(p.name for p in (deployment.root / "photo").rglob(f"{original.object_id}.*"))
    assert stored == [
        f"{original.object_id}.120x80.cover.avif",
        f"{original.object_id}.120x80.cover.jpe",
        f"{original.object_id}.120x80.cover.webp",
        f"{original.object_id}.640x480.jpe",
    ]
