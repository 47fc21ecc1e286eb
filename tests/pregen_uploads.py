"""The database and the uploads of the pre-generation tests
(test_pregenerate.py, test_tasks.py), on tests/pregen_models.py."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from pregen_models import Base, User, UserPicture
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from imageattach.context import store_context
from imageattach.store import Store


@contextlib.contextmanager
def sqlite_session(root: Path) -> Iterator[Session]:
    """A session on a new SQLite database of the models in ``root``."""
    engine = create_engine(f"sqlite:///{root / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def upload(session: Session, store: Store, user_id: int, data: bytes) -> UserPicture:
    """Give user ``user_id`` (made if new) the picture ``data`` and commit;
    return the stored original."""
    with store_context(store):
        user = session.get(User, user_id) or User(id=user_id)
        session.add(user)
        user.picture.from_blob(data)
        session.commit()
        return user.picture.require_original()


def uncommitted_uploads(session: Session, data: bytes, checked: Callable[[], None]) -> User:
    """Pictures stored and never committed: user 1's in a rolled-back
    transaction, user 2's in a rolled-back savepoint (``checked`` runs after
    each rollback).  Call in a store context; returns user 2, committed
    without a picture."""
    user = User(id=1)
    session.add(user)
    user.picture.from_blob(data)
    session.flush()
    session.rollback()
    checked()

    user = User(id=2)
    session.add(user)
    session.commit()
    savepoint = session.begin_nested()
    user.picture.from_blob(data)
    session.flush()
    savepoint.rollback()
    session.commit()
    checked()
    return user
