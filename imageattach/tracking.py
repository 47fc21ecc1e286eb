"""Which image files each session wrote or must delete, per transaction.

An image's file is written when its row is flushed (its object id is known
then) and deleted only after the outermost commit.  Each session keeps, in
``session.info``, a log per open transaction that can end on its own (the
root transaction and each SAVEPOINT):

- a SAVEPOINT that is released hands its log on to its parent;
- a transaction that ends without committing (rollback, savepoint rollback,
  ``Session.close()``) undoes its writes, newest first, and forgets its
  deletes; a file that a write replaced is put back from a backup;
- the outermost commit carries out the deletes, except of files written
  again later in the same transaction ("delete old + store new under the
  same key" keeps the new file).  A deleted original also takes every other
  size of its object with it, on-demand ones included
  (:meth:`~imageattach.store.Store.list_files`).

The seed kept this in two process-global sets, so one session's commit or
rollback acted on another session's files, and a savepoint rollback deleted
the outer transaction's files.

Storage errors after the database has committed (or rolled back) are logged
to the ``imageattach`` logger, never raised out of ``commit()``.

A :class:`CommitHook` (:func:`set_commit_hook`; :mod:`imageattach.tasks`
sets one) hears of the originals stored by each outermost commit, never of
those of a transaction or savepoint that rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.orm import Mapper, Session, SessionTransaction, object_session
from sqlalchemy.orm.state import InstanceState

from . import observe
from .context import current_store, resolve_store
from .store import Store, check_object_id

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .entity import Image

__all__ = [
    "CommitHook",
    "PendingFile",
    "attach_file",
    "install",
    "pending_file",
    "remember_store",
    "set_commit_hook",
]

logger = logging.getLogger("imageattach")

_T = TypeVar("_T")

#: A file's address in a store: ``(object_type, object_id, width, height, mimetype)``.
Key = tuple[str, int, int, int, str]

#: Uploads and backups larger than this are spooled to a temporary file.
SPOOL_SIZE = 1024 * 1024

_INFO_KEY = "imageattach.files"
_PENDING_ATTR = "_imageattach_pending"
_STORE_ATTR = "_imageattach_store"


# -- running blocking I/O under AsyncSession ----------------------------------


def run_blocking(function: Callable[[], _T]) -> _T:
    """Call ``function``; inside the greenlet in which an ``AsyncSession``
    flushes or commits, call it in a worker thread so that the event loop
    serves other tasks meanwhile."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function()
    from sqlalchemy import util

    await_ = getattr(util, "await_", None) or util.await_only
    coroutine = asyncio.to_thread(function)  # not started until awaited
    try:
        result: _T = await_(coroutine)
    except MissingGreenlet:  # plain sync Session used inside a coroutine
        coroutine.close()
        return function()
    return result


# -- state attached to image instances ----------------------------------------


@dataclasses.dataclass(eq=False, slots=True)
class PendingFile:
    """The data of an image that is not stored yet, and where it will go."""

    file: IO[bytes]
    #: Offset of the image data in :attr:`file`.
    start: int
    store: Store
    #: Whether imageattach made :attr:`file` (and so closes it when done).
    owned: bool

    def rewind(self) -> IO[bytes]:
        self.file.seek(self.start)
        return self.file

    def close(self) -> None:
        if self.owned:
            self.file.close()


def attach_file(image: Image, pending: PendingFile) -> None:
    """Make ``pending`` the data stored for ``image`` when its row is flushed."""
    setattr(image, _PENDING_ATTR, pending)
    remember_store(image, pending.store, replace=True)


def pending_file(image: Image) -> PendingFile | None:
    """The data of ``image`` if it is not stored yet."""
    pending: PendingFile | None = image.__dict__.get(_PENDING_ATTR)
    return pending


def remember_store(image: Image, store: Store, *, replace: bool = False) -> None:
    """Note that ``image``'s file is in ``store`` (used when it is deleted)."""
    if replace or _STORE_ATTR not in image.__dict__:
        setattr(image, _STORE_ATTR, resolve_store(store))


