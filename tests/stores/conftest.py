"""Fixtures for the store tests: S3 stores on the moto server, and faulty endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stores.s3server import Blackhole, FaultProxy, MotoServer, S3StoreFactory, s3_options

from imageattach.stores.s3 import S3Store


@pytest.fixture
def bucket(moto_server: MotoServer) -> str:
    """A new, empty bucket on the moto server."""
    return moto_server.new_bucket()


@pytest.fixture
def make_s3_store(moto_server: MotoServer, bucket: str) -> S3StoreFactory:
    """Build an :class:`S3Store` on :func:`bucket` (options may override anything)."""

    def make(**options: Any) -> S3Store:
        options = s3_options(options.pop("endpoint_url", moto_server.url), **options)
        return S3Store(options.pop("bucket", bucket), **options)

    return make


@pytest.fixture
def s3_store(make_s3_store: S3StoreFactory) -> S3Store:
    return make_s3_store()


@pytest.fixture
def fault_proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    """A proxy in front of the moto server that can inject error statuses."""
    proxy = FaultProxy(moto_server.url)
    yield proxy
    proxy.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    """An endpoint that accepts connections and never answers."""
    hole = Blackhole()
    yield hole
    hole.close()
