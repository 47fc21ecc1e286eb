"""The ``imageattach`` command line.

``imageattach migrate`` copies every image file of a database from one store
to another, e.g. from a directory to S3.  It is resumable: a file already
present in the destination is skipped, so an interrupted run is simply run
again.  Both stores write atomically, so an interrupted run leaves no
partial file behind.

The exit statuses (:data:`EXIT_OK` ...) are stable, for scripts; see
``imageattach --help`` and docs/cli.md.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any

from .exceptions import ConfigurationError, StoreError
from .store import Store
from .storespec import S3_OPTIONS, import_object, parse_store
from .tracking import Key, image_key
from .version import VERSION

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130

_LOG_INTERVAL = 5.0  # seconds between progress lines when there is no terminal
_POLL = 0.2  # seconds between checks for a stop request while copies run

STORE_SPEC_HELP = f"""\
store specs:
  file:///path/to/dir[?base_url=URL]
      a FileSystemStore on the directory (base_url defaults to its file:// URL)
  s3://bucket[/prefix][?option=value&...]
      an S3Store; options:
{textwrap.fill(", ".join(S3_OPTIONS), 72, initial_indent=" " * 6, subsequent_indent=" " * 6)}
      Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID,
      AWS_PROFILE, an instance or task role, ...).
  package.module:attribute
      a Store instance, a Store class or a function returning a Store, from
      your own code (the current directory is importable; a class that is
      not a Store subclass is refused, not instantiated)
"""

EXIT_STATUS_HELP = """\
exit status:
  0    every image is in the destination (or would be, with --dry-run)
  1    some images failed (listed on stderr); run again to retry them
  2    bad command line or configuration (including a missing database
       file or driver)
  3    could not start or stopped early: a store failed the check before
       copying, a database error, or --max-failures images failed
  130  interrupted (Ctrl-C, SIGTERM); run again to resume
"""

#: pip packages of the DB-API modules SQLAlchemy dialects import, where the
#: names differ (otherwise the module's name is the package's).
_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "psycopg[binary]",
    "MySQLdb": "mysqlclient",
    "mysql": "mysql-connector-python",
    "pymysql": "PyMySQL",
    "mariadb": "mariadb",
    "cx_Oracle": "cx_Oracle",
    "pysqlite2": "pysqlite3",
}


@dataclass
class Tally:
    """What a migration did so far."""

    total: int | None
    copied: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.copied + self.skipped + self.failed


class StopRequest:
    """Set by SIGINT or SIGTERM: no new copy starts, the running ones finish.
    A second signal exits at once (every write is atomic anyway)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            # print() is not reentrant: the main thread may be inside one.
            os.write(2, b"imageattach: interrupted again: exiting without waiting\n")
            os._exit(EXIT_INTERRUPTED)
        self.requested = True

    def __bool__(self) -> bool:
        return self.requested


# -- what each thread is doing, for retry lines ------------------------------------

_activity = threading.local()


@contextlib.contextmanager
def _doing(what: str) -> Iterator[None]:
    """Name what this thread does (an image, a store check) in retry lines."""
    _activity.what = what
    try:
        yield
    finally:
        _activity.what = None