def _store_of(image: Image) -> Store:
    store: Store | None = image.__dict__.get(_STORE_ATTR)
    return store if store is not None else resolve_store(current_store)


def image_key(image: Image) -> Key:
    return image.object_type, check_object_id(image), image.width, image.height, image.mimetype


def spool(source: IO[bytes]) -> IO[bytes]:
    """Copy ``source`` (from its current position) into a temporary file that
    stays in memory up to :data:`SPOOL_SIZE`, and rewind it."""
    copy: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115
    try:
        shutil.copyfileobj(source, copy, 64 * 1024)
        copy.seek(0)
    except BaseException:
        copy.close()
        raise
    return copy


# -- hearing of committed originals -------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CommitHook:
    """What to do with the originals an outermost commit stored.

    ``snapshot(image)`` is called when an original's row is flushed (its
    attributes are loaded then, and expired after the commit, when no SQL
    may run); ``committed(pairs)`` after the commit's cleanup, with a
    ``(store, snapshot)`` pair per original still in the store.  Errors of
    either are logged, never raised out of ``flush()`` or ``commit()``.
    """

    snapshot: Callable[[Image], object]
    committed: Callable[[list[tuple[Store, object]]], None]


_commit_hook: CommitHook | None = None


def set_commit_hook(hook: CommitHook | None) -> CommitHook | None:
    """Install ``hook`` (``None``: none) for every session; return the previous one."""
    global _commit_hook
    previous, _commit_hook = _commit_hook, hook
    return previous


def _snapshot(image: Image) -> object:
    hook = _commit_hook
    if hook is None or not image.original:
        return None
    try:
        return hook.snapshot(image)
    except Exception:
        logger.exception("imageattach: could not note the committed original %r", image)
        return None


def _committed_originals(entries: list[_Entry]) -> list[tuple[Store, object]]:
    """The snapshots of the originals ``entries`` wrote and did not delete after."""
    kept: dict[tuple[int, Key], tuple[Store, object]] = {}
    for entry in entries:
        address = (id(entry.store), entry.key)
        if isinstance(entry, _Delete):
            kept.pop(address, None)
        elif entry.snapshot is not None:
            kept[address] = (entry.store, entry.snapshot)
    return list(kept.values())


def _notify(entries: list[_Entry]) -> None:
    hook = _commit_hook
    originals = _committed_originals(entries) if hook is not None else []
    if hook is None or not originals:
        return
    try:
        hook.committed(originals)
    except Exception:
        logger.exception("imageattach: the commit hook failed for %d originals", len(originals))


# -- the per-session log ------------------------------------------------------


@dataclasses.dataclass(eq=False, slots=True)
class _Write:
    store: Store
    key: Key
    reproducible: bool
    #: What the key held before this write, put back if it is undone.
    backup: IO[bytes] | None
    image: Image
    pending: PendingFile
    #: The commit hook's snapshot of an original (:class:`CommitHook`).
    snapshot: object = None


@dataclasses.dataclass(eq=False, slots=True)
class _Delete:
    store: Store
    key: Key
    #: An original: the on-demand thumbnails made of it go with it.
    original: bool
    #: The version of an original's file (see Store.file_version); ``None``
    #: when unknown, and then all the object's on-demand thumbnails go.
    version: str | None


_Entry = _Write | _Delete


