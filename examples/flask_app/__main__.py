"""``python -m examples.flask_app``: the Flask example on Flask's own server.

``HOST`` and ``PORT`` change where it listens (default 127.0.0.1:5000).
"""

from __future__ import annotations

import os

from . import create_app


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    app = create_app()
    print(f"imageattach Flask example on http://{host}:{port}/ (data in {app.instance_path})")
    app.run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    main()
