"""format="auto" URLs through the WSGI and ASGI middlewares of a real
filesystem store: the file chosen by Accept, Vary: Accept on every answer."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from images import jpeg
from originals import KEY, Original
from werkzeug.test import Client

from imageattach.stores.fs import HttpExposedFileSystemStore
from imageattach.variants import Variant

CHROMIUM = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
FIREFOX = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
SAFARI = (
    "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
    "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
)
SAFARI_15 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
OLD = "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"


@dataclass
class Answer:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def vary(self) -> list[str]:
        return [v.strip() for value in self.headers.get("vary", []) for v in value.split(",")]


def not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"app"]


async def asgi_not_found(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def _headers(pairs: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        found.setdefault(name.lower(), []).append(value)
    return found


Get = Callable[[HttpExposedFileSystemStore, str, dict[str, str]], Answer]


def wsgi_get(store: HttpExposedFileSystemStore, url: str, headers: dict[str, str]) -> Answer:
    parts = urlsplit(url)
    response = Client(store.wsgi_middleware(not_found)).get(
        parts.path, query_string=parts.query, headers=headers
    )
    return Answer(response.status_code, _headers(response.headers.items()), response.get_data())


def asgi_get(store: HttpExposedFileSystemStore, url: str, headers: dict[str, str]) -> Answer:
    result: list[Answer] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=store.asgi_middleware(asgi_not_found))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get(url, headers=headers)
            result.append(
                Answer(
                    response.status_code,
                    _headers(response.headers.multi_items()),
                    response.content,
                )
            )

    anyio.run(main)
    return result[0]


@pytest.fixture(params=["wsgi", "asgi"])
def get(request: pytest.FixtureRequest) -> Get:
    return wsgi_get if request.param == "wsgi" else asgi_get


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HttpExposedFileSystemStore]:
    store = HttpExposedFileSystemStore(
        tmp_path, "__images__", lambda: "http://testserver/", secret_key=KEY
    )
    yield store
    store.resizer.shutdown()


def _original(store: HttpExposedFileSystemStore) -> Original:
    original = Original("user-picture", 1234, 640, 480, "image/jpeg")
    store.put_file(io.BytesIO(jpeg(640, 480)), "user-picture", 1234, 640, 480, "image/jpeg", False)
    return original


def _auto_url(store: HttpExposedFileSystemStore) -> str:
    return store.locate_resized(
        _original(store),  # type: ignore[arg-type]
        150,
        150,
        variant=Variant("cover"),
        format="auto",
    )


@pytest.mark.parametrize(
    ("accept", "content_type", "name"),
    [
        (CHROMIUM, "image/avif", "1234.150x150.cover.avif"),
        (FIREFOX, "image/avif", "1234.150x150.cover.avif"),
        (SAFARI, "image/avif", "1234.150x150.cover.avif"),
        (SAFARI_15, "image/webp", "1234.150x150.cover.webp"),
        (OLD, "image/jpeg", "1234.150x150.cover.jpe"),
        (None, "image/jpeg", "1234.150x150.cover.jpe"),
    ],
)
def test_auto_serves_the_negotiated_variant(
    store: HttpExposedFileSystemStore, get: Get, accept: str | None, content_type: str, name: str
) -> None:
    url = _auto_url(store)
    assert "/1234.150x150.cover.auto.jpe?" in url
    headers = {} if accept is None else {"Accept": accept}
    cold = get(store, url, headers)
    assert cold.status == 200
    assert cold.headers["content-type"] == [content_type]
    assert "Accept" in cold.vary()
    on_disk = Path(store.path, "user-picture/234/1", name).read_bytes()
    assert cold.body == on_disk
    warm = get(store, url, headers)
    assert (warm.status, warm.body) == (200, on_disk)
    assert "Accept" in warm.vary()
    assert store.resizer.generations == 1


def test_vary_on_206_304_and_refusals(store: HttpExposedFileSystemStore, get: Get) -> None:
    url = _auto_url(store)
    first = get(store, url, {"Accept": CHROMIUM})
    etag = first.headers["etag"][0]
    partial = get(store, url, {"Accept": CHROMIUM, "Range": "bytes=0-9"})
    assert (partial.status, len(partial.body)) == (206, 10)
    assert "Accept" in partial.vary()
    unchanged = get(store, url, {"Accept": CHROMIUM, "If-None-Match": etag})
    assert unchanged.status == 304 and "Accept" in unchanged.vary()
    # The same validator under another Accept is another file: a 200.
    other = get(store, url, {"Accept": OLD, "If-None-Match": etag})
    assert other.status == 200 and "Accept" in other.vary()
    # A forged signature: 403, varying too (a cache keeps it per Accept).
    forged = get(store, url.replace("sig=", "sig=A"), {"Accept": SAFARI_15})
    assert forged.status == 403 and "Accept" in forged.vary()


def test_plain_urls_do_not_vary(store: HttpExposedFileSystemStore, get: Get) -> None:
    url = store.locate_resized(_original(store), 150, 113)  # type: ignore[arg-type]
    for _ in range(2):
        answer = get(store, url, {"Accept": CHROMIUM})
        assert answer.status == 200 and answer.headers["content-type"] == ["image/jpeg"]
        assert "Accept" not in answer.vary()


def test_auto_signature_is_not_a_png_signature(store: HttpExposedFileSystemStore, get: Get) -> None:
    url = _auto_url(store)
    answer = get(store, url.replace(".auto.jpe", ".png"), {})
    assert answer.status == 403
    assert not list(Path(store.path).rglob("*.png"))


@pytest.mark.parametrize(
    "name",
    [
        "1234.150x150.cover.auto.auto.jpe",
        "1234.150x150.auto.jpe",
        "1234.150x150.cover.auto.",
        "1234.150x150.cover.auto.jpeeeeeee",
        "1234.150x150." + "cover-" * 3000 + ".auto.jpe",
        "1234.150x150.cover.auto.jpe%00",
    ],
)
def test_malformed_auto_names(store: HttpExposedFileSystemStore, get: Get, name: str) -> None:
    _original(store)
    url = f"http://testserver/__images__/user-picture/234/1/{name}?src=640x480.jpe&sig=AAAA"
    answer = get(store, url, {"Accept": CHROMIUM})
    assert answer.status in (400, 403, 404)
    assert store.resizer.generations == 0


def test_by_path_answers_are_remembered_per_negotiated_file(tmp_path: Path) -> None:
    """ASGI pathsend: the stat-only answer for a file seen before is kept
    per negotiated file, never per auto URL, and varies too."""
    from imageattach.middleware.core import Request, Response, StaticServer
    from imageattach.middleware.files import FileBody
    from imageattach.middleware.options import make_options

    directory = tmp_path / "user-picture/234/1"
    directory.mkdir(parents=True)
    for name, data in (("avif", b"A" * 10), ("webp", b"W" * 20), ("jpe", b"J" * 30)):
        (directory / f"1234.150x150.cover.{name}").write_bytes(data)
    core = StaticServer("/__images__", tmp_path, make_options(None, {}))
    path = "/__images__/user-picture/234/1/1234.150x150.cover.auto.jpe"
    for _ in range(2):
        for accept, name, size in (
            (CHROMIUM, "avif", 10),
            (SAFARI_15, "webp", 20),
            (OLD, "jpe", 30),
        ):
            answer = core.decide(Request("GET", path, "_ts=1", accept=accept), by_path=True)
            assert type(answer) is Response and answer.status == 200
            body = answer.body
            assert isinstance(body, FileBody) and body.size == size
            assert body.path is not None and body.path.endswith(f".cover.{name}")
            assert ("Vary", "Accept") in answer.headers
            answer.close()
    # The concrete file's own URL is remembered apart, without Vary.
    plain = core.decide(Request("GET", path.replace(".auto.jpe", ".avif")), by_path=True)
    assert type(plain) is Response and ("Vary", "Accept") not in plain.headers
    plain.close()
