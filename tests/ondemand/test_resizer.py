"""The on_miss handler with real images, real ImageMagick and a real store."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from images import corrupt_jpeg, jpeg, mvg_payload, not_an_image, png, svg, text_payload
from originals import KEY, Original
from storefiles import image_files, temporary_files

from imageattach.exceptions import ImageError, ImageTooLargeError, SigningNotConfiguredError
from imageattach.imaging import probe
from imageattach.middleware.miss import FILE_READY, MissResponse
from imageattach.ondemand.resizer import Resizer, is_derived_size
from imageattach.ondemand.signing import Signer
from imageattach.ondemand.url import build_query, parse
from imageattach.sizing import thumbnail_size

from . import workers
from .conftest import AddOriginal, CountingStore, decode_size, split

MakeResizer = Callable[..., Resizer]


def stored_files(store: CountingStore) -> list[str]:
    """Every image file under the store root, relative."""
    return image_files(store.path)


def test_cold_miss_generates_and_stores(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    url = resizer.url(original, 150, 113)  # type: ignore[arg-type]
    assert url.startswith("http://testserver/__images__/user-picture/234/1/1234.150x113.jpe?")
    assert resizer.handle(*split(url)) is FILE_READY
    with store.get_file("user-picture", 1234, 150, 113, "image/jpeg") as f:
        assert decode_size(f.read()) == ("JPEG", 150, 113)
    assert resizer.generations == 1
    # Asked again (e.g. a request that missed just before the file appeared):
    # the store is re-checked, nothing is generated.
    assert resizer.handle(*split(url)) is FILE_READY
    assert resizer.generations == 1
    assert stored_files(store) == [
        "user-picture/234/1/1234.150x113.jpe",
        "user-picture/234/1/1234.640x480.jpe",
    ]


def test_png_original(add_original: AddOriginal, make_resizer: MakeResizer) -> None:
    resizer = make_resizer()
    original = add_original(png(300, 200), object_id=1)
    url = resizer.url(original, 30, 20)  # type: ignore[arg-type]
    assert url.split("?")[0].endswith("/1.30x20.png")
    assert resizer.handle(*split(url)) is FILE_READY
    assert decode_size(Path(resizer.store.path, split(url)[0]).read_bytes()) == ("PNG", 30, 20)


def test_svg_original_gives_png(add_original: AddOriginal, make_resizer: MakeResizer) -> None:
    try:
        probe(svg(200, 100))
    except ImageError as error:
        pytest.skip(f"this ImageMagick cannot read SVG: {error}")
    resizer = make_resizer()
    original = add_original(svg(200, 100), object_id=2)
    url = resizer.url(original, 100, 50)  # type: ignore[arg-type]
    assert url.split("?")[0].endswith("/2.100x50.png") and "src=200x100.svg" in url
    assert resizer.handle(*split(url)) is FILE_READY
    assert decode_size(Path(resizer.store.path, split(url)[0]).read_bytes()) == ("PNG", 100, 50)


def test_not_a_resize_url(make_resizer: MakeResizer) -> None:
    resizer = make_resizer()
    assert resizer.handle("user-picture/234/1/1234.150x113.jpe", "") is None
    assert resizer.handle("user-picture/234/1/1234.150x113.jpe", "_ts=1") is None


def _tamper(query: str, name: str, value: str) -> str:
    return "&".join(f"{name}={value}" if p.startswith(name + "=") else p for p in query.split("&"))


def test_tampered_urls_cost_no_image_work(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    path, query = split(resizer.url(original, 150, 113))  # type: ignore[arg-type]
    signature = query.rsplit("sig=", 1)[1]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    cases = [
        (path.replace("150x113", "300x225"), query),  # a bigger size, still in proportion
        (path.replace("150x113", "150x150"), query),
        (path.replace("user-picture", "user-pictures"), query),
        (path.replace("1234.", "1235."), query),
        (path, _tamper(query, "src", "641x480.jpe")),
        (path, _tamper(query, "src", "640x480.png")),
        (path, _tamper(query, "_ts", "20240102030405000007")),
        (path, query.replace("_ts=20240102030405000006&", "")),
        (path, _tamper(query, "sig", flipped)),
        (path, query.split("&sig=")[0]),  # unsigned
        (path, query + "&extra=1"),
    ]
    for case in cases:
        answer = resizer.handle(*case)
        assert isinstance(answer, MissResponse), case
        assert answer.status in (403, 404), case
    assert store.opened == 0
    assert resizer.generations == 0
    assert stored_files(store) == ["user-picture/234/1/1234.640x480.jpe"]
    # The control: the untampered URL works.
    assert resizer.handle(path, query) is FILE_READY


def test_signature_over_distorted_size_refused(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    # Even a correctly signed URL cannot ask for a size that does not follow
    # from the original (a signing bug would not let anyone make arbitrary sizes).
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    path, query = split(resizer.url(original, 150, 113))  # type: ignore[arg-type]
    parsed = parse(store, path.replace("150x113", "150x300"), query.split("&sig=")[0])
    assert parsed is not None
    distorted, _ = parsed
    signed = build_query(distorted, Signer(KEY).sign(distorted.message))
    answer = resizer.handle(distorted.path, signed)
    assert isinstance(answer, MissResponse) and answer.status == 404
    assert store.opened == 0 and resizer.generations == 0


def test_key_rotation(add_original: AddOriginal, make_resizer: MakeResizer) -> None:
    original = add_original(jpeg(64, 48))
    old_url = make_resizer(secret_key="old-secret-key-0123456789abcdef").url(original, 32, 24)  # type: ignore[arg-type]
    rotated = make_resizer(secret_key=[KEY, "old-secret-key-0123456789abcdef"])
    assert rotated.url(original, 32, 24) != old_url  # type: ignore[arg-type]
    assert rotated.handle(*split(old_url)) is FILE_READY
    dropped = make_resizer(secret_key=KEY)
    answer = dropped.handle(*split(old_url))
    assert isinstance(answer, MissResponse) and answer.status == 403


def test_allowlist_without_key(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer(secret_key=None, resize_allowlist=[150, 100])
    url = resizer.url(original, 150, 113)  # type: ignore[arg-type]
    assert "sig=" not in url
    assert resizer.handle(*split(url)) is FILE_READY
    by_height = resizer.url(original, *thumbnail_size(640, 480, height=100))  # type: ignore[arg-type]
    assert resizer.handle(*split(by_height)) is FILE_READY
    with pytest.raises(SigningNotConfiguredError, match="resize_allowlist"):
        resizer.url(original, 151, 113)  # type: ignore[arg-type]
    path, query = split(url)
    answer = resizer.handle(path.replace("150x113", "151x113"), query)
    assert isinstance(answer, MissResponse) and answer.status == 403
    assert resizer.generations == 2


def test_neither_key_nor_allowlist(add_original: AddOriginal, make_resizer: MakeResizer) -> None:
    original = add_original(jpeg(64, 48))
    resizer = make_resizer(secret_key=None)
    with pytest.raises(SigningNotConfiguredError, match="secret_key"):
        resizer.url(original, 32, 24)  # type: ignore[arg-type]
    signed = make_resizer().url(original, 32, 24)  # type: ignore[arg-type]
    assert resizer.handle(*split(signed)) is None  # on-demand is off: the usual miss


def test_oversized_request_refused(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer(max_resize_dimension=1000)
    with pytest.raises(ImageTooLargeError, match="max_resize_dimension"):
        resizer.url(original, 1001, 751)  # type: ignore[arg-type]
    # Signed by a process with a higher limit: still refused here.
    url = make_resizer(max_resize_dimension=4096).url(original, 1001, 751)  # type: ignore[arg-type]
    answer = resizer.handle(*split(url))
    assert isinstance(answer, MissResponse) and answer.status == 400
    assert store.opened == 0 and resizer.generations == 0


def test_oversized_source_refused_from_url(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer(max_source_pixels=640 * 480 - 1)
    url = make_resizer().url(original, 150, 113)  # type: ignore[arg-type]
    answer = resizer.handle(*split(url))
    assert isinstance(answer, MissResponse) and answer.status == 422
    assert store.opened == 0


def test_oversized_source_refused_from_header(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    # The row says 64x48 but the file is bigger: the header decides.
    original = add_original(jpeg(640, 480), size=(64, 48), mimetype="image/jpeg")
    resizer = make_resizer(max_source_pixels=100_000)
    answer = resizer.handle(*split(resizer.url(original, 32, 24)))  # type: ignore[arg-type]
    assert isinstance(answer, MissResponse) and answer.status == 422
    assert "pixels" in answer.text
    assert resizer.generations == 0
    assert stored_files(store) == ["user-picture/234/1/1234.64x48.jpe"]


@pytest.fixture(scope="module")
def child() -> Iterator[ProcessPoolExecutor]:
    """A spawned child process for the tests that might crash ImageMagick."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


