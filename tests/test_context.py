"""The store context stack: nesting, exception safety, isolation."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageattach.context import (
    ContextError,
    context_stacks,
    current_store,
    get_current_store,
    pop_store_context,
    push_store_context,
    resolve_store,
    store_context,
)
from imageattach.stores.fs import FileSystemStore


def make_store(name: str) -> FileSystemStore:
    return FileSystemStore(f"/tmp/{name}", f"http://{name}/")


def test_no_store_raises_context_error() -> None:
    with pytest.raises(ContextError, match="store_context"):
        get_current_store()


def test_nesting_and_restoring() -> None:
    a, b = make_store("a"), make_store("b")
    with store_context(a):
        assert get_current_store() is a
        with store_context(b):
            assert get_current_store() is b
            assert resolve_store(current_store) is b
        assert get_current_store() is a
    with pytest.raises(ContextError):
        get_current_store()


def test_exception_restores_previous_store() -> None:
    a, b = make_store("a"), make_store("b")
    with store_context(a):
        with pytest.raises(ZeroDivisionError), store_context(b):
            1 / 0  # noqa: B018
        assert get_current_store() is a


def test_push_pop() -> None:
    a = make_store("a")
    push_store_context(a)
    assert get_current_store() is a
    assert pop_store_context() is a
    with pytest.raises(ContextError):
        pop_store_context()


def test_threads_do_not_share_stacks() -> None:
    a = make_store("a")
    seen: list[object] = []
    with store_context(a):
        thread = threading.Thread(target=lambda: seen.append(_try_current()))
        thread.start()
        thread.join()
    assert seen == [None]


def _try_current() -> object:
    try:
        return get_current_store()
    except ContextError:
        return None


def test_asyncio_tasks_are_isolated() -> None:
    a, b = make_store("a"), make_store("b")

    async def worker(store: FileSystemStore, started: asyncio.Event, other: asyncio.Event) -> bool:
        with store_context(store):
            started.set()
            await other.wait()
            await asyncio.sleep(0)
            return get_current_store() is store

    async def main() -> list[bool]:
        ea, eb = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(worker(a, ea, eb), worker(b, eb, ea)))

    assert asyncio.run(main()) == [True, True]


def test_proxy_forwards_primitives_and_repr() -> None:
    a = make_store("a")
    with store_context(a):
        assert current_store.get_url("t", 1, 2, 3, "image/png") == "http://a/t/1/0/1.2x3.png"
        assert "current_store" in repr(current_store)


def test_push_rejects_non_store() -> None:
    with pytest.raises(TypeError):
        push_store_context("not a store")  # type: ignore[arg-type]


def test_the_proxy_compares_and_hashes_as_the_current_store(tmp_path: Path) -> None:
    store = FileSystemStore(tmp_path, "http://static.example.com/")
    other = FileSystemStore(tmp_path / "other", "http://other.example.com/")
    with store_context(store):
        assert current_store == store and store == current_store
        assert current_store != other
        assert (current_store != store) is False
        assert hash(current_store) == hash(store)
        assert {store: "found"}[current_store] == "found"
    with store_context(other):
        assert current_store == other and current_store != store


def test_python_m_version_prints_the_version() -> None:
    import subprocess
    import sys

    from imageattach.version import VERSION

    result = subprocess.run(
        [sys.executable, "-m", "imageattach.version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == VERSION


def _abandoned_generator(store: FileSystemStore) -> Iterator[None]:
    """A generator holding a ``store_context`` open, as a streamed response
    body does; it is left unfinished and in a reference cycle."""
    with store_context(store):
        yield


def test_an_abandoned_block_closed_by_the_gc_leaves_the_current_stack(tmp_path: Path) -> None:
    a, b = FileSystemStore(tmp_path, "http://a/"), FileSystemStore(tmp_path, "http://b/")
    gc.disable()
    try:
        generator = _abandoned_generator(a)
        next(generator)
        holder: list[object] = [generator]
        holder.append(holder)  # only the cyclic collector frees it
        pop_store_context()  # the request that abandoned it ended without closing it
        del generator, holder
        with store_context(b):
            gc.collect()  # closes the generator: its block exits here, in b's block
            assert get_current_store() is b
        assert context_stacks == {}
    finally:
        gc.enable()


def test_a_block_entered_in_another_thread_is_not_exited_here(tmp_path: Path) -> None:
    a, b = FileSystemStore(tmp_path, "http://a/"), FileSystemStore(tmp_path, "http://b/")
    block = store_context(a)
    thread = threading.Thread(target=block.__enter__)
    thread.start()
    thread.join()
    with store_context(a):  # an equal stack, but this context's own
        block.__exit__()
        assert get_current_store() is a
    with store_context(b):
        block.__exit__()
        assert get_current_store() is b


def test_pushes_left_inside_a_block_are_undone_when_it_exits(tmp_path: Path) -> None:
    a, b = FileSystemStore(tmp_path, "http://a/"), FileSystemStore(tmp_path, "http://b/")
    with store_context(a):
        push_store_context(b)
    with pytest.raises(ContextError):
        get_current_store()


def test_store_context_as_a_decorator_and_entered_once(tmp_path: Path) -> None:
    store = FileSystemStore(tmp_path, "http://a/")

    @store_context(store)
    def current() -> object:
        return get_current_store()

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(current())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [store] * 4 and current() is store
    block = store_context(store)
    with block, pytest.raises(ContextError, match="entered once"), block:
        pass