class RetryReporter(logging.Filter):
    """Reports each storage request retry as a ``retrying:`` line while it
    happens.  botocore logs (at DEBUG) the exception of a failed request and
    its decision to retry; this filter on its ``botocore.endpoint`` logger
    turns those records into lines, and lets through to other handlers
    only what the logger's previous level let through.  Installed on the
    stores' boto clients, it also learns the request and the HTTP error of
    a retried response."""

    LOGGER = "botocore.endpoint"

    def __init__(self, report: Callable[[str], None]) -> None:
        super().__init__()
        self.report = report
        self._local = threading.local()
        self._logger = logging.getLogger(self.LOGGER)
        self._level = self._logger.level
        self._passed = self._logger.getEffectiveLevel()
        self._logger.addFilter(self)
        self._logger.setLevel(logging.DEBUG)

    def close(self) -> None:
        self._logger.removeFilter(self)
        self._logger.setLevel(self._level)

    def watch(self, client: Any) -> None:
        """Also learn the operation and HTTP error of ``client``'s retries."""
        client.meta.events.register_first("needs-retry", self._needs_retry)

    def _needs_retry(
        self,
        operation: Any = None,
        attempts: int = 0,
        response: Any = None,
        caught_exception: BaseException | None = None,
        **kwargs: Any,
    ) -> None:
        cause = None
        if caught_exception is not None:
            cause = f"{type(caught_exception).__name__}: {caught_exception}"
        elif response is not None:
            parsed = response[1] if isinstance(response, tuple) else {}
            status = parsed.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = parsed.get("Error", {}).get("Code", "")
            cause = f"HTTP {status} {code}".strip()
        url = (kwargs.get("request_dict") or {}).get("url")
        name = getattr(operation, "name", None)
        self._local.operation = f"{name} {url}" if name and url else name
        self._local.attempt = attempts
        self._local.cause = cause

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Sending http request"):
            self._local.cause = None  # a new attempt: forget the last one's error
        elif record.msg == "Exception received when sending HTTP request." and record.exc_info:
            error = record.exc_info[1]
            self._local.cause = f"{type(error).__name__}: {error}"
        elif str(record.msg).startswith("Response received to retry") and record.args:
            delay = record.args[0] if isinstance(record.args, tuple) else None
            self._retrying(delay if isinstance(delay, int | float) else None)
        return record.levelno >= self._passed

    def _retrying(self, delay: float | None) -> None:
        local = self._local
        # Unknown in s3transfer's threads (uploads), where the URL names the file.
        what = getattr(_activity, "what", None)
        operation = getattr(local, "operation", None) or "a request"
        cause = getattr(local, "cause", None) or "unknown error"
        attempt = getattr(local, "attempt", None)
        numbered = f" (attempt {attempt})" if attempt else ""
        later = "" if delay is None else f" in {delay:.1f} s"
        prefix = f"retrying: {what}: " if what else "retrying: "
        self.report(f"{prefix}{operation} failed{numbered}: {cause}; again{later}")
        local.operation = local.cause = local.attempt = None


def _boto_clients(store: Store, name: str) -> list[Any]:
    """The boto3 clients of an S3 store (none for other stores), made now.

    :raises ConfigurationError: a client cannot be made (e.g. a bad region).
    """
    s3 = sys.modules.get("imageattach.stores.s3")  # not imported: not an S3 store
    if s3 is None:
        return []
    import botocore.exceptions

    try:
        if isinstance(store, s3.S3SandboxStore):
            return [store.underlying.client, store.overriding.client]
        if isinstance(store, s3.S3Store):
            return [store.client]
    except (botocore.exceptions.BotoCoreError, ValueError) as error:
        raise ConfigurationError(f"{name}: {error}") from None
    return []


