"""Two overlapping requests in two threads, for the adapters' isolation tests."""

from __future__ import annotations

import threading
from typing import Any

from imageattach.context import ContextError, get_current_store
from imageattach.store import Store


def current_store_or_none() -> Store | None:
    try:
        return get_current_store()
    except ContextError:
        return None


class TwoRequests:
    """Requests ``"a"`` and ``"b"`` in two threads, each of whose views waits
    until the other has entered its own, so they overlap; ``seen`` records the
    current store on entering and on leaving each view."""

    def __init__(self) -> None:
        self.entered = {"a": threading.Event(), "b": threading.Event()}
        self.seen: dict[str, list[Store | None]] = {"a": [], "b": []}

    def view(self, name: str) -> str:
        self.seen[name].append(current_store_or_none())
        self.entered[name].set()
        assert self.entered["b" if name == "a" else "a"].wait(5)
        self.seen[name].append(current_store_or_none())
        return name

    def run(self, clients: dict[str, Any]) -> dict[str, bytes]:
        """``GET /`` with each test client, concurrently; the bodies by name."""
        bodies: dict[str, bytes] = {}

        def get(name: str) -> None:
            bodies[name] = clients[name].get("/").get_data()

        threads = [threading.Thread(target=get, args=(name,)) for name in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        return bodies
