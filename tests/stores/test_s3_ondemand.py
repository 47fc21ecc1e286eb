"""On-demand thumbnails with S3 as the store, through both middlewares, on
the moto server (behind a recording proxy, to count what reaches S3)."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from entity_models import Something, sessions
from images import corrupt_jpeg, jpeg, png
from sqlalchemy import Engine
from stores.s3server import FaultProxy, S3StoreFactory
from werkzeug.test import Client

import imageattach.imaging  # noqa: F401  (the policy must be in force before wand loads)

# isort: split
from originals import KEY, Original
from wand.image import Image as WandImage

from imageattach.context import store_context
from imageattach.exceptions import ConfigurationError, LocateError, SigningNotConfiguredError
from imageattach.middleware.miss import Redirect
from imageattach.middleware.options import IMMUTABLE
from imageattach.stores.s3 import S3Store
from imageattach.variants import Variant, keyed_mimetype

BASE = "http://testserver/"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the app"]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"the app"})


def wsgi_get(store: S3Store, urls: list[str]) -> list[Answer]:
    """GET each URL through the store's WSGI middleware, all at once."""
    wrapped = store.wsgi_middleware(app)

    def get(url: str) -> Answer:
        parts = urlsplit(url)
        response = Client(wrapped).get(parts.path, query_string=parts.query)
        return Answer(response.status_code, _lower(response.headers.items()), response.get_data())

    if len(urls) == 1:
        return [get(urls[0])]
    with ThreadPoolExecutor(len(urls)) as clients:
        return list(clients.map(get, urls))


def asgi_get(store: S3Store, urls: list[str]) -> list[Answer]:
    """GET each URL through the store's ASGI middleware, all at once."""
    wrapped = store.asgi_middleware(asgi_app)
    answers: list[Answer | None] = [None] * len(urls)

    async def main() -> None:
        transport = httpx.ASGITransport(app=wrapped)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:

            async def get(index: int, url: str) -> None:
                response = await client.get(url)
                answers[index] = Answer(
                    response.status_code, _lower(response.headers.items()), response.content
                )

            async with anyio.create_task_group() as group:
                for index, url in enumerate(urls):
                    group.start_soon(get, index, url)

    anyio.run(main)
    return [answer for answer in answers if answer is not None]


Get = Callable[[S3Store, list[str]], list[Answer]]


@pytest.fixture(params=["wsgi", "asgi"])
def get(request: pytest.FixtureRequest) -> Get:
    return wsgi_get if request.param == "wsgi" else asgi_get


