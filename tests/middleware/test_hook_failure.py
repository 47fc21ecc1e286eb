"""An ``on_miss`` hook that raises: every front end answers a plain 500 (no
traceback) and logs the error with the key of the file asked for
(``extra={"image_key": ...}``); the request is counted like any other."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from observed import logged, metrics_registry, value
from prometheus_client import CollectorRegistry

from imageattach.middleware.miss import MissResult

from .conftest import Serve, make_client

THUMB = "/images/user/5/0/5.10x10.png"


def broken(relative_path: str, query_string: str) -> MissResult:
    raise RuntimeError("the hook is broken")


async def broken_async(relative_path: str, query_string: str) -> MissResult:
    raise RuntimeError("the hook is broken")


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    with metrics_registry() as registry:
        yield registry


def check(response_status: int, body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    assert response_status == 500
    assert body == b"Internal Server Error"
    [record] = logged(caplog, "imageattach.middleware")
    assert record.levelno == logging.ERROR
    assert record.image_key == "user/5/0/5.10x10.png"  # type: ignore[attr-defined]
    assert record.exc_info is not None and "the hook is broken" in str(record.exc_info[1])


def test_a_raising_hook(
    serve: Serve, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    response = serve(on_miss=broken).request("GET", THUMB + "?s=abc")
    check(response.status, response.body, caplog)
    labels = {"status": "500", "method": "GET"}
    assert value(registry, "imageattach_responses_total", **labels) == 1


@pytest.mark.parametrize("kind", ["asgi", "asgi-pathsend"])
def test_a_raising_coroutine_hook(root: Path, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    response = make_client(kind, root, on_miss=broken_async).request("GET", THUMB)
    check(response.status, response.body, caplog)
