"""The database and the store agree under real concurrency.

Separate worker processes (tests/integrity.py) replace, delete and request
on-demand thumbnails of the same entity at the same time, on a real
database and a real store (the filesystem, or S3 on moto) with latency
injected into the store's operations.  After each run, once nothing runs
any more, :func:`integrity.check` compares the committed rows with the
files: every row has its file, every file has a row (except on-demand
thumbnails of a current original, which must be pictures of it), and
nothing temporary is left.  Every original is a solid colour that encodes
its version, so a thumbnail of an older original is caught, and after a
replacement the new URL must show the new picture.

Knobs (the defaults keep the module quick; raise them to measure):

- ``IA_INTEGRITY_RUNS``: runs of each concurrent scenario (default: per scenario);
- ``IA_INTEGRITY_ALL=1``: go on after a failing run (to count failures);
- ``IA_INTEGRITY_LATENCY``: the store latency of every scenario, e.g.
  ``0.02`` (every operation) or ``put=0.2,*=0.02`` (see ``integrity.Latency``);
- ``IA_INTEGRITY_REPORT``: a file to append each test's tally to (JSON lines);
- ``IA_INTEGRITY_S3_LOCK_DIR=0``: S3 stores without a shared
  ``resize_lock_dir`` (the processes then share no lock);
- ``IA_INTEGRITY_S3_REDIS=redis://127.0.0.1:6379/0``: S3 stores that share
  leases in that Redis (``resize_lock``) instead of a lock directory;
- ``IA_INTEGRITY_TRACE=1``: the workers log each operation and each
  filesystem store call, with times (``integrity-workers*/worker-*.log`` in
  pytest's temporary directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from integrity import (
    OBJECT_TYPE,
    PREFIX,
    VERSIONS,
    Setup,
    Worker,
    build_store,
    check,
    close_store,
    database_rows,
    not_found_app,
    parse_latency,
    read_upload_progress,
    run_together,
    s3_delays,
    store_files,
    tables,
)
from sqlalchemy import Engine
from stores.s3server import FAKE_AWS_ENV, FaultProxy
from werkzeug.test import Client

RUNS = int(os.environ.get("IA_INTEGRITY_RUNS", "0"))
ALL_RUNS = os.environ.get("IA_INTEGRITY_ALL") == "1"
LATENCY = os.environ.get("IA_INTEGRITY_LATENCY")
REPORT = os.environ.get("IA_INTEGRITY_REPORT")
S3_LOCK_DIR = os.environ.get("IA_INTEGRITY_S3_LOCK_DIR", "1") == "1"
S3_REDIS = os.environ.get("IA_INTEGRITY_S3_REDIS")

#: Every store operation as slow as an S3 request far away.
UNIFORM = "0.2"
#: Uploads slow, the rest quick (PUT with a body vs. HEAD, GET, DELETE, LIST).
#: A generation that read the original before a cleanup deleted it, and
#: stores its thumbnail after the cleanup listed the object's files, leaks
#: it: the window is about (put latency - list latency + decoding time), so
#: slow uploads make it wide; with a uniform latency it is the decoding
#: time only (milliseconds for these small originals).
SLOW_PUT = "put=0.2,*=0.02"
#: Uploads and deletes slow: a cleanup goes on long after its commit.
SLOW_DELETE = "put=0.2,delete=0.5,*=0.02"
#: How a run's requests for on-demand thumbnails are made: three clients,
#: started 0.1 s apart so that some generation is always under way.
CLIENTS = {"threads": 3, "stagger": 0.1}


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Worker]]:
    """Two long-lived worker processes, shared by the module's tests."""
    logs = tmp_path_factory.mktemp("integrity-workers")
    made = [Worker(logs / f"worker-{index}.log", FAKE_AWS_ENV) for index in range(2)]
    yield made
    for worker in made:
        worker.close()


@dataclass
class Scenario:
    setup: Setup
    engine: Engine
    label: str

    def check(self) -> list[str]:
        return check(self.engine, self.setup.store)

    @property
    def spec(self) -> dict[str, Any]:
        return self.setup.store


