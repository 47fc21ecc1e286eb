"""Which image store is in use: a per-context stack of stores.

The seed kept this stack in a dict keyed by thread or greenlet id; here it
lives in a :class:`contextvars.ContextVar`, so threads, greenlets and asyncio
tasks each see their own stack, nothing needs pruning, and SQLAlchemy's
``AsyncSession`` flush (run in a greenlet that shares the caller's context)
sees the store pushed by the coroutine.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import IO, Any, ParamSpec, TypeVar

from .exceptions import ContextError
from .store import Store, check_store

__all__ = [
    "ContextError",
    "LocalProxyStore",
    "StoreContext",
    "context_stacks",
    "current_store",
    "get_current_context_id",
    "get_current_store",
    "pop_store_context",
    "push_store_context",
    "resolve_store",
    "store_context",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_stack: ContextVar[tuple[Store, ...]] = ContextVar("imageattach_store_stack", default=())


def get_current_context_id() -> object:
    """Identify the running greenlet (or, without greenlet, thread), as the
    seed's function of this name did.

    Kept for compatibility only: stacks are no longer keyed by it but live in
    a :class:`~contextvars.ContextVar`, so asyncio tasks in one thread, which
    share this identifier, still have stacks of their own.
    """
    try:
        greenlet = importlib.import_module("greenlet")
    except ImportError:
        return threading.get_ident()
    current: object = greenlet.getcurrent()
    return current


class _ContextStacks(Mapping[object, tuple[Store, ...]]):
    """A read-only view standing for the seed's ``context_stacks`` dict:
    it holds one entry, the current context's stack (innermost store last)
    under :func:`get_current_context_id`, when that stack is not empty.
    Change the stack with :func:`push_store_context` and
    :func:`pop_store_context`."""

    def __getitem__(self, key: object) -> tuple[Store, ...]:
        stack = _stack.get()
        if not stack or key != get_current_context_id():
            raise KeyError(key)
        return stack

    def __iter__(self) -> Iterator[object]:
        if _stack.get():
            yield get_current_context_id()

    def __len__(self) -> int:
        return 1 if _stack.get() else 0

    def __repr__(self) -> str:
        return f"<imageattach.context.context_stacks {dict(self)!r}>"


#: The seed's dict of context ids to store stacks, as a read-only view of the
#: current context's stack (see :class:`_ContextStacks`).
context_stacks: Mapping[object, tuple[Store, ...]] = _ContextStacks()


def push_store_context(store: Store) -> None:
    """Make ``store`` the current store until :func:`pop_store_context`.

    Prefer :func:`store_context`, which also restores on exceptions; this pair
    is for frameworks whose hooks run before and after a request.
    """
    _stack.set((*_stack.get(), check_store(store)))


def pop_store_context() -> Store:
    """Undo the last :func:`push_store_context` and return its store.

    :raises ContextError: when the stack is empty.
    """
    stack = _stack.get()
    if not stack:
        raise ContextError("pop_store_context() called with no store pushed")
    _stack.set(stack[:-1])
    return stack[-1]


class StoreContext:
    """Makes a store current between ``__enter__`` and ``__exit__`` (see
    :func:`store_context`).

    A plain class rather than a generator, so that exiting is tied to the
    context it was entered in: a ``with store_context()`` inside a generator
    or coroutine that was abandoned and is closed later by the garbage
    collector, while other code runs, leaves that code's stack alone.
    """

    __slots__ = ("_entered", "_store", "_token")

    def __init__(self, store: Store) -> None:
        self._store = store
        self._entered: tuple[Store, ...] | None = None
        self._token: Token[tuple[Store, ...]] | None = None

    def __enter__(self) -> Store:
        if self._token is not None:
            raise ContextError("a store_context() is entered once; make another one")
        self._entered = (*_stack.get(), check_store(self._store))
        self._token = _stack.set(self._entered)
        return self._store

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        token, entered = self._token, self._entered
        self._token = self._entered = None
        if token is None or entered is None:
            return
        current = _stack.get()
        # Ours, or ours with pushes left inside the block (undone, as before);
        # anything else is another request's stack.
        if len(current) < len(entered) or any(
            a is not b for a, b in zip(current, entered, strict=False)
        ):
            return
        with contextlib.suppress(ValueError):  # entered in another context
            _stack.reset(token)

    def __call__(self, function: Callable[_P, _R]) -> Callable[_P, _R]:
        """Use as a decorator: ``function`` runs with the store current."""

        @functools.wraps(function)
        def with_store(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with StoreContext(self._store):
                return function(*args, **kwargs)

        return with_store


def store_context(store: Store) -> StoreContext:
    """Use ``store`` as the current store inside the ``with`` block::

        with store_context(store):
            user.picture.from_file(f)
            session.commit()

    The previous stack is restored when the block exits, also on exceptions.
    """
    return StoreContext(store)


def get_current_store() -> Store:
    """Return the innermost store of the current context.

    :raises ContextError: when no store is pushed; the message says how to
        push one.
    """
    stack = _stack.get()
    if not stack:
        raise ContextError(
            "no image store in context: wrap the code in "
            "`with imageattach.context.store_context(store):`, install a framework "
            "adapter, or pass store= explicitly"
        )
    return stack[-1]


class LocalProxyStore(Store):
    """A store that forwards every call to the store returned by a getter."""

    def __init__(
        self, get_current_object: Callable[[], Store], repr_string: str | None = None
    ) -> None:
        if not callable(get_current_object):
            raise TypeError("get_current_object must be callable")
        self.get_current_object = get_current_object
        self.repr_string = repr_string

    def put_file(
        self,
        file: IO[bytes],
        object_type: str,
        object_id: int,
        width: int,
        height: int,
        mimetype: str,
        reproducible: bool,
    ) -> None:
        self.get_current_object().put_file(
            file, object_type, object_id, width, height, mimetype, reproducible
        )

    def delete_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> None:
        self.get_current_object().delete_file(object_type, object_id, width, height, mimetype)

    def get_file(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> IO[bytes]:
        return self.get_current_object().get_file(object_type, object_id, width, height, mimetype)

    def get_url(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        return self.get_current_object().get_url(object_type, object_id, width, height, mimetype)

    def __getattr__(self, name: str) -> Any:
        # Methods a concrete store adds beyond the Store interface.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.get_current_object(), name)

    def list_files(self, object_type: str, object_id: int) -> list[tuple[int, int, str]]:
        return self.get_current_object().list_files(object_type, object_id)

    # Compared and hashed as the store it stands for, as the seed's proxy was
    # (``current_store == store`` inside ``store_context(store)``).
    def __eq__(self, other: object) -> bool:
        return resolve_store(self) == resolve_store(other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(resolve_store(self))

    def __repr__(self) -> str:
        if self.repr_string is None:
            try:
                return f"<LocalProxyStore of {self.get_current_object()!r}>"
            except ContextError:
                return "<LocalProxyStore (unbound)>"
        return self.repr_string


def resolve_store(store: Store) -> Store:
    """Return the concrete store behind ``store`` (itself unless it is a proxy).

    Images resolve their store when they are attached, so a commit outside the
    ``with store_context()`` block still knows where the file went.
    """
    while isinstance(store, LocalProxyStore):
        store = store.get_current_object()
    return store


#: The store at the top of the current context's stack, as a proxy object.
current_store: Store = LocalProxyStore(get_current_store, "imageattach.context.current_store")
