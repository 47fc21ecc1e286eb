"""The ``imageattach`` command line: arguments in process, migrations end to end
through the installed console script, real databases and the moto S3 server."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import socket
import struct
import subprocess
import termios
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cli_stores
import pytest
from cli_script import SCRIPT, TESTS, run_script, summary
from entity_models import User, sessions
from images import jpeg, png
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session
from storefiles import image_files
from stores.s3server import FaultProxy, MotoServer, s3_options

from imageattach.cli import EXIT_ERROR, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, main
from imageattach.context import store_context
from imageattach.stores.fs import FileSystemStore
from imageattach.stores.s3 import S3Store

MODELS = "entity_models:Modern"


# -- arguments (in process) -------------------------------------------------------


def test_help_documents_commands_and_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "migrate" in out
    assert "130  interrupted" in out

    with pytest.raises(SystemExit):
        main(["migrate", "--help"])
    out = capsys.readouterr().out
    for text in ("--from STORE", "--dry-run", "--max-failures", "s3://bucket", "file:///", ":attr"):
        assert text in out


def checked_sh_blocks(page: Path) -> list[str]:
    """The sh blocks of ``page`` marked as checked by this file."""
    lines = page.read_text().splitlines()
    blocks = []
    for number, line in enumerate(lines):
        if line == "```sh" and lines[number - 1] == "<!-- checked by tests/test_cli.py -->":
            end = lines.index("```", number + 1)
            blocks.append("\n".join(lines[number + 1 : end]))
    return blocks


def test_docs_sh_blocks_run(tmp_path: Path) -> None:
    blocks = checked_sh_blocks(TESTS.parent / "docs" / "cli.md")
    assert blocks
    for block in blocks:
        result = subprocess.run(
            ["sh", "-e", "-c", block],
            cwd=tmp_path,
            env=os.environ | {"PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "usage: imageattach" in result.stdout


def test_missing_arguments_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["migrate", "--from", "file:///tmp/x"])
    assert exited.value.code == EXIT_USAGE
    assert "--to" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--from": "ftp://host/images"}, "cannot understand store"),
        ({"--to": "s3://bucket?colour=red"}, "unknown option 'colour'"),
        ({"--models": "entity_models:sessions"}, "declarative base"),
        ({"--models": "images:png"}, "declarative base"),
        ({"--models": "no_such_module:Base"}, "cannot import"),
        ({"--database": "nosuchdialect://x"}, "bad database URL"),
        ({"--database": "entity_models:Modern"}, "not an SQLAlchemy Engine"),
        ({"--to": "s3://bucket?region=bad%20region!"}, "region_name 'bad region!' doesn't match"),
    ],
)
def test_configuration_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], message: str
) -> None:
    (tmp_path / "db.sqlite").touch()  # an empty SQLite database
    options = {
        "--from": f"file://{tmp_path}/a",
        "--to": f"file://{tmp_path}/b",
        "--models": MODELS,
        "--database": f"sqlite:///{tmp_path}/db.sqlite",
    } | change
    arguments = ["migrate", *(item for pair in options.items() for item in pair)]
    assert main(arguments) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("imageattach: error: ")
    assert message in err


def _options(tmp_path: Path, **change: str) -> list[str]:
    """``migrate`` arguments on an existing, empty SQLite database."""
    database = tmp_path / "db.sqlite"
    if not database.exists():
        engine = create_engine(f"sqlite:///{database}")
        with engine.connect():
            pass
        engine.dispose()
    options = {
        "--from": f"file://{tmp_path}/a",
        "--to": f"file://{tmp_path}/b",
        "--models": MODELS,
        "--database": f"sqlite:///{database}",
    } | {f"--{name}": value for name, value in change.items()}
    return ["migrate", *(item for pair in options.items() for item in pair)]


def test_a_missing_sqlite_file_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.sqlite"
    assert main(_options(tmp_path, database=f"sqlite:///{missing}")) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"imageattach: error: the SQLite database {missing} does not exist "
        "(sqlite:///relative/path or sqlite:////absolute/path)\n"
    )
    assert not missing.exists()


@pytest.mark.parametrize(
    ("url", "package"),
    [
        ("postgresql+pg8000://user@127.0.0.1/db", "pg8000"),
        ("postgresql+psycopg2://user@127.0.0.1/db", "psycopg2-binary"),
    ],
)
def test_a_missing_driver_names_the_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, package: str
) -> None:
    driver = url.split(":", 1)[0]
    module = driver.split("+")[1]
    with contextlib.suppress(ImportError):
        __import__(module)
        pytest.skip(f"{module} is installed")
    assert main(_options(tmp_path, database=url)) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"imageattach: error: the database driver for {driver!r} is not installed "
        f"(No module named {module!r}); install it: pip install '{package}'\n"
    )


@pytest.mark.parametrize("option", ["--jobs", "--max-failures"])
@pytest.mark.parametrize("value", ["x", "0", "-2", "1.5"])
def test_a_bad_number_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*_options(tmp_path), option, value])
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.endswith(
        f"imageattach migrate: error: argument {option}: "
        f"expected a whole number of at least 1, not {value!r}\n"
    )


def test_a_class_that_is_not_a_store_is_not_instantiated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for option in ("to", "from"):
        assert main(_options(tmp_path, **{option: "cli_stores:NotAStore"})) == EXIT_USAGE
        assert capsys.readouterr().err == (
            f"imageattach: error: --{option}: 'cli_stores:NotAStore' is the class NotAStore, "
            "not a Store: name a Store instance, a Store class or a function that returns a "
            "Store (other classes are not instantiated)\n"
        )
    assert main(_options(tmp_path, to="entity_models:User")) == EXIT_USAGE
    assert "is the class User, not a Store" in capsys.readouterr().err
    assert cli_stores.made == []


# -- migrations end to end --------------------------------------------------------


@dataclass
class Images:
    """A database of image rows whose files are in the directory ``root``."""

    database_url: str
    root: Path
    count: int

    @property
    def spec(self) -> str:
        return f"file://{self.root}"

    def files(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.root)): p.read_bytes() for p in files_under(self.root)}


def files_under(root: Path) -> list[Path]:
    """The image files under ``root``.  A write killed midway leaves its
    temporary file (in ``.imageattach-tmp/``), which is not one."""
    return [root / name for name in image_files(root)]


def _fill(engine: Engine, root: Path) -> int:
    """Store 8 images: 4 originals (JPEG and PNG) and a thumbnail of each."""
    with Session(engine) as session, store_context(FileSystemStore(root, "http://src/")):
        users = [User(id=number) for number in range(1, 5)]
        for user in users:
            data = jpeg(40, 30) if user.id % 2 else png(20 + user.id, 10)
            user.picture.from_blob(data)
        session.add_all(users)
        session.commit()
        for user in users:
            user.picture.generate_thumbnail(width=10)
        session.commit()
    return 8


@contextlib.contextmanager
def _images(engine: Engine, database_url: str, root: Path) -> Iterator[Images]:
    tables = sessions(engine)  # creates the tables, drops them when resumed
    next(tables)
    try:
        yield Images(database_url, root, _fill(engine, root))
    finally:
        next(tables, None)


@pytest.fixture
def images(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[Images]:
    """Images on every configured database."""
    with _images(engine, database_url, tmp_path / "source") as found:
        yield found


@pytest.fixture
def sqlite_images(tmp_path: Path) -> Iterator[Images]:
    """Images on SQLite only, for the tests of the command's own behaviour."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    engine = create_engine(url)
    with _images(engine, url, tmp_path / "source") as found:
        yield found
    engine.dispose()


