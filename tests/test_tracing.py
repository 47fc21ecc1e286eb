"""OpenTelemetry spans (imageattach.tracing) of real generations on a real
store, collected by the SDK's InMemorySpanExporter: the generation span with
its attributes and outcome, its children (lock wait, store calls, render),
errors recorded, and the request's span as parent."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from images import jpeg, not_an_image
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from originals import KEY, Original

from imageattach import exceptions, tracing
from imageattach.exceptions import ConfigurationError
from imageattach.middleware.miss import FILE_READY, MissResponse
from imageattach.ondemand.resizer import Resizer
from imageattach.stores.fs import HttpExposedFileSystemStore

PREFIX = "http://testserver/__images__/"


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """Spans of imageattach go to an in-memory exporter (the global provider
    is left alone); back to the default after."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(tracer_provider=provider)
    yield provider, exporter
    tracing.enable()
    provider.shutdown()


@pytest.fixture
def exporter(provider: tuple[TracerProvider, InMemorySpanExporter]) -> InMemorySpanExporter:
    return provider[1]


@pytest.fixture
def resizer(tmp_path: Path) -> Iterator[Resizer]:
    store = HttpExposedFileSystemStore(
        tmp_path / "images", "__images__", lambda: "http://testserver/", secret_key=KEY
    )
    resizer = Resizer(store, secret_key=KEY)
    yield resizer
    resizer.shutdown()


def add(resizer: Resizer, data: bytes) -> Original:
    resizer.store.put_file(io.BytesIO(data), "user-picture", 7, 64, 48, "image/jpeg", False)
    return Original("user-picture", 7, 64, 48, "image/jpeg")


def handle(resizer: Resizer, original: Original) -> object:
    url = resizer.url(original, 32, 24)  # type: ignore[arg-type]
    path, _, query = url.removeprefix(PREFIX).partition("?")
    return resizer.handle(path, query)


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    spans = exporter.get_finished_spans()
    named = {span.name: span for span in spans}
    assert len(named) == len(spans), [span.name for span in spans]
    return named


def test_a_generation_and_its_children(resizer: Resizer, exporter: InMemorySpanExporter) -> None:
    assert handle(resizer, add(resizer, jpeg(64, 48))) is FILE_READY
    spans = by_name(exporter)
    assert sorted(spans) == [
        "imageattach.generate",
        "imageattach.lock_wait",
        "imageattach.render",
        "imageattach.store.exists",
        "imageattach.store.file_version",
        "imageattach.store.open_version",
        "imageattach.store.put_derived",
    ]
    generate = spans.pop("imageattach.generate")
    assert generate.parent is None
    assert dict(generate.attributes or {}) == {
        "imageattach.image_key": "user-picture/7/0/7.32x24.jpe",
        "imageattach.width": 32,
        "imageattach.height": 24,
        "imageattach.format": "image/jpeg",
        "imageattach.outcome": "succeeded",
    }
    assert generate.status.status_code is StatusCode.UNSET
    assert generate.instrumentation_scope is not None
    assert generate.instrumentation_scope.name == "imageattach"
    assert generate.context is not None
    for child in spans.values():
        assert child.parent is not None and child.parent.span_id == generate.context.span_id
        assert child.context is not None and child.context.trace_id == generate.context.trace_id
        assert child.status.status_code is StatusCode.UNSET
    # In order, inside the generation.
    order = sorted(spans.values(), key=lambda span: span.start_time or 0)
    assert [span.name for span in order] == [
        "imageattach.lock_wait",
        "imageattach.store.exists",
        "imageattach.store.open_version",
        "imageattach.render",
        "imageattach.store.file_version",
        "imageattach.store.put_derived",
    ]
    assert (generate.start_time or 0) <= (order[0].start_time or 0)
    assert (order[-1].end_time or 0) <= (generate.end_time or 0)


def test_already_stored(resizer: Resizer, exporter: InMemorySpanExporter) -> None:
    original = add(resizer, jpeg(64, 48))
    handle(resizer, original)
    exporter.clear()
    assert handle(resizer, original) is FILE_READY
    spans = by_name(exporter)
    assert sorted(spans) == [
        "imageattach.generate",
        "imageattach.lock_wait",
        "imageattach.store.exists",
    ]
    attributes = spans["imageattach.generate"].attributes or {}
    assert attributes["imageattach.outcome"] == "already_stored"