# -- progress display ----------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress on ``stream``: a tqdm bar on a terminal, a line every few
    seconds otherwise (logs and CI stay readable), or nothing."""

    def __init__(self, tally: Tally, mode: str, stream: IO[str], dry_run: bool = False) -> None:
        self.tally = tally
        self.stream = stream
        self.dry_run = dry_run
        self.started = self.last_line = time.monotonic()
        self._bar: Any = None
        self._lock = threading.Lock()  # retry lines come from worker threads
        if mode == "auto":
            mode = "bar" if stream.isatty() else "log"
        if mode == "bar":
            try:
                from tqdm import tqdm
            except ImportError:
                mode = "log"  # the ``cli`` extra is not installed
            else:
                self._bar = tqdm(
                    total=tally.total, unit="img", file=stream, dynamic_ncols=True, smoothing=0.1
                )
        self.mode = mode

    def counts(self) -> str:
        tally = self.tally
        verb = "would copy" if self.dry_run else "copied"
        return f"{verb} {tally.copied}, skipped {tally.skipped}, failed {tally.failed}"

    def step(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(self.counts(), refresh=False)
            self._bar.update(1)
        elif self.mode == "log" and time.monotonic() - self.last_line >= _LOG_INTERVAL:
            self._line()

    def _line(self) -> None:
        tally = self.tally
        now = time.monotonic()
        self.last_line = now
        rate = tally.done / max(now - self.started, 1e-9)
        if tally.total:
            eta = _duration((tally.total - tally.done) / rate) if rate else "?"
            position = f"{tally.done}/{tally.total} images ({100 * tally.done // tally.total}%)"
        else:
            eta, position = "?", f"{tally.done} images"
        self.message(f"{position}, {rate:.1f}/s, ETA {eta}: {self.counts()}")

    def message(self, text: str) -> None:
        """Print ``text`` without breaking the bar (from any thread)."""
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "log":
            self._line()


# -- checking the stores before copying ------------------------------------------


class PreflightError(Exception):
    """A store cannot be used: nothing was copied."""


def _check_directory(path: str, name: str, write: bool) -> None:
    """``path`` is a readable directory, and a writable one (or, missing,
    one that can be created) if ``write``."""
    if not os.path.exists(path):
        if not write:
            raise PreflightError(f"{name}: the directory {path} does not exist")
        parent = os.path.dirname(os.path.abspath(path))
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise PreflightError(f"{name}: cannot create {path}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PreflightError(f"{name}: cannot create {path}: {parent} is not writable")
        return
    if not os.path.isdir(path):
        raise PreflightError(f"{name}: {path} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise PreflightError(f"{name}: the directory {path} is not readable")
    if write and not os.access(path, os.W_OK):
        raise PreflightError(f"{name}: the directory {path} is not writable")


def _check_bucket(client: Any, bucket: str, name: str) -> None:
    """The bucket exists and the credentials may use it (``HeadBucket``)."""
    import botocore.exceptions

    try:
        client.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            raise PreflightError(f"{name}: the bucket {bucket!r} does not exist") from None
        if status == 403:
            raise PreflightError(
                f"{name}: access to the bucket {bucket!r} denied (check the credentials)"
            ) from None
        raise PreflightError(f"{name}: bucket {bucket!r}: {error}") from None
    except botocore.exceptions.NoCredentialsError:
        raise PreflightError(
            f"{name}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or AWS_PROFILE)"
        ) from None
    except botocore.exceptions.BotoCoreError as error:
        raise PreflightError(f"{name}: cannot reach S3: {type(error).__name__}: {error}") from None


def check_store(store: Store, name: str, write: bool) -> None:
    """Fail fast, with one :exc:`PreflightError`, if ``store`` cannot be
    read (or written, if ``write``): a directory is checked for existence
    and permissions (not written to), an S3 bucket by a ``HeadBucket``
    request, any other store by asking it whether a file exists."""
    from .stores.fs import BaseFileSystemStore

    with _doing(f"checking {name}"):
        if isinstance(store, BaseFileSystemStore):
            _check_directory(store.path, name, write)
            return
        s3 = sys.modules.get("imageattach.stores.s3")
        if s3 is not None and isinstance(store, s3.S3SandboxStore):
            for part in (store.underlying, store.overriding):
                _check_bucket(part.client, part.bucket, name)
            return
        if s3 is not None and isinstance(store, s3.S3Store):
            _check_bucket(store.client, store.bucket, name)
            return
        try:
            store.exists("imageattach-check", 1, 1, 1, "image/png")
        except NotImplementedError:
            pass
        except StoreError as error:
            raise PreflightError(f"{name}: {type(error).__name__}: {error}") from None


# -- migrating -------------------------------------------------------------------


def _describe(key: Key) -> str:
    object_type, object_id, width, height, mimetype = key
    return f"{object_type} {object_id} {width}x{height} {mimetype}"


def is_present(store: Store, key: Key) -> bool:
    """Whether ``store`` has a file under ``key``: the store's cheap check,
    or, for a store that cannot tell, opening the file."""
    present = store.exists(*key)
    if present is not None:
        return present
    try:
        store.get_file(*key).close()
    except FileNotFoundError:
        return False
    return True


def copy_file(
    source: Store, destination: Store, key: Key, reproducible: bool, dry_run: bool
) -> str:
    """Copy the file under ``key`` unless ``destination`` has it; return
    ``'copied'`` or ``'skipped'``.  Runs in a worker thread: it touches the
    stores only, never the session."""
    with _doing(_describe(key)):
        if is_present(destination, key):
            return "skipped"
        if not dry_run:
            with contextlib.closing(source.get_file(*key)) as file:
                destination.put_file(file, *key, reproducible)
        return "copied"


def migrate_images(
    images: Iterable[Any],
    source: Store,
    destination: Store,
    tally: Tally,
    progress: Progress,
    *,
    dry_run: bool = False,
    max_failures: int | None = None,
    jobs: int = 1,
    stop: Callable[[], bool] = lambda: False,
) -> str:
    """Copy each image's file that ``destination`` lacks, ``jobs`` at a time
    (storage round trips, not CPU, are what a migration waits for); count in
    ``tally``.  A failing image is reported and skipped.

    Every copy started is waited for and counted, so ``tally`` is exact.
    No copy starts once ``stop()`` is true, or once ``max_failures`` images
    failed; and no more copies run at once than failures are left before
    ``max_failures``, so no more than ``max_failures`` images ever fail.

    Returns ``'finished'``, ``'interrupted'`` (``stop()``) or
    ``'max-failures'``.
    """
    running: dict[Future[str], Key] = {}

    def room() -> int:
        """How many copies may run at once now."""
        if max_failures is None:
            return jobs
        return min(jobs, max_failures - tally.failed)

    def collect() -> None:
        """Wait a little for copies to finish; count every finished one."""
        done, _ = wait(running, timeout=_POLL, return_when=FIRST_COMPLETED)
        for future in done:
            key = running.pop(future)
            try:
                outcome = future.result()
            except Exception as error:
                tally.failed += 1
                progress.message(f"failed: {_describe(key)}: {type(error).__name__}: {error}")
            else:
                if outcome == "copied":
                    tally.copied += 1
                else:
                    tally.skipped += 1
            progress.step()

    with ThreadPoolExecutor(jobs, thread_name_prefix="imageattach-migrate") as pool:
        try:
            for image in images:  # rows are read here, in the session's thread
                while running and len(running) >= room() and not stop():
                    collect()
                if stop() or room() <= 0:
                    break
                key = image_key(image)
                future = pool.submit(
                    copy_file, source, destination, key, not image.original, dry_run
                )
                running[future] = key
        finally:  # also on a database error: the copies in progress are counted
            while running:
                collect()
    if stop():
        return "interrupted"
    if max_failures is not None and tally.failed >= max_failures:
        return "max-failures"
    return "finished"


# -- the command line ------------------------------------------------------------


def _error(message: str) -> None:
    print(f"imageattach: error: {message}", file=sys.stderr, flush=True)


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _missing_driver(drivername: str, error: ImportError) -> str:
    module = error.name or str(error)
    package = _DRIVER_PACKAGES.get(module, _DRIVER_PACKAGES.get(module.split(".")[0], module))
    return (
        f"the database driver for {drivername!r} is not installed ({error}); "
        f"install it: pip install '{package}'"
    )


def _check_sqlite_file(url: Any) -> None:
    """Refuse an SQLite URL whose file does not exist: connecting would
    create an empty database, and a migration only reads."""
    if url.get_backend_name() != "sqlite":
        return
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return  # in memory, or a sqlite3 URI (whose mode= decides)
    if not os.path.exists(database):
        raise ConfigurationError(
            f"the SQLite database {os.path.abspath(database)} does not exist "
            "(sqlite:///relative/path or sqlite:////absolute/path)"
        )


def _engine(database: str) -> Any:
    from sqlalchemy import Engine, create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if "://" not in database:
        engine = import_object(database)
        if not isinstance(engine, Engine):
            raise ConfigurationError(f"{database!r} is {engine!r}, not an SQLAlchemy Engine")
        _check_sqlite_file(engine.url)
        return engine
    try:
        url = make_url(database)
    except ArgumentError as error:
        raise ConfigurationError(f"bad database URL {database!r}: {error}") from None
    _check_sqlite_file(url)
    try:
        return create_engine(url)
    except ImportError as error:  # the dialect is known, its DB-API module missing
        raise ConfigurationError(_missing_driver(url.drivername, error)) from None
    except (ArgumentError, NoSuchModuleError) as error:
        raise ConfigurationError(f"bad database URL {database!r}: {error}") from None


def _store(spec: str, role: str) -> Store:
    """The store ``spec`` describes, errors naming the option it came from."""
    try:
        return parse_store(spec)
    except ConfigurationError as error:
        raise ConfigurationError(f"{role}: {error}") from None


def _configure(args: argparse.Namespace) -> tuple[Store, Store, Any, Any]:
    """The stores, declarative base and engine the arguments describe."""
    from .migration import image_classes

    # Like gunicorn and flask: the project in the current directory is importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    source = _store(args.source, "--from")
    destination = _store(args.destination, "--to")
    base = import_object(args.models)
    try:
        classes = image_classes(base)
    except TypeError as error:
        raise ConfigurationError(str(error)) from None
    if not classes:
        raise ConfigurationError(f"{args.models} maps no imageattach.entity.Image classes")
    return source, destination, base, _engine(args.database)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[StopRequest]:
    """Turn SIGINT and SIGTERM into a :class:`StopRequest` meanwhile (in the
    main thread; elsewhere signals cannot be handled, and none is asked)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from .migration import count_images, iter_images

    try:
        source, destination, base, engine = _configure(args)
        clients = _boto_clients(source, f"--from {args.source}")
        clients += _boto_clients(destination, f"--to {args.destination}")
    except ConfigurationError as error:
        _error(str(error))
        return EXIT_USAGE

    with contextlib.ExitStack() as stack:
        stop = stack.enter_context(_stop_on_signals())
        session = stack.enter_context(Session(engine))
        try:
            tally = Tally(total=count_images(session, base))
        except SQLAlchemyError as error:
            _error(f"cannot read the database: {error}")
            return EXIT_ERROR
        retries = RetryReporter(_stderr_line)
        stack.callback(retries.close)
        for client in clients:
            retries.watch(client)
        try:
            check_store(source, f"the source {args.source}", write=False)
            check_store(destination, f"the destination {args.destination}", write=True)
        except PreflightError as error:
            _error(f"{error}; nothing was copied")
            return EXIT_ERROR
        if stop:
            _error("interrupted before copying; nothing was copied")
            return EXIT_INTERRUPTED
        progress = Progress(tally, args.progress, sys.stderr, dry_run=args.dry_run)
        retries.report = progress.message
        try:
            ended = migrate_images(
                iter_images(session, base),
                source,
                destination,
                tally,
                progress,
                dry_run=args.dry_run,
                max_failures=args.max_failures,
                jobs=args.jobs,
                stop=lambda: bool(stop),
            )
        except SQLAlchemyError as error:
            progress.message(f"database error: {error}")
            outcome, status = "stopped by a database error", EXIT_ERROR
        else:
            if ended == "interrupted":
                outcome, status = "interrupted", EXIT_INTERRUPTED
            elif ended == "max-failures":
                outcome, status = f"stopped after {tally.failed} failures", EXIT_ERROR
            elif tally.failed:
                outcome, status = "finished with failures", EXIT_FAILED
            else:
                outcome, status = "finished", EXIT_OK
        finally:
            progress.close()
    verb = "would copy" if args.dry_run else "copied"
    print(
        f"{'dry run ' if args.dry_run else ''}{outcome}: {tally.done} of {tally.total} images, "
        f"{verb} {tally.copied}, skipped {tally.skipped} (already present), "
        f"failed {tally.failed}",
        flush=True,
    )
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imageattach",
        description="Tools for imageattach image stores.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    commands = parser.add_subparsers(title="commands", dest="command", required=True)
    migrate = commands.add_parser(
        "migrate",
        help="copy every image file of a database from one store to another",
        description=(
            "Copy the file of every image row of the models' tables from the --from\n"
            "store to the --to store.  Files already in the destination are skipped,\n"
            "so an interrupted or partly failed run is resumed by running it again.\n"
            "Both stores are checked before the first copy (exit status 3 if one\n"
            "cannot be used); retried storage requests are shown on stderr."
        ),
        epilog=f"{STORE_SPEC_HELP}\n{EXIT_STATUS_HELP}\nexample:\n"
        "  imageattach migrate --from file:///srv/images --to s3://my-bucket/images \\\n"
        "      --models myapp.models:Base --database postgresql://localhost/myapp",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="STORE", help="the store to copy from"
    )
    migrate.add_argument(
        "--to", dest="destination", required=True, metavar="STORE", help="the store to copy to"
    )
    migrate.add_argument(
        "--models",
        required=True,
        metavar="MODULE:BASE",
        help="the declarative base whose mapped Image classes are migrated, e.g. myapp.models:Base",
    )
    migrate.add_argument(
        "--database",
        required=True,
        metavar="URL",
        help="an SQLAlchemy database URL, or MODULE:ENGINE naming an Engine",
    )
    migrate.add_argument(
        "--dry-run",
        action="store_true",
        help="only count what would be copied and what is already present",
    )
    migrate.add_argument(
        "--max-failures",
        type=_at_least_one,
        default=None,
        metavar="N",
        help="stop (exit status 3) once N images failed: no copy starts after that, and "
        "fewer than --jobs copies run at once when fewer failures are left, so no more "
        "than N images fail; default: never stop",
    )
    migrate.add_argument(
        "--jobs",
        type=_at_least_one,
        default=4,
        metavar="N",
        help="copy N files at a time (default: 4)",
    )
    migrate.add_argument(
        "--progress",
        choices=("auto", "bar", "log", "none"),
        default="auto",
        help="a progress bar on a terminal (auto), always a bar, a line every "
        f"{_LOG_INTERVAL:g} s (the default without a terminal), or nothing",
    )
    migrate.set_defaults(run=run_migrate)
    return parser


def _at_least_one(value: str) -> int:
    """A whole number of at least 1 (argparse names the option in its error)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {value!r}")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:  # before the signal handlers are in place
        _error("interrupted")
        return EXIT_INTERRUPTED
    return status


if __name__ == "__main__":
    sys.exit(main())
