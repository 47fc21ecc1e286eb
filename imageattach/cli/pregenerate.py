"""``imageattach pregenerate``: make (or enqueue) what every original of a
database should have ahead of time (:mod:`imageattach.pregenerate`): the
store's presets and the attachments' ``pregenerate=`` sizes.

Like ``migrate``, it is resumable without a state file: what exists is
skipped, so an interrupted run is simply run again; Ctrl-C lets the
originals in progress finish and prints a summary.  The exit statuses are
``migrate``'s (:mod:`.exitstatus`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigurationError
from ..pregenerate import Original, Report, pregenerate, requests_for
from ..store import Store
from ..storespec import import_object
from . import options
from .database import _engine
from .exitstatus import EXIT_ERROR, EXIT_USAGE, outcome
from .progress import Progress, Tally

_POLL = 0.2  # seconds between checks for a stop request while originals are made

#: The statuses of :mod:`.exitstatus`, as they apply here.
EXIT_STATUS_HELP = """\
exit status:
  0    every original has its files (or would have, with --dry-run), or was
       enqueued (--enqueue)
  1    some files failed (listed on stderr); run again to retry them
  2    bad command line or configuration (including a store without an
       on-demand resizer, or a size naming a preset the store lacks)
  3    the database could not be read
  130  interrupted (Ctrl-C, SIGTERM); run again to resume
