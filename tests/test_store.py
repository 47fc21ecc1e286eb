"""The Store interface: primitives, consumer methods, seed compatibility."""

from __future__ import annotations

import datetime
import io

import pytest
from entity_models import SomethingCover

from imageattach.entity import Image
from imageattach.store import Store, created_tag


class SeedStyleStore(Store):
    """A third-party store written for the seed: the four primitives only,
    and a ``get_file`` whose stream can neither seek nor be used in ``with``."""

    def __init__(self, base_url: str = "https://cdn.example.com/") -> None:
        self.files: dict[tuple[str, int, int, int, str], bytes] = {}
        self.reproducible: dict[tuple[str, int, int, int, str], bool] = {}
        self.base_url = base_url

    def put_file(self, file, object_type, object_id, width, height, mimetype, reproducible):  # type: ignore[no-untyped-def]
        key = object_type, object_id, width, height, mimetype
        self.files[key] = file.read()
        self.reproducible[key] = reproducible

    def delete_file(self, object_type, object_id, width, height, mimetype):  # type: ignore[no-untyped-def]
        del self.files[object_type, object_id, width, height, mimetype]

    def get_file(self, object_type, object_id, width, height, mimetype):  # type: ignore[no-untyped-def]
        data = self.files[object_type, object_id, width, height, mimetype]

        class Stream:
            def __init__(self) -> None:
                self.buffer = io.BytesIO(data)
                self.closed = False

            def read(self, size: int = -1) -> bytes:
                return self.buffer.read(size)

            def readline(self, size: int = -1) -> bytes:
                return self.buffer.readline(size)

            def readlines(self) -> list[bytes]:
                return self.buffer.readlines()

            def close(self) -> None:
                self.closed = True

        return Stream()

    def get_url(self, object_type, object_id, width, height, mimetype):  # type: ignore[no-untyped-def]
        return f"{self.base_url}{object_type}/{object_id}/{width}x{height}"


def image(*, original: bool = True, created_at: datetime.datetime | None = None) -> SomethingCover:
    return SomethingCover(
        something_id=7,
        width=40,
        height=30,
        mimetype="image/png",
        original=original,
        created_at=created_at,
    )


WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC)


def test_consumer_methods_call_the_seeds_primitives() -> None:
    store = SeedStyleStore()
    store.store(image(), io.BytesIO(b"original"))
    thumbnail = SomethingCover(
        something_id=7, width=20, height=15, mimetype="image/png", original=False
    )
    store.store(thumbnail, io.BytesIO(b"thumbnail"))
    assert store.files == {
        ("ia-something-cover", 7, 40, 30, "image/png"): b"original",
        ("ia-something-cover", 7, 20, 15, "image/png"): b"thumbnail",
    }
    assert store.reproducible == {
        ("ia-something-cover", 7, 40, 30, "image/png"): False,
        ("ia-something-cover", 7, 20, 15, "image/png"): True,
    }
    with store.open(image()) as f:
        assert f.read() == b"original"
    store.delete(image())
    assert list(store.files) == [("ia-something-cover", 7, 20, 15, "image/png")]


def test_open_wraps_streams_without_with_or_seek() -> None:
    store = SeedStyleStore()
    store.store(image(), io.BytesIO(b"line one\nline two\n"))
    with store.open(image()) as f:
        assert list(f) == [b"line one\n", b"line two\n"]
    with store.open(image(), use_seek=True) as f:
        f.read()
        f.seek(0)
        assert f.read(4) == b"line"


def test_locate_adds_the_created_at_tag() -> None:
    store = SeedStyleStore()
    assert store.locate(image(created_at=WHEN)) == (
        "https://cdn.example.com/ia-something-cover/7/40x30?_ts=20240506070809123456"
    )
    assert store.locate(image()) == "https://cdn.example.com/ia-something-cover/7/40x30"
    signed = SeedStyleStore("https://cdn.example.com/?sig=1&p=")
    assert signed.locate(image(created_at=WHEN)).endswith("40x30&_ts=20240506070809123456")


def test_created_tag() -> None:
    assert created_tag(WHEN) == "20240506070809123456"
    assert created_tag(None) == ""


@pytest.mark.parametrize("method", ["put_file", "delete_file", "get_file", "get_url"])
def test_primitives_must_be_implemented(method: str) -> None:
    arguments: tuple[object, ...] = ("t", 1, 2, 3, "image/png")
    if method == "put_file":
        arguments = (io.BytesIO(), *arguments, False)
    with pytest.raises(NotImplementedError, match=f"{method}\\(\\) has to be implemented"):
        getattr(Store(), method)(*arguments)


def test_optional_extensions_have_safe_defaults() -> None:
    store = Store()
    with pytest.raises(NotImplementedError, match="list_files"):
        store.list_files("t", 1)
    assert store.exists("t", 1, 2, 3, "image/png") is None
    with pytest.raises(NotImplementedError, match="cannot make thumbnails on demand"):
        store.locate_resized(image(), 20, 15)


def test_consumer_methods_check_their_arguments() -> None:
    store = SeedStyleStore()
    with pytest.raises(TypeError, match="Image"):
        store.store("not an image", io.BytesIO())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="readable"):
        store.store(image(), b"bytes, not a file")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Image"):
        store.locate(object())  # type: ignore[arg-type]

    class TextualId(Image):
        """An unmapped image whose object_id is not a number."""

        def __init__(self) -> None:
            self.object_type, self.width, self.height = "t", 1, 1
            self.mimetype, self.original = "image/png", True

        @property
        def object_id(self) -> int:
            return "12"  # type: ignore[return-value]

    with pytest.raises(TypeError, match="object_id"):
        store.store(TextualId(), io.BytesIO())
