"""Stores described by one string, for the command line and config files.

``file:///var/images?base_url=https://img.example.com/``
    a :class:`~imageattach.stores.fs.FileSystemStore` (``base_url``
    defaults to the directory's ``file://`` URL).
``s3://bucket/prefix?region=eu-west-1&endpoint_url=...&public_base_url=...``
    an :class:`~imageattach.stores.s3.S3Store`; every keyword option of
    :class:`~imageattach.stores.s3.S3Store` that is a string, number or flag
    can be given in the query (``resize_lock=redis%3A//host%3A6379/0``, the
    URL quoted).  Credentials come from the standard chain.
``package.module:attribute``
    a :class:`~imageattach.store.Store` instance, or a callable taking no
    arguments that returns one (a factory in the application's config).
"""

from __future__ import annotations

import importlib
import pathlib
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from .exceptions import ConfigurationError
from .store import Store
from .validation import unknown_names

__all__ = ["import_object", "parse_store"]

_OBJECT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"expected true or false, not {value!r}")


#: S3Store options accepted in an ``s3://`` query, with their parsers.
S3_OPTIONS: dict[str, Callable[[str], Any]] = {
    "region": str,
    "endpoint_url": str,
    "public_base_url": str,
    "addressing_style": str,
    "max_age": int,
    "max_retry": int,
    "connect_timeout": float,
    "read_timeout": float,
    "acl": str,
    "reproducible_storage_class": str,
    "presigned": _flag,
    "presigned_expires": int,
    "multipart_threshold": int,
    "resize_lock": str,
    "resize_lock_ttl": float,
    "resize_lock_prefix": str,
    "resize_lock_fallback": str,
    "conditional_writes": _flag,
}


def import_object(path: str) -> Any:
    """Import ``package.module:attribute`` (the attribute may be dotted)."""
    if not _OBJECT_PATH.match(path):
        raise ConfigurationError(f"expected module:attribute, not {path!r}")
    module_name, attribute = path.split(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(f"cannot import {module_name!r}: {error}") from error
    for name in attribute.split("."):
        try:
            found = getattr(found, name)
        except AttributeError:
            raise ConfigurationError(f"{module_name!r} has no attribute {attribute!r}") from None
    return found


def _query(spec: str, query: str, accepted: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if name not in accepted:
            unknown = unknown_names("option", [name], accepted)
            raise ConfigurationError(f"{unknown} in store {spec!r}")
        if name in options:
            raise ConfigurationError(f"option {name!r} given twice in store {spec!r}")
        try:
            options[name] = accepted[name](value)
        except ValueError as error:
            raise ConfigurationError(f"bad {name} in store {spec!r}: {error}") from None
    return options


def _file_store(spec: str, parts: urllib.parse.SplitResult) -> Store:
    from .stores.fs import FileSystemStore

    if not spec.startswith("file://") or parts.netloc not in {"", "localhost"} or not parts.path:
        raise ConfigurationError(f"expected file:///absolute/path, not {spec!r}")
    path = pathlib.Path(urllib.parse.unquote(parts.path))
    options = _query(spec, parts.query, {"base_url": str})
    base_url = options.get("base_url") or path.resolve().as_uri() + "/"
    return FileSystemStore(path, base_url)


def _s3_store(spec: str, parts: urllib.parse.SplitResult) -> Store:
    from .stores.s3 import S3Store

    if not spec.startswith("s3://") or not parts.netloc:
        raise ConfigurationError(f"expected s3://bucket[/prefix], not {spec!r}")
    options = _query(spec, parts.query, S3_OPTIONS)
    return S3Store(parts.netloc, prefix=urllib.parse.unquote(parts.path), **options)


def parse_store(spec: str) -> Store:
    """Build the store described by ``spec`` (see the module docstring).

    :raises ConfigurationError: for a spec that does not describe a store.
    """
    parts = urllib.parse.urlsplit(spec)
    if parts.scheme == "file":
        return _file_store(spec, parts)
    if parts.scheme == "s3":
        return _s3_store(spec, parts)
    if not _OBJECT_PATH.match(spec):
        raise ConfigurationError(
            f"cannot understand store {spec!r}: expected file:///path, "
            "s3://bucket/prefix or package.module:attribute"
        )
    found = import_object(spec)
    if isinstance(found, type) and not issubclass(found, Store):
        # A model class given by mistake must not be instantiated.
        raise ConfigurationError(
            f"{spec!r} is the class {found.__qualname__}, not a Store: name a Store "
            "instance, a Store class or a function that returns a Store (other classes "
            "are not instantiated)"
        )
    if not isinstance(found, Store) and callable(found):
        found = found()
    if not isinstance(found, Store):
        raise ConfigurationError(f"{spec!r} is {found!r}, not an imageattach Store")
    return found