@pytest.fixture
def make_store(
    make_s3_store: S3StoreFactory, fault_proxy: FaultProxy
) -> Iterator[Callable[..., S3Store]]:
    """S3 stores talking to moto through the recording proxy."""
    made: list[S3Store] = []

    def make(**options: Any) -> S3Store:
        options.setdefault("resize_secret_key", KEY)
        options.setdefault("resize_url_base", BASE)
        options.setdefault("acl", "public-read")  # the redirect target is fetched anonymously
        store = make_s3_store(endpoint_url=fault_proxy.url, prefix="media", **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.resizer.shutdown()


@pytest.fixture
def generations(caplog: pytest.LogCaptureFixture) -> Callable[[], int]:
    """How many thumbnails were generated, from the ``imageattach.ondemand`` log."""
    caplog.set_level(logging.INFO, logger="imageattach.ondemand")

    def count() -> int:
        return sum(
            1
            for record in caplog.records
            if record.name == "imageattach.ondemand" and record.msg.startswith("generated")
        )

    return count


def add_original(store: S3Store, data: bytes, object_id: int = 1234) -> Original:
    with WandImage(blob=data) as image:
        size = image.width, image.height
        mimetype = image.mimetype
    original = Original("user-picture", object_id, *size, mimetype)
    store.put_file(io.BytesIO(data), "user-picture", object_id, *size, mimetype, False)
    return original


def original_gets(proxy: FaultProxy, original: Original) -> int:
    name = f"/{original.object_id}/{original.width}x{original.height}"
    return sum(1 for method, path, _ in proxy.requests if method == "GET" and name in path)


def fetch(url: str) -> tuple[str, int, int]:
    """Download ``url`` (the bucket on moto) and decode it."""
    response = httpx.get(url)
    assert response.status_code == 200, url
    with WandImage(blob=response.content) as image:
        return image.format, image.width, image.height


def test_cold_miss_generates_stores_and_redirects(
    make_store: Callable[..., S3Store],
    fault_proxy: FaultProxy,
    generations: Callable[[], int],
    get: Get,
) -> None:
    store = make_store()
    original = add_original(store, jpeg(640, 480))
    url = store.locate_resized(original, 150, 113)  # type: ignore[arg-type]
    assert url.startswith(f"{BASE}__images__/media/user-picture/1234/150x113.jpe?_ts=")

    [answer] = get(store, [url])
    assert answer.status == 302
    location = answer.headers["location"]
    assert location == (
        f"{store.public_base_url}/media/user-picture/1234/150x113.jpe?_ts=20240102030405000006"
    )
    assert answer.headers["cache-control"] == IMMUTABLE
    assert generations() == 1
    assert original_gets(fault_proxy, original) == 1
    assert fetch(location) == ("JPEG", 150, 113)
    assert store.list_files("user-picture", 1234) == [
        (150, 113, "image/jpeg"),
        (640, 480, "image/jpeg"),
    ]
    stored = store.client.head_object(
        Bucket=store.bucket, Key="media/user-picture/1234/150x113.jpe"
    )
    assert stored["ContentType"] == "image/jpeg"

    # Warm: redirected from the known keys, without asking S3 anything.
    asked = len(fault_proxy.requests)
    assert [a.status for a in get(store, [url])] == [302]
    assert len(fault_proxy.requests) == asked
    assert generations() == 1


def test_stored_earlier_is_found_by_heads_only(
    make_store: Callable[..., S3Store],
    fault_proxy: FaultProxy,
    generations: Callable[[], int],
    get: Get,
) -> None:
    first = make_store()
    original = add_original(first, png(300, 200))
    url = first.locate_resized(original, 30, 20)  # type: ignore[arg-type]
    [made] = get(first, [url])
    assert made.status == 302
    # Another process (a fresh store) knows no keys yet.
    second = make_store()
    asked = len(fault_proxy.requests)
    [answer] = get(second, [url])
    assert answer.status == 302
    assert answer.headers["location"] == made.headers["location"]
    methods = [method for method, _, _ in fault_proxy.requests[asked:]]
    # The thumbnail, the original it was made of, the original's version
    # (tests/ondemand/test_replaced_original.py): no GET, no PUT.
    assert methods == ["HEAD", "HEAD", "HEAD"]
    assert generations() == 1
    assert fetch(answer.headers["location"]) == ("PNG", 30, 20)


def _tamper(query: str, name: str, value: str) -> str:
    return "&".join(f"{name}={value}" if p.startswith(name + "=") else p for p in query.split("&"))


def test_refused_urls_cost_no_s3_request(
    make_store: Callable[..., S3Store],
    fault_proxy: FaultProxy,
    generations: Callable[[], int],
    get: Get,
) -> None:
    store = make_store(max_resize_dimension=400)
    original = add_original(store, jpeg(640, 480))
    url = store.locate_resized(original, 150, 113)  # type: ignore[arg-type]
    path, query = url.split("?")
    signature = query.rsplit("sig=", 1)[1]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    refused = {
        path.replace("150x113", "300x225") + "?" + query: 403,  # in proportion, not signed
        path.replace("150x113", "150x150") + "?" + query: 403,
        path.replace("/media/", "/other/") + "?" + query: 404,  # another key prefix
        path.replace("1234/", "01234/") + "?" + query: 404,  # not canonical
        path + "?" + _tamper(query, "src", "641x480.jpe"): 403,
        path + "?" + _tamper(query, "sig", flipped): 403,
        path + "?" + query.split("&sig=")[0]: 403,
        path + "?" + query + "&extra=1": 404,
    }
    asked = len(fault_proxy.requests)
    answers = get(store, list(refused))
    assert [a.status for a in answers] == list(refused.values())
    assert all(b"Traceback" not in a.body and "location" not in a.headers for a in answers)
    # Too large, though signed: 400 before any S3 request.
    signer_store = make_store()
    big = signer_store.locate_resized(original, 480, 360)  # type: ignore[arg-type]
    [answer] = get(store, [big])
    assert answer.status == 400
    assert len(fault_proxy.requests) == asked
    assert generations() == 0


def test_not_resize_urls(make_store: Callable[..., S3Store], get: Get) -> None:
    store = make_store()
    answers = get(
        store,
        [
            f"{BASE}__images__/media/user-picture/1234/150x113.jpe",
            f"{BASE}__images__/media/user-picture/1234/150x113.txt?src=640x480.jpe",
            f"{BASE}somewhere/else",
        ],
    )
    assert [a.status for a in answers] == [404, 404, 200]
    assert answers[2].body == b"the app"


def test_one_generation_for_many_concurrent_requests(
    make_store: Callable[..., S3Store],
    fault_proxy: FaultProxy,
    generations: Callable[[], int],
    get: Get,
) -> None:
    store = make_store(resize_workers=2, resize_queue=2)
    original = add_original(store, jpeg(1200, 900))
    url = store.locate_resized(original, 300, 225)  # type: ignore[arg-type]
    answers = get(store, [url] * 24)
    assert [a.status for a in answers] == [302] * 24
    assert len({a.headers["location"] for a in answers}) == 1
    assert generations() == 1
    assert original_gets(fault_proxy, original) == 1
    assert fetch(answers[0].headers["location"]) == ("JPEG", 300, 225)


def test_full_pool_answers_503(
    make_store: Callable[..., S3Store], generations: Callable[[], int], get: Get
) -> None:
    store = make_store(resize_workers=1, resize_queue=0)
    original = add_original(store, jpeg(64, 48))
    url = store.locate_resized(original, 32, 24)  # type: ignore[arg-type]
    release = threading.Event()
    busy = store.resizer.pool.submit(release.wait, 10)  # the only worker is taken
    try:
        [answer] = get(store, [url])
    finally:
        release.set()
        busy.result()
    assert answer.status == 503
    assert answer.headers["retry-after"] == "1"
    assert generations() == 0
    assert [a.status for a in get(store, [url])] == [302]


def test_corrupt_original_is_422_and_stores_nothing(
    make_store: Callable[..., S3Store], generations: Callable[[], int], get: Get
) -> None:
    store = make_store()
    store.put_file(io.BytesIO(corrupt_jpeg()), "user-picture", 7, 640, 480, "image/jpeg", False)
    original = Original("user-picture", 7, 640, 480, "image/jpeg")
    url = store.locate_resized(original, 150, 113)  # type: ignore[arg-type]
    [answer] = get(store, [url])
    assert answer.status == 422
    assert answer.body.startswith(b"Unprocessable")
    assert store.list_files("user-picture", 7) == [(640, 480, "image/jpeg")]
    assert generations() == 0


def test_missing_original_is_404(make_store: Callable[..., S3Store], get: Get) -> None:
    store = make_store()
    original = Original("user-picture", 8, 640, 480, "image/jpeg")
    [answer] = get(store, [store.locate_resized(original, 150, 113)])  # type: ignore[arg-type]
    assert answer.status == 404
    assert store.list_files("user-picture", 8) == []


def test_locate_through_the_orm_and_delete_removes_the_variant(
    engine: Engine, make_store: Callable[..., S3Store]
) -> None:
    store = make_store()
    for factory in sessions(engine):
        with factory() as session, store_context(store):
            thing = Something()
            thing.cover.from_blob(jpeg(200, 100))
            session.add(thing)
            session.commit()
            url = thing.cover.locate(width=50)
            assert "/__images__/media/ia-something-cover/" in url
            assert [a.status for a in wsgi_get(store, [url])] == [302]
            object_id = thing.id
            assert store.list_files("ia-something-cover", object_id) == [
                (50, 25, "image/jpeg"),
                (200, 100, "image/jpeg"),
            ]
            session.delete(thing)
            session.commit()
        assert store.list_files("ia-something-cover", object_id) == []


def test_urls_use_the_request_host(make_store: Callable[..., S3Store]) -> None:
    store = make_store(resize_url_base=None)
    original = Original("user-picture", 1, 640, 480, "image/jpeg")
    with pytest.raises(LocateError, match="resize_url_base"):
        store.locate_resized(original, 150, 113)  # type: ignore[arg-type]
    seen: list[str] = []

    def page(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append(store.locate_resized(original, 150, 113))  # type: ignore[arg-type]
        return app(environ, start_response)

    Client(store.wsgi_middleware(page)).get("/page", base_url="https://example.org/app/")
    assert seen[0].startswith("https://example.org/app/__images__/media/user-picture/1/150x113")


def test_configuration_errors(make_store: Callable[..., S3Store]) -> None:
    original = Original("user-picture", 1, 640, 480, "image/jpeg")
    unsigned = make_store(resize_secret_key=None)
    with pytest.raises(SigningNotConfiguredError, match="resize_secret_key"):
        unsigned.locate_resized(original, 150, 113)  # type: ignore[arg-type]
    # Nothing to answer: the adapters may wrap any store, the app is kept as is.
    assert unsigned.wsgi_middleware(app) is app
    assert unsigned.asgi_middleware(asgi_app) is asgi_app
    allowlisted = make_store(resize_secret_key=None, resize_allowlist=[150])
    assert "sig=" not in allowlisted.locate_resized(original, 150, 113)  # type: ignore[arg-type]
    for bad in (
        {"resize_secret_key": "short"},
        {"resize_url_base": "example.com"},
        {"resize_prefix": "/"},
        {"resize_workers": 0},
        {"max_source_pixels": -1},
        {"resize_serve_options": {"on_miss": print}},
        {"resize_serve_options": {"no_such_option": 1}},
    ):
        with pytest.raises(ConfigurationError):
            make_store(**bad)


def test_presigned_redirects_are_not_cached(make_store: Callable[..., S3Store], get: Get) -> None:
    store = make_store(presigned=True)
    original = add_original(store, jpeg(64, 48))
    [answer] = get(store, [store.locate_resized(original, 32, 24)])  # type: ignore[arg-type]
    assert answer.status == 302
    assert "X-Amz-Signature=" in answer.headers["location"]
    assert "_ts=" not in answer.headers["location"]
    assert answer.headers["cache-control"] == "no-cache"
    assert fetch(answer.headers["location"]) == ("JPEG", 32, 24)


def test_redirect_validates_its_location() -> None:
    with pytest.raises(ConfigurationError):
        Redirect("/relative")
    with pytest.raises(ConfigurationError):
        Redirect("http://example.com/\r\nSet-Cookie: x=1")


# -- variants ---------------------------------------------------------------------------


def test_cover_webp_is_stored_typed_and_redirected(
    make_store: Callable[..., S3Store], get: Get
) -> None:
    store = make_store()
    original = add_original(store, jpeg(640, 480))
    url = store.locate_resized(
        original,  # type: ignore[arg-type]
        150,
        150,
        variant=Variant("cover", "north"),
        format="image/webp",
    )
    assert url.startswith(f"{BASE}__images__/media/user-picture/1234/150x150.cover-north.webp?")
    [answer] = get(store, [url])
    assert answer.status == 302
    location = answer.headers["location"]
    assert "/media/user-picture/1234/150x150.cover-north.webp?_ts=" in location
    response = httpx.get(location)
    assert response.content[8:12] == b"WEBP"
    with WandImage(blob=response.content) as image:
        assert (image.width, image.height) == (150, 150)
    stored = store.client.head_object(
        Bucket=store.bucket, Key="media/user-picture/1234/150x150.cover-north.webp"
    )
    assert stored["ContentType"] == "image/webp"
    keyed = keyed_mimetype("image/webp", Variant("cover", "north"))
    assert store.list_files("user-picture", 1234) == [(150, 150, keyed), (640, 480, "image/jpeg")]
    assert store.derived_files("user-picture", 1234) == {
        (150, 150, keyed): stored["Metadata"]["imageattach-source"]
    }
    # Another gravity under the same signature: refused.
    tampered = url.replace(".cover-north.webp", ".cover-south.webp")
    assert [a.status for a in get(store, [tampered])] == [403]


def test_deleting_the_original_removes_every_variant(
    engine: Engine, make_store: Callable[..., S3Store]
) -> None:
    store = make_store()
    for factory in sessions(engine):
        with factory() as session, store_context(store):
            thing = Something()
            thing.cover.from_blob(jpeg(200, 100))
            session.add(thing)
            session.commit()
            urls = [
                thing.cover.locate(width=50),
                thing.cover.locate(width=40, height=40, fit="cover", format="webp"),
                thing.cover.locate(width=40, height=40, fit="cover", quality=50),
                thing.cover.locate(width=60, format="png"),
            ]
            assert [a.status for a in wsgi_get(store, urls)] == [302] * 4
            object_id = thing.id
            assert len(store.list_files("ia-something-cover", object_id)) == 5
            session.delete(thing)
            session.commit()
        assert store.list_files("ia-something-cover", object_id) == []


@pytest.mark.parametrize("name", ["150x150.cover.webp.webp", "150x150.Cover.webp", "150x150..webp"])
def test_malformed_variant_keys_are_not_found(
    make_store: Callable[..., S3Store], get: Get, name: str
) -> None:
    store = make_store()
    query = "src=640x480.jpe&sig=AAAAAAAAAAAAAAAAAAAAAA"
    url = f"{BASE}__images__/media/user-picture/1234/{name}?{query}"
    assert [a.status for a in get(store, [url])] == [404]


def test_auto_redirects_to_the_negotiated_variant(
    make_store: Callable[..., S3Store], get: Get
) -> None:
    store = make_store()
    original = add_original(store, jpeg(640, 480))
    url = store.locate_resized(
        original,  # type: ignore[arg-type]
        150,
        150,
        variant=Variant("cover"),
        format="auto",
    )
    assert "/media/user-picture/1234/150x150.cover.auto.jpe?" in url
    wrapped = store.wsgi_middleware(app)
    parts = urlsplit(url)
    for accept, name in [
        ("image/avif,image/webp,*/*", "150x150.cover.avif"),
        ("image/webp,*/*", "150x150.cover.webp"),
        ("*/*", "150x150.cover.jpe"),
    ]:
        response = Client(wrapped).get(
            parts.path, query_string=parts.query, headers={"Accept": accept}
        )
        assert response.status_code == 302
        assert f"/media/user-picture/1234/{name}?_ts=" in response.headers["Location"]
        assert response.headers["Vary"] == "Accept"
    assert len(store.list_files("user-picture", 1234)) == 4
