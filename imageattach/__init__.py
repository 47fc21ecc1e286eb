"""imageattach: attach images to SQLAlchemy entities, store and serve them.

The successor of SQLAlchemy-ImageAttach; the public modules are
:mod:`imageattach.context`, :mod:`imageattach.entity`, :mod:`imageattach.store`,
:mod:`imageattach.stores.fs`, :mod:`imageattach.stores.s3`,
:mod:`imageattach.file` and :mod:`imageattach.migration`.
"""

from .version import VERSION as __version__

__all__ = ["__version__"]