MakeScenario = Callable[[str, str], Scenario]


@pytest.fixture
def make_scenario(
    request: pytest.FixtureRequest, database_url: str, engine: Engine, tmp_path: Path
) -> Iterator[MakeScenario]:
    """Make the tables and a store (``"fs"``, ``"s3"``, or ``"s3-redis"``:
    S3 stores sharing Redis leases, no lock directory) with a latency
    (``IA_INTEGRITY_LATENCY`` if set)."""
    with contextlib.ExitStack() as stack:

        def make(kind: str, latency: str) -> Scenario:
            latency = LATENCY or latency
            delays = parse_latency(latency)
            if kind == "fs":
                spec: dict[str, Any] = {
                    "kind": "fs",
                    "root": str(tmp_path / "images"),
                    "latency": delays,
                }
            else:
                moto = request.getfixturevalue("moto_server")
                proxy = FaultProxy(moto.url, delay=s3_delays(delays))
                stack.callback(proxy.close)
                spec = {
                    "kind": "s3",
                    "bucket": moto.new_bucket(),
                    "endpoint": proxy.url,
                    "direct": moto.url,
                    # The worker processes share a host, and so a
                    # resize_lock_dir (docs/s3.md, "Generated once").
                    "lock_dir": str(tmp_path / "s3-locks") if S3_LOCK_DIR else None,
                }
                redis = request.getfixturevalue("redis_url") if kind == "s3-redis" else S3_REDIS
                if redis:
                    # Leases in Redis instead: what servers on several machines share.
                    spec["lock_dir"] = None
                    spec["resize_lock"] = redis
                    spec["resize_lock_prefix"] = request.getfixturevalue("service_namespace")
            stack.enter_context(tables(engine))
            database = {"mysql": "mariadb"}.get(engine.dialect.name, engine.dialect.name)
            label = f"{kind} store, {database}, latency {latency}"
            return Scenario(Setup(database_url, spec), engine, label)

        yield make


