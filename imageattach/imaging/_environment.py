"""Point ImageMagick at imageattach's ``policy.xml`` (no Wand import here).

ImageMagick reads its policy once, when it initialises, and Wand initialises
it on import; this module therefore runs first thing in
:mod:`imageattach.imaging`, before anything imports ``wand``.
"""

from __future__ import annotations

import os
import sys

#: The directory holding imageattach's ``policy.xml``.
POLICY_DIR: str = os.path.dirname(os.path.abspath(__file__))

#: Whether Wand (hence ImageMagick) was loaded before this module ran.
WAND_STARTED_BEFORE_US: bool = "wand.api" in sys.modules

_paths = [p for p in os.environ.get("MAGICK_CONFIGURE_PATH", "").split(os.pathsep) if p]
if POLICY_DIR not in _paths:
    # First, so that the system's and the user's policy files, read later,
    # can narrow it further (in ImageMagick the last matching rule wins).
    os.environ["MAGICK_CONFIGURE_PATH"] = os.pathsep.join([POLICY_DIR, *_paths])
