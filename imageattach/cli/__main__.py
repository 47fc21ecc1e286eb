"""``python -m imageattach.cli``: the ``imageattach`` command."""

import sys

from . import main

sys.exit(main())