def test_a_failure_is_recorded_on_the_spans(
    resizer: Resizer, exporter: InMemorySpanExporter
) -> None:
    answer = handle(resizer, add(resizer, not_an_image()))
    assert isinstance(answer, MissResponse) and answer.status == 422
    spans = by_name(exporter)
    generate = spans["imageattach.generate"]
    assert (generate.attributes or {})["imageattach.outcome"] == "unprocessable"
    assert generate.status.status_code is StatusCode.ERROR
    assert generate.status.description == "unprocessable"
    [event] = generate.events
    assert event.name == "exception"
    raised = str((event.attributes or {})["exception.type"]).rpartition(".")[2]
    assert issubclass(getattr(exceptions, raised), exceptions.ImageError)
    # The render span, where it failed, records it too.
    render = spans["imageattach.render"]
    assert render.status.status_code is StatusCode.ERROR
    assert [e.name for e in render.events] == ["exception"]
    assert "imageattach.store.put_derived" not in spans


def test_a_missing_original_fails_in_open_version(
    resizer: Resizer, exporter: InMemorySpanExporter
) -> None:
    answer = handle(resizer, Original("user-picture", 7, 64, 48, "image/jpeg"))
    assert isinstance(answer, MissResponse) and answer.status == 404
    spans = by_name(exporter)
    assert spans["imageattach.store.open_version"].status.status_code is StatusCode.ERROR
    generate = spans["imageattach.generate"]
    assert (generate.attributes or {})["imageattach.outcome"] == "not_found"
    assert generate.status.status_code is StatusCode.ERROR


def test_the_request_span_is_the_parent(
    resizer: Resizer, provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    # The job runs in a pool thread, in the context of the request that started it.
    tracer_provider, exporter = provider
    original = add(resizer, jpeg(64, 48))
    with tracer_provider.get_tracer("the app").start_as_current_span("GET /__images__") as request:
        assert handle(resizer, original) is FILE_READY
    generate = by_name(exporter)["imageattach.generate"]
    assert generate.parent is not None
    assert generate.parent.span_id == request.get_span_context().span_id


def test_disabled_makes_no_spans(resizer: Resizer, exporter: InMemorySpanExporter) -> None:
    tracing.disable()
    assert tracing.current_tracer() is None
    assert handle(resizer, add(resizer, jpeg(64, 48))) is FILE_READY
    assert exporter.get_finished_spans() == ()


GLOBAL_PROVIDER = """
import io, tempfile
import imageattach.imaging
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from images import jpeg
from originals import KEY, Original
from imageattach.stores.fs import HttpExposedFileSystemStore

store = HttpExposedFileSystemStore(tempfile.mkdtemp(), "i", lambda: "http://h/", secret_key=KEY)
store.put_file(io.BytesIO(jpeg(64, 48)), "user-picture", 7, 64, 48, "image/jpeg", False)
url = store.resizer.url(Original("user-picture", 7, 64, 48, "image/jpeg"), 32, 24)
path, _, query = url.removeprefix("http://h/i/").partition("?")
store.resizer.handle(path, query)  # before the SDK: the API's no-op spans
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
store.resizer.generate(store.resizer.request_for(
    Original("user-picture", 7, 64, 48, "image/jpeg"), 16, 12))
store.resizer.shutdown()
print(sorted(span.name for span in exporter.get_finished_spans())[:2])
"""


def test_the_global_provider_is_the_default() -> None:
    # The application installs the SDK, after imageattach made spans or not.
    tests = Path(__file__).resolve().parent
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", GLOBAL_PROVIDER],
        cwd=tests,
        env={**os.environ, "PYTHONPATH": str(tests)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "['imageattach.generate', 'imageattach.lock_wait']"


def test_a_tracer_provider_that_is_not_one() -> None:
    with pytest.raises(ConfigurationError, match="tracer_provider must be an OpenTelemetry"):
        tracing.enable(tracer_provider="the global one")  # type: ignore[arg-type]


def test_an_applications_store_calls_are_spanned(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    """Uploading, opening and deleting an image through the entities: one
    span per store call, named for it, with the file's key path."""
    from entity_models import Something, path, sessions
    from sqlalchemy import create_engine

    from imageattach.context import store_context
    from imageattach.stores.fs import FileSystemStore

    store = FileSystemStore(tmp_path / "images", "http://static.example.com/")
    engine = create_engine(f"sqlite:///{tmp_path / 'test.sqlite'}")
    try:
        for factory in sessions(engine):
            with factory() as session, store_context(store):
                thing = Something()
                thing.cover.from_blob(jpeg(64, 48))
                session.add(thing)
                session.commit()
                key = path("ia-something-cover", thing.id, "64x48.jpe")
                with thing.cover.open_file() as file:
                    assert file.read(2) == b"\xff\xd8"
                session.delete(thing)
                session.commit()
    finally:
        engine.dispose()
    spans = [
        (span.name, (span.attributes or {}).get("imageattach.image_key"))
        for span in exporter.get_finished_spans()
    ]
    assert spans == [
        ("imageattach.store.put_file", key),
        ("imageattach.store.get_file", key),
        ("imageattach.store.delete_file", key),
        ("imageattach.store.purge_derived", key),
    ]
