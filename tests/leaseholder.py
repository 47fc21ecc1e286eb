"""A process that holds leases, for tests/test_leases.py:

``python leaseholder.py URL PREFIX TTL hold NAME``
    take the lease of NAME, print ``held``, and sleep until killed;
``python leaseholder.py URL PREFIX TTL hold-for NAME SECONDS``
    take it, print ``held``, keep it SECONDS, release it, print ``released``;
``python leaseholder.py URL PREFIX TTL count NAME TIMES FILE``
    TIMES times: take it and append ``enter <pid>`` and ``exit <pid>`` to
    FILE inside (the test checks no two processes were inside at once).
"""

from __future__ import annotations

import os
import sys
import time

from imageattach.leases import RedisLeases


def main(url: str, prefix: str, ttl: str, mode: str, name: str, *rest: str) -> None:
    leases = RedisLeases(url, prefix=prefix, ttl=float(ttl), fallback="refuse")
    if mode == "hold":
        with leases.hold(name, timeout=10):
            print("held", flush=True)
            while True:
                time.sleep(60)
    elif mode == "hold-for":
        with leases.hold(name, timeout=10):
            print("held", flush=True)
            time.sleep(float(rest[0]))
        print("released", time.time(), flush=True)
    elif mode == "count":
        times, path = int(rest[0]), rest[1]
        for _ in range(times):
            with leases.hold(name, timeout=30), open(path, "a") as file:
                file.write(f"enter {os.getpid()}\n")
                file.flush()
                time.sleep(0.005)
                file.write(f"exit {os.getpid()}\n")
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(*sys.argv[1:])
