"""The shared option check."""

from __future__ import annotations

import pytest

from imageattach.exceptions import ConfigurationError
from imageattach.validation import check_int


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "3", None])
def test_check_int_refuses(value: object) -> None:
    with pytest.raises(ConfigurationError, match="workers must be an integer >= 1"):
        check_int("workers", value)


def test_check_int_accepts_and_returns() -> None:
    assert check_int("queue", 0, minimum=0) == 0
    assert check_int("workers", 8) == 8
