"""Conditional writes (``If-None-Match: *``) of on-demand thumbnails to S3,
on the moto server (which honours them: a second PUT gets 412) behind the
recording proxy, which can also answer 412 or 501 itself."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from images import jpeg
from originals import KEY, Original
from stores.s3server import FaultProxy, S3StoreFactory, s3_options

from imageattach.exceptions import ConfigurationError, StoreUnavailableError
from imageattach.middleware.miss import Redirect
from imageattach.stores.s3 import S3Store

THUMBNAIL = ("thing", 5, 32, 24, "image/jpeg")
KEY_PATH = "thing/5/32x24.jpe"


@pytest.fixture
def make_store(
    make_s3_store: S3StoreFactory, fault_proxy: FaultProxy
) -> Iterator[Callable[..., S3Store]]:
    """S3 stores talking to moto through the recording proxy."""
    made: list[S3Store] = []

    def make(**options: Any) -> S3Store:
        options.setdefault("resize_secret_key", KEY)
        options.setdefault("resize_url_base", "http://testserver/")
        store: S3Store = make_s3_store(endpoint_url=fault_proxy.url, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.resizer.shutdown()


def stored(store: S3Store) -> tuple[bytes, dict[str, str]]:
    response = store.client.get_object(Bucket=store.bucket, Key=KEY_PATH)
    return response["Body"].read(), response["Metadata"]


def puts(proxy: FaultProxy) -> list[dict[str, str]]:
    """The headers of every PUT of the thumbnail's key."""
    return [h for m, path, h in proxy.headers if m == "PUT" and path.endswith(KEY_PATH)]


def test_published_with_if_none_match(
    make_store: Callable[..., S3Store], fault_proxy: FaultProxy
) -> None:
    store = make_store()
    store.put_derived(io.BytesIO(b"first"), *THUMBNAIL, '"v1"')
    assert stored(store) == (b"first", {"imageattach-source": '"v1"'})
    assert [h.get("if-none-match") for h in puts(fault_proxy)] == ["*"]


def test_a_second_publication_of_the_same_original_is_kept_out(
    make_store: Callable[..., S3Store], fault_proxy: FaultProxy
) -> None:
    store = make_store()
    store.put_derived(io.BytesIO(b"first"), *THUMBNAIL, '"v1"')
    # Another server that lost its lease publishes the same thumbnail:
    # moto answers 412, and the first stays as it is.
    store.put_derived(io.BytesIO(b"second"), *THUMBNAIL, '"v1"')
    assert stored(store) == (b"first", {"imageattach-source": '"v1"'})
    assert len(puts(fault_proxy)) == 2


def test_a_stale_thumbnail_of_another_original_is_overwritten(
    make_store: Callable[..., S3Store], fault_proxy: FaultProxy
) -> None:
    store = make_store()
    store.put_derived(io.BytesIO(b"of the old original"), *THUMBNAIL, '"old"')
    store.put_derived(io.BytesIO(b"of the new one"), *THUMBNAIL, '"new"')
    assert stored(store) == (b"of the new one", {"imageattach-source": '"new"'})
    assert [h.get("if-none-match") for h in puts(fault_proxy)] == ["*", "*", None]


def test_a_412_with_nothing_there_writes_it(
    make_store: Callable[..., S3Store], fault_proxy: FaultProxy
) -> None:
    store = make_store()
    fault_proxy.fail(1, 412, "PUT")
    store.put_derived(io.BytesIO(b"data"), *THUMBNAIL, '"v1"')
    assert stored(store) == (b"data", {"imageattach-source": '"v1"'})
    assert store.conditional_writes


def test_a_501_turns_conditional_writes_off_with_one_warning(
    make_store: Callable[..., S3Store],
    fault_proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = make_store()
    fault_proxy.fail(1, 501, "PUT")
    with caplog.at_level(logging.WARNING, logger="imageattach.stores.s3"):
        store.put_derived(io.BytesIO(b"one"), *THUMBNAIL, '"v1"')
        store.put_derived(io.BytesIO(b"two"), *THUMBNAIL, '"v2"')
    assert stored(store) == (b"two", {"imageattach-source": '"v2"'})
    assert not store.conditional_writes
    assert [h.get("if-none-match") for h in puts(fault_proxy)] == ["*", None, None]
    [warning] = caplog.records
    assert "does not support conditional writes" in warning.getMessage()
    assert warning.image_key == KEY_PATH  # type: ignore[attr-defined]


def test_other_failures_are_store_errors(
    make_store: Callable[..., S3Store], fault_proxy: FaultProxy
) -> None:
    store = make_store(max_retry=0)
    fault_proxy.fail(1, 503, "PUT")
    with pytest.raises(StoreUnavailableError, match="upload to"):
        store.put_derived(io.BytesIO(b"data"), *THUMBNAIL, '"v1"')
    assert store.conditional_writes


def test_off(make_store: Callable[..., S3Store], fault_proxy: FaultProxy) -> None:
    store = make_store(conditional_writes=False)
    store.put_derived(io.BytesIO(b"first"), *THUMBNAIL, '"v1"')
    store.put_derived(io.BytesIO(b"second"), *THUMBNAIL, '"v1"')
    assert stored(store) == (b"second", {"imageattach-source": '"v1"'})
    assert [h.get("if-none-match") for h in puts(fault_proxy)] == [None, None]
    with pytest.raises(ConfigurationError, match="conditional_writes must be True or False"):
        make_store(conditional_writes="yes")


class Blind(S3Store):
    """A store whose thumbnails never seem to exist: a server that looked
    while it held the lease, before another server published."""

    def exists(self, *key: Any) -> bool:
        return False


def test_a_generation_that_lost_its_lease_does_not_publish_twice(
    make_store: Callable[..., S3Store], fault_proxy: FaultProxy, bucket: str
) -> None:
    one = make_store()
    two = Blind(bucket, **s3_options(fault_proxy.url, resize_secret_key=KEY))
    one.put_file(io.BytesIO(jpeg(64, 48)), "thing", 5, 64, 48, "image/jpeg", False)
    original: Any = Original("thing", 5, 64, 48, "image/jpeg")
    request = one.resizer.request_for(original, 32, 24)
    assert isinstance(one.resizer.generate(request), Redirect)
    first = one.client.head_object(Bucket=one.bucket, Key=KEY_PATH)
    try:
        assert isinstance(two.resizer.generate(request), Redirect)
    finally:
        two.resizer.shutdown()
    again = one.client.head_object(Bucket=one.bucket, Key=KEY_PATH)
    assert (again["ETag"], again["LastModified"]) == (first["ETag"], first["LastModified"])
    assert [h.get("if-none-match") for h in puts(fault_proxy)] == ["*", "*"]
    assert one.resizer.generations == two.resizer.generations == 1
