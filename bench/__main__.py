"""``python -m bench [NAME] [OPTIONS]``: run one benchmark, or all of them.

NAME is a module of this package with a ``main(argv) -> int`` function
(``static``; ``thumbnail`` where present).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

BENCHMARKS = ("static", "thumbnail")


def available() -> list[str]:
    return [name for name in BENCHMARKS if importlib.util.find_spec(f"bench.{name}") is not None]


def main(argv: list[str]) -> int:
    names = available()
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print(f"\navailable: {', '.join(names)}")
        return 0
    if argv and not argv[0].startswith("-"):
        if argv[0] not in names:
            print(f"unknown benchmark {argv[0]!r}; available: {', '.join(names)}", file=sys.stderr)
            return 2
        return int(importlib.import_module(f"bench.{argv[0]}").main(argv[1:]))
    status = 0
    for name in names:
        status = max(status, int(importlib.import_module(f"bench.{name}").main(list(argv))))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