@pytest.mark.parametrize(
    "data",
    [
        corrupt_jpeg(),
        b"\xff\xd8\xff\xe0" + b"garbage" * 100,
        mvg_payload(),
        text_payload(),
        not_an_image(),
    ],
    ids=["truncated", "garbage", "mvg", "text", "not-an-image"],
)
def test_bad_original_refused_and_nothing_stored(
    store: CountingStore,
    add_original: AddOriginal,
    make_resizer: MakeResizer,
    child: ProcessPoolExecutor,
    data: bytes,
) -> None:
    # In a child process: a payload that crashed ImageMagick would otherwise
    # take the test run down with it (the child's death fails this test only).
    original = add_original(data, size=(64, 48), mimetype="image/jpeg")
    url = make_resizer().url(original, 32, 24)  # type: ignore[arg-type]
    answer = child.submit(workers.handle, store.path, KEY, url).result(60)
    assert answer is not None
    status, text = answer
    assert status == 422
    assert "Traceback" not in text and len(text) < 200
    assert stored_files(store) == ["user-picture/234/1/1234.64x48.jpe"]


def test_missing_original(store: CountingStore, make_resizer: MakeResizer) -> None:
    resizer = make_resizer()
    url = resizer.url(Original("user-picture", 5, 64, 48, "image/jpeg"), 32, 24)  # type: ignore[arg-type]
    answer = resizer.handle(*split(url))
    assert isinstance(answer, MissResponse) and answer.status == 404
    assert stored_files(store) == []


