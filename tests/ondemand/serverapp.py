"""The apps the end-to-end tests run under real servers, set up from the
environment: ``IA_ROOT`` (the store directory), ``IA_KEY``, ``IA_LOG`` (where
generations are logged, one line each), and optional limits ``IA_WORKERS``,
``IA_QUEUE``, ``IA_MAX_DIMENSION``, ``IA_MAX_PIXELS``.

No database: the URL carries all the resizer needs, as in a separate
image-server process.
"""

from __future__ import annotations

import os

import imageattach.imaging  # noqa: F401  (the policy must be in force before wand loads)
from imageattach.stores.fs import HttpExposedFileSystemStore

from . import plainapp

plainapp.log_to(os.environ["IA_LOG"], "imageattach.ondemand", "%(process)d %(message)s")

store = HttpExposedFileSystemStore(
    os.environ["IA_ROOT"],
    "__images__",
    secret_key=os.environ["IA_KEY"],
    resize_workers=int(os.environ.get("IA_WORKERS", "2")),
    resize_queue=int(os.environ.get("IA_QUEUE", "8")),
    max_resize_dimension=int(os.environ.get("IA_MAX_DIMENSION", "4096")),
    max_source_pixels=int(os.environ.get("IA_MAX_PIXELS", "50000000")),
)

wsgi_app = store.wsgi_middleware(plainapp.wsgi_app)
asgi_app = store.asgi_middleware(plainapp.asgi_app)
