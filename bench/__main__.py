"""``python -m bench [NAME] [OPTIONS]``: run one benchmark, or all of them.

A benchmark is a module of this package with a top-level ``main(argv) -> int``
(``static``, ``thumbnail``, ``ondemand``, ...); the other modules are helpers.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path

_MAIN = re.compile(r"^def main\(", re.MULTILINE)


def available() -> list[str]:
    """The benchmark modules, ``static`` first."""
    here = Path(__file__).parent
    names = [
        module.name
        for module in pkgutil.iter_modules([str(here)])
        if not module.ispkg
        and not module.name.startswith("_")
        and _MAIN.search((here / f"{module.name}.py").read_text())
    ]
    return sorted(names, key=lambda name: (name != "static", name))


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