class _SessionFiles:
    """One session's logs, keyed by the transaction that owns them."""

    __slots__ = ("deleted", "flush_position", "logs", "overwritten", "staged")

    def __init__(self) -> None:
        self.logs: dict[SessionTransaction, list[_Entry]] = {}
        #: Where the current flush's deletes go in its log: before its writes,
        #: as a row deleted and a row inserted in one flush is a replacement.
        self.flush_position: int | None = None
        #: Deletes computed before their rows went (attributes still loadable).
        self.staged: dict[InstanceState[Any], _Delete] = {}
        #: How many deletes of each ``(id(store), key)`` the logs hold.
        self.deleted: Counter[tuple[int, Key]] = Counter()
        #: The version of each file a flush wrote over, by ``(id(store), key)``.
        self.overwritten: dict[tuple[int, Key], str | None] = {}

    def log(self, session: Session) -> list[_Entry]:
        transaction = session.get_nested_transaction() or session.get_transaction()
        assert transaction is not None, "images are only flushed in a transaction"
        return self.logs.setdefault(transaction, [])

    def add_write(self, session: Session, write: _Write) -> None:
        log = self.log(session)
        if self.flush_position is None:
            self.flush_position = len(log)
        log.append(write)

    def add_delete(self, session: Session, delete: _Delete) -> None:
        log = self.log(session)
        if self.flush_position is None:
            self.flush_position = len(log)
        log.insert(self.flush_position, delete)
        self.flush_position += 1
        self.deleted[id(delete.store), delete.key] += 1

    def take(self, transaction: SessionTransaction) -> list[_Entry]:
        """Remove and return the log of ``transaction``, which is ending."""
        entries = self.logs.pop(transaction, [])
        self.deleted.subtract(
            (id(entry.store), entry.key) for entry in entries if isinstance(entry, _Delete)
        )
        self.deleted = +self.deleted  # drop the zero counts
        return entries


def _files(session: Session, *, create: bool) -> _SessionFiles | None:
    files: _SessionFiles | None = session.info.get(_INFO_KEY)
    if files is None and create:
        files = session.info[_INFO_KEY] = _SessionFiles()
    return files


def _boundary(transaction: SessionTransaction) -> SessionTransaction:
    """The nearest transaction that ends on its own: a SAVEPOINT or the root."""
    while not transaction.nested and transaction.parent is not None:
        transaction = transaction.parent
    return transaction


# -- flush: write new files, note deleted ones -------------------------------


def _store_file(image: Image, *, replaces_row: bool) -> None:
    pending = image.__dict__.pop(_PENDING_ATTR, None)
    if pending is None:
        if replaces_row:
            return  # an ordinary UPDATE
        raise TypeError(
            f"{image!r} has no file to store: attach images with the image set's "
            "from_file(), from_blob() or from_raw_file() methods"
        )
    session = object_session(image)
    assert session is not None
    files = _files(session, create=True)
    assert files is not None
    store, key = pending.store, image_key(image)
    reproducible = not image.original
    replacing = replaces_row or bool(files.deleted[id(store), key])
    snapshot = _snapshot(image)
    replaced = _replaced_originals(files, store, key) if image.original else []

    def write() -> IO[bytes] | None:
        with store.lock_object(*key[:2]):
            backup, version = _backup(store, key) if replacing else (None, None)
            if replacing:
                files.overwritten[id(store), key] = version
                # The thumbnails made of the file being replaced would be
                # served under the new file's URLs: they go now (they can
                # be made again, should this transaction roll back).
                _purge_derived(store, key, version)
            for delete in replaced:
                # So would those of an original of another size, whose
                # thumbnails may have the same keys: not only after the
                # commit (the cleanup purges again what was made meanwhile).
                _purge_derived(store, delete.key, delete.version)
            try:
                with observe.store_span("put_file", store, *key):
                    store.put_file(pending.rewind(), *key, reproducible)
            except BaseException:
                if backup is not None:
                    backup.close()
                raise
            return backup

    try:
        backup = run_blocking(write)
    except BaseException:
        setattr(image, _PENDING_ATTR, pending)
        raise
    files.add_write(session, _Write(store, key, reproducible, backup, image, pending, snapshot))


def _replaced_originals(files: _SessionFiles, store: Store, key: Key) -> list[_Delete]:
    """The deletes, in the session's open transactions, of the other
    originals of ``key``'s object in ``store``."""
    return [
        entry
        for log in files.logs.values()
        for entry in log
        if isinstance(entry, _Delete)
        and entry.original
        and id(entry.store) == id(store)
        and entry.key[:2] == key[:2]
        and entry.key != key
    ]


def _backup(store: Store, key: Key) -> tuple[IO[bytes] | None, str | None]:
    """A copy of the file under ``key`` and its version, if there is one."""
    if store.exists(*key) is False:
        return None, None
    try:
        source, version = store.open_version(*key)
    except FileNotFoundError:
        return None, None
    with contextlib.closing(source):
        return spool(source), version


