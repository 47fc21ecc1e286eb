"""``python -m examples.pyramid_app``: the Pyramid example on Werkzeug's
development server.  ``HOST`` and ``PORT`` change where it listens (default
127.0.0.1:6543)."""

from __future__ import annotations

import os

from werkzeug.serving import run_simple

from . import make_app


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "6543"))
    print(f"imageattach Pyramid example on http://{host}:{port}/")
    run_simple(host, port, make_app(), threaded=True)


if __name__ == "__main__":
    main()
