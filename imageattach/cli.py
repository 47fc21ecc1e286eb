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
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any

from .exceptions import ConfigurationError
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
      a Store instance, or a callable returning one, from your own code
      (the current directory is importable)
"""

EXIT_STATUS_HELP = """\
exit status:
  0    every image is in the destination (or would be, with --dry-run)
  1    some images failed (listed on stderr); run again to retry them
  2    bad command line or configuration
  3    stopped early: database error, or --max-failures images failed
  130  interrupted (Ctrl-C, SIGTERM); run again to resume
"""


class _Interrupted(BaseException):
    """SIGTERM, turned into an orderly stop with a summary (a BaseException,
    like KeyboardInterrupt, so that the per-image error handling lets it pass)."""


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


# -- progress display ----------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress on ``stream``: a tqdm bar on a terminal, a line every few
    seconds otherwise (logs and CI stay readable), or nothing."""

    def __init__(self, tally: Tally, mode: str, stream: IO[str]) -> None:
        self.tally = tally
        self.stream = stream
        self.started = self.last_line = time.monotonic()
        self._bar: Any = None
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
        return f"copied {tally.copied}, skipped {tally.skipped}, failed {tally.failed}"

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
        print(f"{position}, {rate:.1f}/s, ETA {eta}: {self.counts()}", file=self.stream, flush=True)

    def message(self, text: str) -> None:
        """Print ``text`` without breaking the bar."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "log":
            self._line()


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
    if is_present(destination, key):
        return "skipped"
    if not dry_run:
        with contextlib.closing(source.get_file(*key)) as file:
            destination.put_file(file, *key, reproducible)
    return "copied"


def migrate_images(
    images: Iterator[Any],
    source: Store,
    destination: Store,
    tally: Tally,
    progress: Progress,
    *,
    dry_run: bool = False,
    max_failures: int | None = None,
    jobs: int = 1,
) -> bool:
    """Copy each image's file that ``destination`` lacks, ``jobs`` at a time
    (storage round trips, not CPU, are what a migration waits for); count in
    ``tally``.  A failing image is reported and skipped.  Returns ``False``
    when stopped after ``max_failures`` failures.
    """
    running: dict[Future[str], Key] = {}

    def collect() -> None:
        """Wait for at least one copy to finish; count every finished one."""
        done, _ = wait(running, return_when=FIRST_COMPLETED)
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

    def stopped() -> bool:
        return max_failures is not None and tally.failed >= max_failures

    pool = ThreadPoolExecutor(jobs, thread_name_prefix="imageattach-migrate")
    try:
        for image in images:  # rows are read here, in the session's thread
            key = image_key(image)
            future = pool.submit(copy_file, source, destination, key, not image.original, dry_run)
            running[future] = key
            while len(running) >= jobs:
                collect()
            if stopped():
                return False
        while running:
            collect()
        return not stopped()
    finally:
        # On an interruption, files being written are finished (each write is
        # atomic anyway) and the queued ones dropped.
        pool.shutdown(wait=True, cancel_futures=True)


# -- the command line ------------------------------------------------------------


def _error(message: str) -> None:
    print(f"imageattach: error: {message}", file=sys.stderr)


def _engine(database: str) -> Any:
    from sqlalchemy import Engine, create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if "://" not in database:
        engine = import_object(database)
        if not isinstance(engine, Engine):
            raise ConfigurationError(f"{database!r} is {engine!r}, not an SQLAlchemy Engine")
        return engine
    try:
        return create_engine(database)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise ConfigurationError(f"bad database URL {database!r}: {error}") from error


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted


def _configure(args: argparse.Namespace) -> tuple[Store, Store, Any, Any]:
    """The stores, declarative base and engine the arguments describe."""
    from .migration import image_classes

    # Like gunicorn and flask: the project in the current directory is importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    source = parse_store(args.source)
    destination = parse_store(args.destination)
    base = import_object(args.models)
    try:
        classes = image_classes(base)
    except TypeError as error:
        raise ConfigurationError(str(error)) from None
    if not classes:
        raise ConfigurationError(f"{args.models} maps no imageattach.entity.Image classes")
    return source, destination, base, _engine(args.database)


def run_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from .migration import count_images, iter_images

    try:
        source, destination, base, engine = _configure(args)
    except ConfigurationError as error:
        _error(str(error))
        return EXIT_USAGE
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)

    with Session(engine) as session:
        try:
            tally = Tally(total=count_images(session, base))
        except SQLAlchemyError as error:
            _error(f"cannot read the database: {error}")
            return EXIT_ERROR
        progress = Progress(tally, args.progress, sys.stderr)
        try:
            finished = migrate_images(
                iter_images(session, base),
                source,
                destination,
                tally,
                progress,
                dry_run=args.dry_run,
                max_failures=args.max_failures,
                jobs=args.jobs,
            )
        except (KeyboardInterrupt, _Interrupted):
            outcome, status = "interrupted", EXIT_INTERRUPTED
        except SQLAlchemyError as error:
            progress.message(f"database error: {error}")
            outcome, status = "stopped by a database error", EXIT_ERROR
        else:
            if not finished:
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
            "so an interrupted or partly failed run is resumed by running it again."
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
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop (exit status 3) after N images failed; default: never stop",
    )
    migrate.add_argument(
        "--jobs",
        type=_positive_int,
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


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