def _stage_delete(image: Image) -> None:
    session = object_session(image)
    assert session is not None
    files = _files(session, create=True)
    assert files is not None
    files.staged[_state(image)] = _delete_of(image, files)


def _delete_of(image: Image, files: _SessionFiles) -> _Delete:
    """The delete of ``image``'s file; for an original, with the version of
    its file (the one a row switch in this flush wrote over, if any)."""
    store, key = _store_of(image), image_key(image)
    version = None
    if image.original:
        address = (id(store), key)
        if address in files.overwritten:
            version = files.overwritten[address]
        else:
            try:
                version = run_blocking(lambda: store.file_version(*key))
            except Exception:
                # Unknown: the cleanup then takes all the object's on-demand
                # thumbnails (they can be made again); the delete goes on.
                logger.warning(
                    "imageattach: no version of %r in %r",
                    key,
                    store,
                    exc_info=True,
                    extra={"image_key": observe.key_path(store, *key)},
                )
    return _Delete(store, key, bool(image.original), version)


def _state(image: Image) -> InstanceState[Any]:
    state: InstanceState[Any] = inspect(image)
    return state


def _purge_derived(
    store: Store, key: Key, version: str | None, skip: frozenset[Key] = frozenset()
) -> None:
    """Delete the on-demand thumbnails of the object made from the original
    file of ``version`` (all of them if it is unknown: they are only a cache
    of what can be made again), except ``skip``.
    Called with the object's lock held."""
    object_type, object_id = key[:2]
    for size, source in store.derived_files(object_type, object_id).items():
        derived = (object_type, object_id, *size)
        if derived not in skip and (version is None or source == version):
            store.delete_file(*derived)


# -- transaction ends ----------------------------------------------------------


def _after_commit(session: Session) -> None:
    files = _files(session, create=False)
    if files is None:
        return
    transaction = session.get_nested_transaction() or session.get_transaction()
    assert transaction is not None
    if transaction.parent is not None:  # a released SAVEPOINT
        entries = files.logs.pop(transaction, [])
        files.logs.setdefault(_boundary(transaction.parent), []).extend(entries)
        return
    entries = files.take(transaction)
    if entries:
        run_blocking(lambda: _finalize(entries))
        if _commit_hook is not None:
            run_blocking(lambda: _notify(entries))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    files = _files(session, create=False)
    if files is None:
        return
    entries = files.take(transaction)
    if entries:
        for entry in entries:
            if isinstance(entry, _Write):
                # The row is gone with the transaction; keep the data so that
                # adding the image again and committing stores it again.
                entry.image.__dict__.setdefault(_PENDING_ATTR, entry.pending)
        run_blocking(lambda: _undo(entries))
    if transaction.parent is None and not files.logs:
        session.info.pop(_INFO_KEY, None)


def _finalize(entries: list[_Entry]) -> None:
    """Carry out the deletes of a committed transaction, except of keys
    written again after the delete, each object under its lock.  A deleted
    original takes the on-demand thumbnails made of it along (never a file
    another transaction wrote: those are rows' files, or thumbnails of
    another original)."""
    written: set[tuple[int, Key]] = set()
    handled: set[tuple[int, Key]] = set()
    deletes: dict[tuple[int, str, int], list[_Delete]] = {}
    for entry in reversed(entries):
        address = (id(entry.store), entry.key)
        if isinstance(entry, _Write):
            written.add(address)
            entry.pending.close()
            if entry.backup is not None:
                entry.backup.close()
        elif address not in written and address not in handled:
            handled.add(address)
            deletes.setdefault((id(entry.store), *entry.key[:2]), []).append(entry)
    for group in deletes.values():
        store, key = group[0].store, group[0].key
        keep = frozenset(k for i, k in written if i == id(store))
        try:
            with store.lock_object(*key[:2]):
                for delete in group:
                    _logged("delete", store, delete.key, store.delete_file, *delete.key)
                for delete in group:
                    if delete.original:
                        _logged("delete the thumbnails of", store, delete.key, _purge_derived,
                                store, delete.key, delete.version, keep)  # fmt: skip
        except Exception:
            logger.exception(
                "imageattach: could not clean up %r in %r",
                key[:2],
                store,
                extra={"image_key": observe.key_path(store, *key)},
            )