def migrate(
    images: Images,
    source: str,
    destination: str,
    *extra: str,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``imageattach migrate`` through the installed console script,
    with ``env`` added to the environment and ``unset`` removed from it."""
    arguments = ["--from", source, "--to", destination, "--models", MODELS]
    environment = {name: value for name, value in os.environ.items() if name not in unset}
    command = ["migrate", *arguments, "--database", images.database_url, *extra]
    return run_script(*command, env=environment | (env or {}))


def s3_spec(moto_server: MotoServer, bucket: str, **options: str) -> str:
    query = urllib.parse.urlencode(
        {"endpoint_url": moto_server.url, "region": "us-east-1"} | options
    )
    return f"s3://{bucket}/media?{query}"


def s3_files(moto_server: MotoServer, bucket: str) -> dict[str, bytes]:
    store = S3Store(bucket, **s3_options(moto_server.url))
    client = store.client
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listed
    }


def fs_to_s3_names(files: dict[str, bytes]) -> dict[str, bytes]:
    """The S3 keys (prefix ``media``) of files in the filesystem layout."""
    renamed = {}
    for path, data in files.items():
        object_type, _, _, name = path.split("/")
        object_id, size = name.split(".")[:2]
        renamed[f"media/{object_type}/{object_id}/{size}.{name.split('.', 2)[2]}"] = data
    return renamed


@pytest.mark.e2e
def test_migrate_filesystem_to_s3_and_back(
    images: Images, moto_server: MotoServer, tmp_path: Path
) -> None:
    bucket = moto_server.new_bucket()
    to_s3 = migrate(images, images.spec, s3_spec(moto_server, bucket), "--progress", "log")
    assert to_s3.returncode == EXIT_OK, to_s3.stderr
    assert summary(to_s3) == (
        "finished: 8 of 8 images, copied 8, skipped 0 (already present), failed 0"
    )
    assert "8/8 images (100%)" in to_s3.stderr
    assert s3_files(moto_server, bucket) == fs_to_s3_names(images.files())

    again = migrate(images, images.spec, s3_spec(moto_server, bucket))
    assert again.returncode == EXIT_OK, again.stderr
    assert "copied 0, skipped 8" in summary(again)

    back = tmp_path / "back"
    to_fs = migrate(images, s3_spec(moto_server, bucket), f"file://{back}")
    assert to_fs.returncode == EXIT_OK, to_fs.stderr
    assert "copied 8, skipped 0" in summary(to_fs)
    copied = {str(p.relative_to(back)): p.read_bytes() for p in files_under(back)}
    assert copied == images.files()


def _interrupt(
    images: Images, destination: Path, signal_name: str, jobs: int = 1
) -> subprocess.CompletedProcess[str]:
    """Migrate into ``destination`` through a store that sends the process
    ``signal_name`` right after it stored its third file."""
    dying = {
        "DYING_STORE_SPEC": f"file://{destination}",
        "DYING_STORE_AFTER": "3",
        "DYING_STORE_SIGNAL": signal_name,
    }
    result = migrate(images, images.spec, "dying_store:DyingStore", "--jobs", str(jobs), env=dying)
    return result


def _resume(images: Images, destination: Path) -> str:
    """Run the migration again; check every file arrived; return the summary."""
    result = migrate(images, images.spec, f"file://{destination}")
    assert result.returncode == EXIT_OK, result.stderr
    copied = {str(p.relative_to(destination)): p.read_bytes() for p in files_under(destination)}
    assert copied == images.files()
    return summary(result)


@pytest.mark.e2e
def test_a_killed_run_is_resumed(images: Images, tmp_path: Path) -> None:
    destination = tmp_path / "destination"
    killed = _interrupt(images, destination, "SIGKILL")
    assert killed.returncode == -signal.SIGKILL
    assert len(files_under(destination)) == 3
    assert _resume(images, destination) == (
        "finished: 8 of 8 images, copied 5, skipped 3 (already present), failed 0"
    )


@pytest.mark.e2e
def test_a_killed_concurrent_run_is_resumed(sqlite_images: Images, tmp_path: Path) -> None:
    destination = tmp_path / "destination"
    killed = _interrupt(sqlite_images, destination, "SIGKILL", jobs=4)
    assert killed.returncode == -signal.SIGKILL
    written = len(files_under(destination))  # 3, or more if other copies beat the kill
    assert 3 <= written < 8
    assert _resume(sqlite_images, destination) == (
        f"finished: 8 of 8 images, copied {8 - written}, skipped {written} "
        "(already present), failed 0"
    )


@pytest.mark.e2e
@pytest.mark.parametrize("jobs", [1, 4])
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_in_order(
    sqlite_images: Images, tmp_path: Path, signal_name: str, jobs: int
) -> None:
    destination = tmp_path / "destination"
    stopped = _interrupt(sqlite_images, destination, signal_name, jobs=jobs)
    assert stopped.returncode == EXIT_INTERRUPTED, stopped.stderr
    # the copies in flight finished and were counted: the summary is exact
    written = len(files_under(destination))
    assert 3 <= written < 8 if jobs > 1 else written == 3
    assert summary(stopped) == (
        f"interrupted: {written} of 8 images, copied {written}, skipped 0 (already present), "
        "failed 0"
    )
    assert f"copied {8 - written}, skipped {written}" in _resume(sqlite_images, destination)


@pytest.mark.e2e
def test_a_second_signal_exits_at_once(sqlite_images: Images, tmp_path: Path) -> None:
    started = time.monotonic()
    result = migrate(
        sqlite_images, sqlite_images.spec, "cli_stores:InterruptedTwice", "--jobs", "1",
        env={"CLI_STORE_PATH": str(tmp_path / "destination")},
    )  # fmt: skip
    assert time.monotonic() - started < 30  # the write in progress was not waited for
    assert result.returncode == EXIT_INTERRUPTED
    assert result.stdout == ""
    assert result.stderr.endswith("imageattach: interrupted again: exiting without waiting\n")
    assert files_under(tmp_path / "destination") == []


@pytest.mark.e2e
def test_failures_are_reported_and_retried(sqlite_images: Images, tmp_path: Path) -> None:
    destination = f"file://{tmp_path / 'destination'}"
    missing = sorted(files_under(sqlite_images.root))[:2]
    kept = {path: path.read_bytes() for path in missing}
    for path in missing:
        path.unlink()

    failing = migrate(sqlite_images, sqlite_images.spec, destination)
    assert failing.returncode == EXIT_FAILED
    assert summary(failing) == (
        "finished with failures: 8 of 8 images, copied 6, skipped 0 (already present), failed 2"
    )
    assert failing.stderr.count("failed: ") == 2
    assert "FileNotFoundInStoreError" in failing.stderr

    stopped = migrate(
        sqlite_images, sqlite_images.spec, f"file://{tmp_path}/d2", "--max-failures", "1",
        "--jobs", "1",
    )  # fmt: skip
    assert stopped.returncode == EXIT_ERROR
    assert summary(stopped).startswith("stopped after 1 failures:")
    assert stopped.stderr.count("failed: ") == 1

    for path, data in kept.items():
        path.write_bytes(data)
    retried = migrate(sqlite_images, sqlite_images.spec, destination)
    assert retried.returncode == EXIT_OK, retried.stderr
    assert "copied 2, skipped 6" in summary(retried)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("imageattach: error:")]


@pytest.mark.e2e
def test_unreachable_destination_fails_fast(sqlite_images: Images, moto_server: MotoServer) -> None:
    spec = f"s3://some-bucket?endpoint_url=http://127.0.0.1:{closed_port()}&max_retry=2"
    result = migrate(sqlite_images, sqlite_images.spec, spec)
    assert result.returncode == EXIT_ERROR
    assert result.stdout == ""
    assert "failed:" not in result.stderr
    [error] = error_lines(result)
    assert error.startswith(f"imageattach: error: the destination {spec}: cannot reach S3: ")
    assert "EndpointConnectionError" in error
    assert error.endswith("; nothing was copied")
    retries = [line for line in result.stderr.splitlines() if line.startswith("retrying: ")]
    assert len(retries) == 2, result.stderr
    for number, line in enumerate(retries, 1):
        assert line.startswith(
            f"retrying: checking the destination {spec}: HeadBucket http://127.0.0.1:"
        )
        assert f"(attempt {number}): EndpointConnectionError" in line


@pytest.mark.e2e
def test_a_missing_bucket_fails_fast(sqlite_images: Images, moto_server: MotoServer) -> None:
    result = migrate(sqlite_images, sqlite_images.spec, s3_spec(moto_server, "no-such-bucket"))
    assert result.returncode == EXIT_ERROR
    [error] = error_lines(result)
    assert "the bucket 'no-such-bucket' does not exist; nothing was copied" in error
    assert "failed:" not in result.stderr


@pytest.mark.e2e
def test_missing_credentials_fail_fast(sqlite_images: Images, moto_server: MotoServer) -> None:
    spec = s3_spec(moto_server, moto_server.new_bucket())
    result = migrate(
        sqlite_images, sqlite_images.spec, spec,
        unset=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"),
    )  # fmt: skip
    assert result.returncode == EXIT_ERROR
    assert error_lines(result) == [
        f"imageattach: error: the destination {spec}: no AWS credentials (set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE); nothing was copied"
    ]
    assert "failed:" not in result.stderr


@pytest.mark.e2e
def test_a_missing_source_directory_fails_fast(sqlite_images: Images, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = migrate(sqlite_images, f"file://{missing}", f"file://{tmp_path / 'd'}")
    assert result.returncode == EXIT_ERROR
    assert result.stderr == (
        f"imageattach: error: the source file://{missing}: the directory {missing} "
        "does not exist; nothing was copied\n"
    )
    assert result.stdout == ""
    assert not (tmp_path / "d").exists()


@pytest.mark.e2e
def test_an_unwritable_destination_fails_fast(sqlite_images: Images, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    for destination, problem in [
        (blocker, f"{blocker} is not a directory"),
        (blocker / "images", f"cannot create {blocker / 'images'}: {blocker} is not a directory"),
    ]:
        for dry_run in ([], ["--dry-run"]):
            result = migrate(sqlite_images, sqlite_images.spec, f"file://{destination}", *dry_run)
            assert result.returncode == EXIT_ERROR
            assert error_lines(result) == [
                f"imageattach: error: the destination file://{destination}: {problem}; "
                "nothing was copied"
            ]
            assert "failed:" not in result.stderr


@pytest.mark.e2e
def test_retries_are_shown_while_they_happen(
    sqlite_images: Images, moto_server: MotoServer
) -> None:
    bucket = moto_server.new_bucket()
    proxy = FaultProxy(moto_server.url)
    try:
        proxy.fail(2, status=503, method="PUT")  # the first upload fails twice
        spec = s3_spec(moto_server, bucket, endpoint_url=proxy.url, max_retry="3")
        result = migrate(sqlite_images, sqlite_images.spec, spec, "--jobs", "1")
    finally:
        proxy.close()
    assert result.returncode == EXIT_OK, result.stderr
    assert "copied 8, skipped 0" in summary(result)
    retries = [line for line in result.stderr.splitlines() if line.startswith("retrying: ")]
    assert len(retries) == 2, result.stderr
    for number, line in enumerate(retries, 1):
        assert line.startswith(f"retrying: PutObject {proxy.url}/{bucket}/media/")
        assert f" failed (attempt {number}): HTTP 503 ServiceUnavailable; again in " in line
    assert len(s3_files(moto_server, bucket)) == 8


@pytest.mark.e2e
@pytest.mark.parametrize("jobs", ["1", "4", "8"])
def test_max_failures_is_exact_with_parallel_jobs(
    sqlite_images: Images, tmp_path: Path, jobs: str
) -> None:
    for path in sorted(files_under(sqlite_images.root))[:6]:
        path.unlink()  # 6 of the 8 images fail
    destination = tmp_path / "destination"
    stopped = migrate(
        sqlite_images, sqlite_images.spec, f"file://{destination}", "--max-failures", "3",
        "--jobs", jobs,
    )  # fmt: skip
    assert stopped.returncode == EXIT_ERROR
    assert stopped.stderr.count("failed: ") == 3
    copied = len(files_under(destination))
    assert summary(stopped) == (
        f"stopped after 3 failures: {3 + copied} of 8 images, copied {copied}, "
        "skipped 0 (already present), failed 3"
    )


@pytest.mark.e2e
def test_dry_run_writes_nothing(sqlite_images: Images, tmp_path: Path) -> None:
    destination = tmp_path / "destination"
    result = migrate(sqlite_images, sqlite_images.spec, f"file://{destination}", "--dry-run")
    assert result.returncode == EXIT_OK, result.stderr
    assert summary(result) == (
        "dry run finished: 8 of 8 images, would copy 8, skipped 0 (already present), failed 0"
    )
    assert not destination.exists()
    # no terminal: progress lines, which say what a dry run does
    assert "8/8 images (100%)" in result.stderr
    assert ": would copy 8, skipped 0, failed 0" in result.stderr
    assert "copied" not in result.stderr
    bar = migrate(
        sqlite_images, sqlite_images.spec, f"file://{destination}", "--dry-run", "--progress", "bar"
    )
    assert "would copy 8, skipped 0, failed 0" in bar.stderr
    assert "copied" not in bar.stderr


@pytest.mark.e2e
def test_progress_bar(sqlite_images: Images, tmp_path: Path) -> None:
    result = migrate(
        sqlite_images, sqlite_images.spec, f"file://{tmp_path / 'd'}", "--progress", "bar"
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "8/8" in result.stderr
    assert "copied 8, skipped 0, failed 0" in result.stderr
    quiet = migrate(
        sqlite_images, sqlite_images.spec, f"file://{tmp_path / 'd'}", "--progress", "none"
    )
    assert quiet.stderr == ""


@pytest.mark.e2e
def test_progress_bar_on_a_terminal(sqlite_images: Images, tmp_path: Path) -> None:
    main_fd, terminal_fd = pty.openpty()
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        arguments = ["--from", sqlite_images.spec, "--to", f"file://{tmp_path / 'd'}"]
        process = subprocess.run(
            [str(SCRIPT), "migrate", *arguments, "--models", MODELS,
             "--database", sqlite_images.database_url],
            cwd=TESTS, stdout=subprocess.PIPE, stderr=terminal_fd, timeout=120, check=False,
        )  # fmt: skip
        os.close(terminal_fd)
        terminal_fd = -1
        output = b""
        with contextlib.suppress(OSError):  # EIO once the terminal is drained
            while chunk := os.read(main_fd, 65536):
                output += chunk
    finally:
        os.close(main_fd)
        if terminal_fd != -1:
            os.close(terminal_fd)
    assert process.returncode == EXIT_OK
    assert b"\r" in output  # redrawn in place: a tqdm bar
    assert b"8/8" in output