def test_pool_full_answers_503_at_once(
    add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(64, 48))
    resizer = make_resizer(resize_workers=1, resize_queue=1)
    release = threading.Event()
    blockers = [resizer.pool.submit(release.wait, 30) for _ in range(2)]
    assert all(blockers)
    answer = resizer.handle(*split(resizer.url(original, 32, 24)))  # type: ignore[arg-type]
    release.set()
    for blocker in blockers:
        assert blocker is not None and blocker.result(10)
    assert isinstance(answer, MissResponse) and answer.status == 503
    assert dict(answer.headers)["Retry-After"] == "1"
    assert resizer.generations == 0
    assert resizer.handle(*split(resizer.url(original, 32, 24))) is FILE_READY  # type: ignore[arg-type]


def test_waiting_too_long_answers_503(add_original: AddOriginal, make_resizer: MakeResizer) -> None:
    original = add_original(jpeg(64, 48))
    resizer = make_resizer(wait_timeout=0.2)
    url = resizer.url(original, 32, 24)  # type: ignore[arg-type]
    path, _ = split(url)
    with resizer.locks.hold(path, timeout=5):  # another process is generating it
        answer = resizer.handle(*split(url))
    assert isinstance(answer, MissResponse) and answer.status == 503
    assert "Retry-After" in dict(answer.headers)


