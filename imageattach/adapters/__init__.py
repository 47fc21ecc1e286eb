"""Framework adapters: serve a store's files and make it the current store
for each request.

Each adapter installs the store's serving middleware (when the store has one)
and pushes the store context for the request and pops it afterwards, also when
the view raises and also while a streamed response body is iterated.

- Flask: the extension :class:`imageattach.adapters.flask.ImageAttach`
- Pyramid: ``config.include("imageattach.adapters.pyramid")``
- Bottle: the plugin :class:`imageattach.adapters.bottle.ImageAttachPlugin`
- Starlette / FastAPI: the pure ASGI middleware
  :class:`imageattach.adapters.starlette.ImageAttachMiddleware`
- any WSGI or ASGI app: :func:`imageattach.adapters.wsgi.install`,
  :func:`imageattach.adapters.asgi.install`

The framework modules import their framework; when it is missing they raise
:exc:`ImportError` naming the extra to install (``pip install
'imageattach[flask]'``).  See ``docs/adapters.md``.
"""

from __future__ import annotations

__all__ = ["missing_framework"]


def missing_framework(module: str, framework: str, extra: str) -> ImportError:
    """The error a framework adapter raises when its framework is not installed."""
    return ImportError(
        f"{module} needs {framework}, which is not installed: pip install 'imageattach[{extra}]'"
    )