@pytest.fixture(params=["fs", "s3"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


# -- running and reporting -----------------------------------------------------------------


def runs(default: int) -> int:
    return RUNS or default


def run_scenario(
    name: str, scenario: Scenario, count: int, run: Callable[[int], list[str]]
) -> None:
    """Run ``run(index)`` ``count`` times (until one fails, unless
    ``IA_INTEGRITY_ALL``) and fail with the tally and the first problems."""
    failures: list[tuple[int, list[str]]] = []
    done = 0
    started = time.monotonic()
    for index in range(count):
        problems = run(index)
        done += 1
        if problems:
            failures.append((index, problems))
            if not ALL_RUNS:
                break
    tally = f"{name} [{scenario.label}]: failed {len(failures)}/{done} runs"
    if REPORT:
        with open(REPORT, "a") as report:
            entry = {
                "test": name,
                "setup": scenario.label,
                "failed": len(failures),
                "runs": done,
                "seconds": round(time.monotonic() - started, 1),
                "problems": failures[0][1][:5] if failures else [],
            }
            report.write(json.dumps(entry) + "\n")
    details = "\n".join(
        f"run {index}:\n  " + "\n  ".join(problems[:12]) for index, problems in failures[:3]
    )
    assert not failures, f"{tally}\n{details}"


def answer_problems(answers: list[dict[str, Any]], *ops: str) -> list[str]:
    """The errors of the workers' answers (``ops`` names them)."""
    return [
        f"{op} failed: {answer['error']}"
        for op, answer in zip(ops, answers, strict=True)
        if not answer["ok"]
    ]


def fetch_problems(fetched: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the answers to resize URLs made during a run: an
    error other than 503, or a picture older than the URL's."""
    problems = []
    for answer in fetched:
        status = answer.get("status")
        if status is None:  # there was no original to make a URL of
            continue
        if status >= 500 and status != 503:
            problems.append(f"{answer['url']} answered {status}: {answer.get('body')}")
        if status != 200:
            continue
        served, requested = answer.get("served"), answer["requested"]
        if served is None:
            problems.append(f"{answer['url']} answered an unknown picture")
        elif served < requested % VERSIONS:
            problems.append(
                f"{answer['url']} (of version {requested}) answered the older picture of "
                f"version {served}"
            )
    return problems


def original_size(version: int) -> list[int]:
    """A size of its own for each version."""
    return [200 + version, 150]


def thumbnail_width(version: int) -> int:
    return 40 + version % 100


def widths(run: int, count: int) -> list[int]:
    """``count`` widths for run ``run``, different from the previous run's."""
    return [20 + (run * count + index) % 150 for index in range(count)]


# -- 1. replace vs replace -------------------------------------------------------------------


def test_replace_vs_replace(
    workers: list[Worker], make_scenario: MakeScenario, store_kind: str
) -> None:
    """Two processes replace the same entity's picture (a new original of
    another size, and a thumbnail) back to back, serialised by a lock on the
    owner's row; after both have committed, every committed row has its file
    and nothing else is left."""
    scenario = make_scenario(store_kind, UNIFORM)
    setup = scenario.setup
    first, second = workers
    second.call("noop", setup)
    thing_id = first.call(
        "create", setup, version=0, size=original_size(0), thumb_width=thumbnail_width(0)
    )
    assert scenario.check() == []
    version = 0

    def run(index: int) -> list[str]:
        nonlocal version
        ours, theirs = version + 1, version + 2
        version += 2
        at = time.time() + 0.1
        answers = run_together(
            [
                (
                    worker,
                    "replace",
                    setup,
                    at + random.uniform(0, 0.05),
                    {
                        "thing_id": thing_id,
                        "version": v,
                        "size": original_size(v),
                        "thumb_width": thumbnail_width(v),
                    },
                )
                for worker, v in ((first, ours), (second, theirs))
            ]
        )
        return answer_problems(answers, "replace", "replace") + scenario.check()

    run_scenario("replace vs replace", scenario, runs(2), run)


# -- 2. replace vs on-demand generation ------------------------------------------------------


#: The originals' sizes of each replacement: another size (and ratio), the
#: same size, mimetype and so path, or another size of the same ratio, whose
#: thumbnails have the same keys as the old one's.
SHAPES: dict[str, Callable[[int], list[int]]] = {
    "new-size": original_size,
    "same-size": lambda version: [240, 180],
    "same-ratio": lambda version: [240, 180] if version % 2 else [480, 360],
}


#: For races between the store's processes in which the database plays no
#: part (its rows are read and written as in the other scenarios): SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize("shape", ["new-size", "same-size"])
def test_replace_vs_ondemand_generation(
    workers: list[Worker], make_scenario: MakeScenario, store_kind: str, shape: str
) -> None:
    """One process requests on-demand thumbnails of the entity's current
    original (nine sizes, three clients, each URL read from the database
    right before its request) while another replaces the original (of
    another size, or of the same size, mimetype and so path).  No URL may
    answer a picture older than its own; afterwards the current URLs answer
    the new picture, and no thumbnail of the old original is left."""
    replace_vs_ondemand_generation(workers, make_scenario, store_kind, shape)


@SQLITE_ONLY
def test_replace_by_the_same_ratio_vs_ondemand_generation(
    workers: list[Worker], make_scenario: MakeScenario
) -> None:
    """The same with a new original of the same ratio, whose thumbnails have
    the old one's keys, on S3.  (Not on the filesystem: its middleware
    serves a file on disk, so a thumbnail of the old original made during
    the replacement is served until the cleanup — 2 of 12 runs measured,
    docs/ondemand.md "Replaced originals".)"""
    replace_vs_ondemand_generation(workers, make_scenario, "s3", "same-ratio")


def replace_vs_ondemand_generation(
    workers: list[Worker], make_scenario: MakeScenario, store_kind: str, shape: str
) -> None:
    # Same ratio: slow deletes keep the cleanup going long after the commit,
    # and nine clients ask for each width twice (before and after it).
    same_ratio = shape == "same-ratio"
    scenario = make_scenario(store_kind, SLOW_DELETE if same_ratio else SLOW_PUT)
    clients = {"threads": 9, "stagger": 0.1} if same_ratio else CLIENTS
    setup = scenario.setup
    requester, replacer = workers
    size = SHAPES[shape]

    requester.call("noop", setup)
    thing_id = replacer.call("create", setup, version=0, size=size(0))
    version = 0

    def run(index: int) -> list[str]:
        nonlocal version
        version += 1
        sizes = widths(index, 9)
        asked = sizes * 2 if same_ratio else sizes
        at = time.time() + 0.1
        answers = run_together(
            [
                (requester, "fetch", setup, at, {"thing_id": thing_id, "widths": asked, **clients}),
                (
                    replacer,
                    "replace",
                    setup,
                    at + random.uniform(0.0, 0.6),
                    {"thing_id": thing_id, "version": version, "size": size(version)},
                ),
            ]
        )
        problems = answer_problems(answers, "fetch", "replace")
        if answers[0]["ok"]:
            problems += fetch_problems(answers[0]["value"])
        # The new URLs, now that nothing runs: the new picture, every one.
        after = requester.call("fetch", setup, thing_id=thing_id, widths=sizes, threads=9)
        for answer in after:
            if answer.get("status") != 200 or answer.get("served") != version % VERSIONS:
                problems.append(
                    f"after the replacement by version {version}, {answer.get('url')} "
                    f"answered {answer.get('status')} with the picture of version "
                    f"{answer.get('served')}"
                )
        return problems + scenario.check()

    run_scenario(
        f"replace ({shape}) vs on-demand generation",
        scenario,
        runs(2),
        run,
    )


# -- 3. delete vs on-demand generation -------------------------------------------------------


@pytest.mark.parametrize("mode", ["entity", "original"])
def test_delete_vs_ondemand_generation(
    workers: list[Worker], make_scenario: MakeScenario, store_kind: str, mode: str
) -> None:
    """One process requests on-demand thumbnails of an entity's picture
    (URLs made before) while another deletes the entity, or only its
    original, and commits.  Afterwards none of those URLs answers a picture,
    and no file of the picture is left."""
    delete_vs_ondemand_generation(workers, make_scenario, store_kind, mode)


@SQLITE_ONLY
@pytest.mark.parametrize("mode", ["entity", "original"])
def test_delete_vs_ondemand_generation_across_servers(
    workers: list[Worker], make_scenario: MakeScenario, mode: str
) -> None:
    """The same with S3 stores that share Redis leases and no lock
    directory, as servers on several machines do."""
    delete_vs_ondemand_generation(workers, make_scenario, "s3-redis", mode)


def delete_vs_ondemand_generation(
    workers: list[Worker], make_scenario: MakeScenario, store_kind: str, mode: str
) -> None:
    scenario = make_scenario(store_kind, SLOW_PUT)
    setup = scenario.setup
    requester, deleter = workers
    requester.call("noop", setup)

    def run(index: int) -> list[str]:
        thing_id = deleter.call("create", setup, version=index, size=[240, 180])
        urls = requester.call("urls", setup, thing_id=thing_id, widths=widths(index, 9))
        at = time.time() + 0.1
        answers = run_together(
            [
                (requester, "fetch", setup, at, {"urls": urls, **CLIENTS}),
                (
                    deleter,
                    "delete",
                    setup,
                    at + random.uniform(0.0, 0.6),
                    {"thing_id": thing_id, "mode": mode},
                ),
            ]
        )
        problems = answer_problems(answers, "fetch", "delete")
        if answers[0]["ok"]:
            problems += fetch_problems(answers[0]["value"])
        after = requester.call("fetch", setup, urls=urls, threads=9)
        problems += [
            f"after the deletion, {answer['url']} still answers the picture of version "
            f"{answer.get('served')}"
            for answer in after
            if answer["status"] == 200
        ]
        return problems + scenario.check()

    run_scenario(f"delete ({mode}) vs on-demand generation", scenario, runs(3), run)


# -- 4. deleting only the original -----------------------------------------------------------


def test_deleting_the_original_removes_its_set(
    workers: list[Worker], make_scenario: MakeScenario, store_kind: str
) -> None:
    """``session.delete(thing.cover.original)`` and commit: no row of the
    set is left (its thumbnails' rows go too), and no file."""
    scenario = make_scenario(store_kind, "0.02")
    setup = scenario.setup
    worker = workers[0]

    def run(index: int) -> list[str]:
        thing_id = worker.call("create", setup, version=index, size=[300, 200], thumb_width=60)
        worker.call("generate", setup, thing_id=thing_id, width=30)
        fetched = worker.call("fetch", setup, thing_id=thing_id, widths=[45])
        assert [answer["status"] for answer in fetched] == [200], fetched
        _, rows = database_rows(scenario.engine)
        assert len([row for row in rows if row.thing_id == thing_id]) == 3
        assert len([key for key in store_files(scenario.spec).images if key[0] == thing_id]) == 4
        assert worker.call("delete", setup, thing_id=thing_id, mode="original")
        _, rows = database_rows(scenario.engine)
        problems = [
            f"the row {row.width}x{row.height} of the deleted original's set is left"
            for row in rows
            if row.thing_id == thing_id
        ]
        problems += [
            f"the file {key[1]}x{key[2]} of the deleted original's set is left"
            for key in store_files(scenario.spec).images
            if key[0] == thing_id
        ]
        return problems + scenario.check()

    run_scenario("delete the original only", scenario, runs(1), run)


# -- 5. SIGKILL during put_file ------------------------------------------------------------------


def test_sigkill_during_put_file_leaves_no_temporary_file(
    make_scenario: MakeScenario, tmp_path: Path
) -> None:
    """A process killed (SIGKILL) while it writes a big upload leaves its
    temporary file; it is never listed nor served, and the store's cleanup
    removes it; nothing else is left."""
    scenario = make_scenario("fs", "0")
    setup = scenario.setup
    root = Path(scenario.spec["root"])
    store = build_store(scenario.spec, direct=True)

    def run(index: int) -> list[str]:
        before = {name for name, _ in read_upload_progress(root)}

        def partial(least: int) -> list[str]:
            """The new files of ``least`` bytes or more that are no image."""
            return [
                name
                for name, size in read_upload_progress(root)
                if name not in before and size >= least
            ]

        worker = Worker(tmp_path / f"killed-{index}.log", FAKE_AWS_ENV)
        try:
            worker.call("noop", setup)
            # 20 MB (an uncompressed PNG), read 1 MiB per 0.1 s while stored.
            worker.send("put_big", setup, size=[2600, 2600], delay=0.1)
            deadline = time.monotonic() + 60
            while not partial(2 * 1024 * 1024):
                assert time.monotonic() < deadline, f"no upload began: {worker.log_tail()}"
                assert worker.process.poll() is None, f"the worker ended: {worker.log_tail()}"
                time.sleep(0.01)
            worker.process.send_signal(signal.SIGKILL)
            worker.process.wait()
        finally:
            worker.close()
        left = partial(1024 * 1024)
        assert left, "the killed write left nothing to clean up"
        _, rows = database_rows(scenario.engine)
        problems = [f"a row of the killed transaction: {row}" for row in rows]
        objects = root / OBJECT_TYPE
        for directory in objects.glob("*/*") if objects.is_dir() else []:
            object_id = int(directory.name) * 1000 + int(directory.parent.name)
            listed = store.list_files(OBJECT_TYPE, object_id)
            if listed:
                problems.append(f"list_files({object_id}) lists {listed}")
        app = store.wsgi_middleware(not_found_app)  # type: ignore[attr-defined]
        for name in left:
            status = Client(app).get(f"/{PREFIX}/{name}").status_code
            if status == 200:
                problems.append(f"the temporary file {name} is served")
        try:
            store.remove_stale_temporary_files(max_age=0)  # type: ignore[attr-defined]
        except AttributeError as error:
            problems.append(f"no cleanup of temporary files: {error}")
        return problems + scenario.check()  # which reports what is left

    try:
        run_scenario("SIGKILL during put_file", scenario, runs(1), run)
    finally:
        close_store(store)
