"""The options ``migrate`` and ``pregenerate`` share, defined once so that
both commands spell, check and explain them alike: ``--models``,
``--database``, ``--jobs``, ``--progress``, the store specs' help, and
reading the store and models options."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from typing import Any

from ..exceptions import ConfigurationError
from ..store import Store
from ..storespec import S3_OPTIONS, import_object, parse_store
from .progress import _LOG_INTERVAL

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


def epilog(exit_status_help: str, example: str) -> str:
    """A command's help epilog: the store specs, its exit statuses, an example."""
    return f"{STORE_SPEC_HELP}\n{exit_status_help}\nexample:\n{example}"


def at_least_one(value: str) -> int:
    """A whole number of at least 1 (argparse names the option in its error)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {value!r}")
    return number


def add_models(parser: argparse.ArgumentParser, *, help: str) -> None:
    """``--models MODULE:BASE``, read by :func:`models`."""
    parser.add_argument("--models", required=True, metavar="MODULE:BASE", help=help)


def add_database(parser: argparse.ArgumentParser) -> None:
    """``--database URL``, read by :func:`.database._engine`."""
    parser.add_argument(
        "--database",
        required=True,
        metavar="URL",
        help="an SQLAlchemy database URL, or MODULE:ENGINE naming an Engine",
    )


def add_jobs(parser: argparse.ArgumentParser, *, default: int, help: str) -> None:
    """``--jobs N``, at least 1."""
    parser.add_argument("--jobs", type=at_least_one, default=default, metavar="N", help=help)


def add_progress(parser: argparse.ArgumentParser) -> None:
    """``--progress``, the mode of :class:`.progress.Progress`."""
    parser.add_argument(
        "--progress",
        choices=("auto", "bar", "log", "none"),
        default="auto",
        help="a progress bar on a terminal (auto), always a bar, a line every "
        f"{_LOG_INTERVAL:g} s (the default without a terminal), or nothing",
    )


def import_from_cwd() -> None:
    """Make the project in the current directory importable, like gunicorn
    and flask do, for ``MODULE:ATTRIBUTE`` options."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def store(spec: str, option: str) -> Store:
    """The store ``spec`` describes; an error names ``option``, where it came from."""
    try:
        return parse_store(spec)
    except ConfigurationError as error:
        raise ConfigurationError(f"{option}: {error}") from None


def models(spec: str) -> Any:
    """The declarative base ``--models`` names; refused if it maps no image class."""
    from ..migration import image_classes

    base = import_object(spec)
    try:
        classes = image_classes(base)
    except TypeError as error:
        raise ConfigurationError(str(error)) from None
    if not classes:
        raise ConfigurationError(f"{spec} maps no imageattach.entity.Image classes")
    return base
