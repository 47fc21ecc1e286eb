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
migration's parts are :mod:`.options` (shared with ``pregenerate``),
:mod:`.exitstatus`, :mod:`.database` (the engine),
:mod:`.preflight` (checking the stores), :mod:`.copying`, :mod:`.progress`,
:mod:`.retries` (``retrying:`` lines) and :mod:`.signals` (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from ..exceptions import ConfigurationError
from ..store import Store
from ..version import VERSION
from . import options
from .copying import migrate_images
from .database import _engine
from .exitstatus import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STATUS_HELP,
    EXIT_USAGE,
    outcome,
)
from .preflight import PreflightError, check_store
from .pregenerate import add_parser as add_pregenerate
from .progress import Progress, Tally
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


def _error(message: str) -> None:
    print(f"imageattach: error: {message}", file=sys.stderr, flush=True)


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _configure(args: argparse.Namespace) -> tuple[Store, Store, Any, Any]:
    """The stores, declarative base and engine the arguments describe."""
    options.import_from_cwd()
    source = options.store(args.source, "--from")
    destination = options.store(args.destination, "--to")
    return source, destination, options.models(args.models), _engine(args.database)


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
            summary, status = "stopped by a database error", EXIT_ERROR
        else:
            summary, status = outcome(ended, tally.failed)
        finally:
            progress.close()
    verb = "would copy" if args.dry_run else "copied"
    print(
        f"{'dry run ' if args.dry_run else ''}{summary}: {tally.done} of {tally.total} images, "
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
        epilog=options.epilog(
            EXIT_STATUS_HELP,
            "  imageattach migrate --from file:///srv/images --to s3://my-bucket/images \\\n"
            "      --models myapp.models:Base --database postgresql://localhost/myapp",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="STORE", help="the store to copy from"
    )
    migrate.add_argument(
        "--to", dest="destination", required=True, metavar="STORE", help="the store to copy to"
    )
    options.add_models(
        migrate,
        help="the declarative base whose mapped Image classes are migrated, e.g. myapp.models:Base",
    )
    options.add_database(migrate)
    migrate.add_argument(
        "--dry-run",
        action="store_true",
        help="only count what would be copied and what is already present",
    )
    migrate.add_argument(
        "--max-failures",
        type=options.at_least_one,
        default=None,
        metavar="N",
        help="stop (exit status 3) once N images failed: no copy starts after that, and "
        "fewer than --jobs copies run at once when fewer failures are left, so no more "
        "than N images fail; default: never stop",
    )
    options.add_jobs(migrate, default=4, help="copy N files at a time (default: 4)")
    options.add_progress(migrate)
    migrate.set_defaults(run=run_migrate)
    add_pregenerate(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:  # before the signal handlers are in place
        _error("interrupted")
        return EXIT_INTERRUPTED
    return status