def test_waiting_for_another_servers_lock_leaves_the_worker_free(
    add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    """With one worker, a generation waiting for a lock held elsewhere does
    not keep another key's thumbnail from being made meanwhile."""
    held, free = add_original(jpeg(64, 48), object_id=1), add_original(jpeg(64, 48), object_id=2)
    resizer = make_resizer(resize_workers=1, resize_queue=1)
    held_url = resizer.url(held, 32, 24)  # type: ignore[arg-type]
    answers: list[object] = []
    with resizer.locks.hold(split(held_url)[0], timeout=5):  # another process has it
        waiting = threading.Thread(target=lambda: answers.append(resizer.handle(*split(held_url))))
        waiting.start()
        deadline = time.monotonic() + 30
        while not len(resizer._flights) and time.monotonic() < deadline:  # its job started
            time.sleep(0.01)
        assert resizer.handle(*split(resizer.url(free, 32, 24))) is FILE_READY  # type: ignore[arg-type]
        assert resizer.generations == 1 and waiting.is_alive()
    waiting.join(30)
    assert answers == [FILE_READY]
    assert resizer.generations == 2


def test_stampede_generates_once(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(1600, 1200))
    resizer = make_resizer(resize_workers=2, resize_queue=2)
    url = resizer.url(original, 300, 225)  # type: ignore[arg-type]
    barrier = threading.Barrier(64)

    def request() -> object:
        barrier.wait()
        return resizer.handle(*split(url))

    with ThreadPoolExecutor(64) as clients:
        answers = list(clients.map(lambda _: request(), range(64)))
    assert answers == [FILE_READY] * 64
    assert resizer.generations == 1


def test_processes_sharing_the_directory_generate_once(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(1600, 1200))
    url = make_resizer().url(original, 300, 225)  # type: ignore[arg-type]
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(3)
    results = context.Queue()
    processes = [
        context.Process(
            target=workers.handle_concurrently, args=(store.path, KEY, url, ready, results)
        )
        for _ in range(3)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
    assert [ok for ok, _ in outcomes] == [True] * 3
    assert sum(generations for _, generations in outcomes) == 1


def test_async_waits_without_blocking_the_loop(
    add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    url = resizer.url(original, 150, 113)  # type: ignore[arg-type]
    path, query = split(url)
    lock_held = threading.Event()
    release = threading.Event()

    def other_process() -> None:
        with resizer.locks.hold(path, timeout=5):
            lock_held.set()
            release.wait(10)

    holder = threading.Thread(target=other_process)
    holder.start()
    assert lock_held.wait(10)

    async def main() -> list[object]:
        tasks = [asyncio.create_task(resizer.handle_async(path, query)) for _ in range(16)]
        # The generation waits for the lock; the loop keeps running meanwhile.
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert not any(task.done() for task in tasks)
        tasks[0].cancel()  # a client that went away does not cancel the others' work
        release.set()
        return await asyncio.gather(*tasks[1:])

    answers = asyncio.run(main())
    holder.join()
    assert answers == [FILE_READY] * 15
    assert resizer.generations == 1


@given(
    source=st.tuples(st.integers(1, 6000), st.integers(1, 6000)),
    how=st.sampled_from(["width", "height", "ratio"]),
    value=st.floats(0.001, 3.0),
)
def test_every_locate_size_is_derived(source: tuple[int, int], how: str, value: float) -> None:
    if how == "ratio":
        size = thumbnail_size(*source, ratio=value)
    else:
        side = max(1, round(value * 1000))
        size = thumbnail_size(*source, **{how: side})  # type: ignore[arg-type]
    assume(max(size) <= 1_000_000)  # the resizer refuses larger sizes before this check
    assert is_derived_size(*source, *size)


@given(
    source=st.tuples(st.integers(1, 6000), st.integers(1, 6000)),
    side=st.integers(1, 4000),
    stretch=st.integers(2, 50),
)
def test_distorted_sizes_are_not_derived(source: tuple[int, int], side: int, stretch: int) -> None:
    width, height = thumbnail_size(*source, width=side)
    assume(stretch * (height + 1) <= 1_000_000)
    assert is_derived_size(*source, width, height)
    assert not is_derived_size(*source, width, stretch * (height + 1))
    width, height = thumbnail_size(*source, height=side)
    assume(stretch * (width + 1) <= 1_000_000)
    assert not is_derived_size(*source, stretch * (width + 1), height)


def test_no_temporary_files_left(store: CountingStore, make_resizer: MakeResizer) -> None:
    resizer = make_resizer()
    data = jpeg(64, 48)[:500]
    store.put_file(io.BytesIO(data), "t", 1, 64, 48, "image/jpeg", False)
    resizer.handle(*split(resizer.url(Original("t", 1, 64, 48, "image/jpeg"), 32, 24)))  # type: ignore[arg-type]
    assert temporary_files(store.path) == []
