"""A stand-in for an original image row, with the columns resize URLs need,
and the signing key the on-demand tests use."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

KEY = "test-secret-key-0123456789abcdef"


@dataclass
class Original:
    """The columns of an original image row that resize URLs need."""

    object_type: str
    object_id: int
    width: int
    height: int
    mimetype: str
    created_at: datetime.datetime | None = field(
        default_factory=lambda: datetime.datetime(2024, 1, 2, 3, 4, 5, 6)
    )
    original: bool = True
