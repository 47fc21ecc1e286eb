"""The ``imageattach`` command line.

``imageattach migrate`` copies every image file of a database from one store
to another, e.g. from a directory to S3.  It is resumable: a file already
present in the destination is skipped, so an interrupted run is simply run
again.  Both stores write atomically, so an interrupted run leaves no
partial file behind.

``imageattach pregenerate`` (:mod:`.pregenerate`) makes the presets of
every original ahead of time, resumable the same way.

The exit statuses (:data:`EXIT_OK` ...) are stable, for scripts; see
``imageattach --help`` and docs/cli.md.

This module is the command line itself (arguments, ``main``); the
migration's parts are :mod:`.exitstatus`, :mod:`.database` (the engine),
:mod:`.preflight` (checking the stores), :mod:`.copying`, :mod:`.progress`,
:mod:`.retries` (``retrying:`` lines) and :mod:`.signals` (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from ..exceptions import ConfigurationError
from ..store import Store
from ..storespec import S3_OPTIONS, import_object, parse_store
from ..version import VERSION
from .copying import migrate_images
from .database import _engine
from .exitstatus import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STATUS_HELP,
    EXIT_USAGE,
)
from .preflight import PreflightError, check_store
from .pregenerate import add_parser as add_pregenerate
from .progress import _LOG_INTERVAL, Progress, Tally
from .retries import RetryReporter, _boto_clients
from .signals import _stop_on_signals

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

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


def _error(message: str) -> None:
    print(f"imageattach: error: {message}", file=sys.stderr, flush=True)


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _store(spec: str, role: str) -> Store:
    """The store ``spec`` describes, errors naming the option it came from."""
    try:
        return parse_store(spec)
    except ConfigurationError as error:
        raise ConfigurationError(f"{role}: {error}") from None


def _configure(args: argparse.Namespace) -> tuple[Store, Store, Any, Any]:
    """The stores, declarative base and engine the arguments describe."""
    from ..migration import image_classes

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


def run_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from ..migration import count_images, iter_images

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
    add_pregenerate(commands, STORE_SPEC_HELP, _at_least_one)
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