"""


@dataclass
class PregenerationTally(Tally):
    """What a run did so far: originals done (``copied``: those that got a
    file or a message, ``skipped``: those that had every file), and files."""

    generated: int = 0
    existing: int = 0
    failed_files: int = 0
    enqueue: bool = False


class PregenerationProgress(Progress):
    """:class:`~.progress.Progress` counting files instead of copies."""

    tally: PregenerationTally

    def counts(self) -> str:
        tally = self.tally
        if tally.enqueue:
            verb = "would enqueue" if self.dry_run else "enqueued"
            return f"{verb} {tally.copied}, skipped {tally.skipped}, failed {tally.failed}"
        verb = "would generate" if self.dry_run else "generated"
        return f"{verb} {tally.generated}, skipped {tally.existing}, failed {tally.failed_files}"


def _originals(session: Any, base: Any) -> Iterable[Any]:
    from ..migration import iter_images

    return (image for image in iter_images(session, base) if image.original)


def _count_originals(session: Any, base: Any) -> int:
    from sqlalchemy import func, select

    from ..migration import image_classes

    return sum(
        session.scalar(select(func.count()).select_from(cls).where(cls.original.is_(True))) or 0
        for cls in image_classes(base)
    )


def _configure(args: argparse.Namespace) -> tuple[Store, Any, Any, Any]:
    """The store, declarative base, engine and Celery app (or ``None``)."""
    options.import_from_cwd()
    store = options.store(args.store, "--store")
    if getattr(store, "resizer", None) is None:
        raise ConfigurationError(
            f"--store {args.store} has no on-demand resizer ({type(store).__name__}): nothing "
            "to pregenerate; name the application's store, e.g. myapp.stores:images"
        )
    base = options.models(args.models)
    app = None
    if args.enqueue:
        if args.celery is None:
            raise ConfigurationError("--enqueue needs --celery MODULE:APP")
        from .. import tasks

        app = import_object(args.celery)
        try:
            tasks.check_registered(app)
        except ConfigurationError as error:
            raise ConfigurationError(f"--celery {args.celery}: {error}") from None
    elif args.celery is not None:
        raise ConfigurationError("--celery goes with --enqueue")
    _check_sizes(store, base)
    return store, base, _engine(args.database), app


def _check_sizes(store: Store, base: Any) -> None:
    """Refuse, before any work, attachment sizes naming presets the store lacks."""
    from ..entity import Image
    from ..migration import _registry
    from ..pregenerate import sizes_of

    registry = _registry(base)
    registry.configure()
    for mapper in registry.mappers:
        if issubclass(mapper.class_, Image):
            sizes = sizes_of(mapper.class_)
            requests_for(store, Original("check", 1, 100, 100, "image/jpeg", sizes=sizes))


def _one(store: Store, original: Original, app: Any, dry_run: bool) -> tuple[Report, bool]:
    """Make (or enqueue) ``original``'s missing files; in a worker thread.
    Returns the report and whether a message was (or would be) sent."""
    if app is None:
        return pregenerate(store, original, dry_run=dry_run), False
    report = pregenerate(store, original, dry_run=True)
    if report.generated and not dry_run:
        from .. import tasks

        tasks.enqueue(app, original)
    return report, bool(report.generated)


def pregenerate_all(
    originals: Iterable[Any],
    store: Store,
    tally: PregenerationTally,
    progress: PregenerationProgress,
    *,
    app: Any = None,
    dry_run: bool = False,
    jobs: int = 1,
    stop: Callable[[], bool] = lambda: False,
) -> str:
    """Make or enqueue what each original lacks, ``jobs`` originals at a
    time; count in ``tally``; return ``'finished'`` or ``'interrupted'``
    (every original started is waited for and counted)."""
    running: dict[Future[tuple[Report, bool]], Original] = {}

    def collect() -> None:
        done, _ = wait(running, timeout=_POLL, return_when=FIRST_COMPLETED)
        for future in done:
            original = running.pop(future)
            try:
                report, sent = future.result()
            except Exception as error:
                tally.failed += 1
                progress.message(f"failed: {original}: {type(error).__name__}: {error}")
                progress.step()
                continue
            _count(report, sent, original, tally, progress, app is not None)
            progress.step()

    with ThreadPoolExecutor(jobs, thread_name_prefix="imageattach-pregenerate") as pool:
        try:
            for image in originals:  # rows are read here, in the session's thread
                while running and len(running) >= jobs and not stop():
                    collect()
                if stop():
                    break
                original = Original.of(image)
                running[pool.submit(_one, store, original, app, dry_run)] = original
        finally:
            while running:
                collect()
    return "interrupted" if stop() else "finished"


def _count(
    report: Report,
    sent: bool,
    original: Original,
    tally: PregenerationTally,
    progress: PregenerationProgress,
    enqueue: bool,
) -> None:
    tally.existing += len(report.existing)
    tally.failed_files += len(report.failed) + len(report.busy)
    if enqueue:
        verb = "would enqueue" if progress.dry_run else "enqueued"
        if sent:
            progress.message(f"{verb} {original}: {len(report.generated)} missing")
    else:
        tally.generated += len(report.generated)
        if progress.dry_run:
            for path in report.generated:
                progress.message(f"would generate {path}")
    for path, reason in report.failed:
        progress.message(f"failed: {original}: {path}: {reason}")
    for path in report.busy:
        progress.message(f"failed: {original}: {path}: the store or the imaging workers are busy")
    if report.failed or report.busy:
        tally.failed += 1
    elif sent or (not enqueue and report.generated):
        tally.copied += 1
    else:
        tally.skipped += 1


def run_pregenerate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from . import _error
    from .signals import _stop_on_signals

    try:
        store, base, engine, app = _configure(args)
    except ConfigurationError as error:
        _error(str(error))
        return EXIT_USAGE

    with contextlib.ExitStack() as stack:
        stop = stack.enter_context(_stop_on_signals())
        session = stack.enter_context(Session(engine))
        try:
            tally = PregenerationTally(
                total=_count_originals(session, base), enqueue=app is not None
            )
        except SQLAlchemyError as error:
            _error(f"cannot read the database: {error}")
            return EXIT_ERROR
        progress = PregenerationProgress(tally, args.progress, sys.stderr, dry_run=args.dry_run)
        try:
            ended = pregenerate_all(
                _originals(session, base),
                store,
                tally,
                progress,
                app=app,
                dry_run=args.dry_run,
                jobs=args.jobs,
                stop=lambda: bool(stop),
            )
        except SQLAlchemyError as error:
            progress.message(f"database error: {error}")
            summary, status = "stopped by a database error", EXIT_ERROR
        except ConfigurationError as error:  # a size names a preset the store lacks
            progress.message(f"configuration error: {error}")
            summary, status = "stopped by a configuration error", EXIT_USAGE
        else:
            summary, status = outcome(ended, tally.failed)
        finally:
            progress.close()
    print(
        f"{'dry run ' if args.dry_run else ''}{summary}: {tally.done} of {tally.total} "
        f"originals, {progress.counts()}",
        flush=True,
    )
    return status


def add_parser(commands: Any) -> None:
    """Add the ``pregenerate`` command to the ``imageattach`` parser."""
    parser = commands.add_parser(
        "pregenerate",
        help="make the store's presets and the attachments' sizes of every original",
        description=(
            "Make, for every original image of the models' tables, the files of the\n"
            "store's presets and of the attachments' pregenerate= sizes that the store\n"
            "lacks, here (--jobs at a time) or by enqueueing them to the Celery worker\n"
            "(--enqueue --celery MODULE:APP).  What exists is skipped, so an\n"
            "interrupted run is resumed by running it again."
        ),
        epilog=options.epilog(
            EXIT_STATUS_HELP,
            "  imageattach pregenerate --store myapp.stores:images \\\n"
            "      --models myapp.models:Base --database postgresql://localhost/myapp",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--store",
        required=True,
        metavar="STORE",
        help="the store with its presets, usually the application's: MODULE:ATTRIBUTE",
    )
    options.add_models(parser, help="the declarative base whose mapped Image classes are read")
    options.add_database(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="only list what would be made ('would generate')"
    )
    parser.add_argument(
        "--enqueue",
        action="store_true",
        help="send the originals that lack files to the Celery worker instead of making them",
    )
    parser.add_argument(
        "--celery",
        metavar="MODULE:APP",
        default=None,
        help="the Celery app that registered imageattach.tasks (with --enqueue)",
    )
    options.add_jobs(parser, default=1, help="originals handled at a time (default: 1)")
    options.add_progress(parser)
    parser.set_defaults(run=run_pregenerate)
