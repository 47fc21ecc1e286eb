"""The SQLAlchemy engine of ``--database``: a URL or an ``Engine`` in the
user's code; a missing SQLite file or driver is a configuration error."""

from __future__ import annotations

import os
from typing import Any

from ..exceptions import ConfigurationError
from ..storespec import import_object

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