def _undo(entries: list[_Entry]) -> None:
    """Undo the writes of a transaction that did not commit, newest first.
    An original's on-demand thumbnails made meanwhile go with it."""
    for entry in reversed(entries):
        if not isinstance(entry, _Write):
            continue
        store, key, backup = entry.store, entry.key, entry.backup
        try:
            with store.lock_object(*key[:2]):
                if entry.image.original:
                    written = store.file_version(*key)
                    if written is not None:
                        _purge_derived(store, key, written)
                if backup is None:
                    _logged("remove the uncommitted file", store, key, store.delete_file, *key)
                    continue
                with backup:
                    backup.seek(0)
                    _logged("restore the replaced file", store, key,
                            store.put_file, backup, *key, entry.reproducible)  # fmt: skip
        except Exception:
            logger.exception(
                "imageattach: could not undo the write of %r in %r",
                key,
                store,
                extra={"image_key": observe.key_path(store, *key)},
            )


def _logged(
    action: str, store: Store, key: Key, function: Callable[..., object], *args: Any
) -> None:
    try:
        with observe.store_span(function.__name__.lstrip("_"), store, *key):
            function(*args)
    except Exception:
        logger.exception(
            "imageattach: could not %s %r in %r",
            action,
            key,
            store,
            extra={"image_key": observe.key_path(store, *key)},
        )


def _delete_thumbnails_of_deleted_originals(session: Session, image_class: type[Image]) -> None:
    """A deleted original takes its set's thumbnail rows with it, in the
    same flush: a thumbnail row without its original would point to a file
    that its cleanup removes.  (Deleting the parent or replacing the
    original does this already; deleting only the original did not.)"""
    originals = [
        image
        for image in session.deleted
        if isinstance(image, image_class) and image.original and inspect(image).has_identity
    ]
    with session.no_autoflush:
        for original in originals:
            siblings = session.query(type(original)).filter_by(
                **original.identity_map, original=False
            )
            for thumbnail in siblings:
                if thumbnail not in session.deleted:
                    session.delete(thumbnail)


# -- wiring -------------------------------------------------------------------


def install(image_class: type[Image]) -> None:
    """Listen to the mapper events of ``image_class`` subclasses and to every
    session's transaction events."""

    def after_insert(mapper: Mapper[Any], connection: Connection, target: Image) -> None:
        _store_file(target, replaces_row=False)

    def after_update(mapper: Mapper[Any], connection: Connection, target: Image) -> None:
        # A pending image whose primary key equals a deleted one's is flushed
        # as an UPDATE of that row (SQLAlchemy's "row switch").
        _store_file(target, replaces_row=True)

    def before_delete(mapper: Mapper[Any], connection: Connection, target: Image) -> None:
        _stage_delete(target)

    def before_flush(session: Session, flush_context: Any, instances: Any) -> None:
        files = _files(session, create=False)
        if files is not None:
            files.flush_position = None
            files.staged.clear()
            files.overwritten.clear()
        _delete_thumbnails_of_deleted_originals(session, image_class)

    def persistent_to_deleted(session: Session, instance: object) -> None:
        if not isinstance(instance, image_class):
            return
        files = _files(session, create=True)
        assert files is not None
        delete = files.staged.pop(_state(instance), None)
        if delete is None:  # the row was replaced in a row switch
            delete = _delete_of(instance, files)
        files.add_delete(session, delete)

    event.listen(image_class, "after_insert", after_insert, propagate=True)
    event.listen(image_class, "after_update", after_update, propagate=True)
    event.listen(image_class, "before_delete", before_delete, propagate=True)
    event.listen(Session, "before_flush", before_flush)
    event.listen(Session, "persistent_to_deleted", persistent_to_deleted)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_transaction_end", _after_transaction_end)
