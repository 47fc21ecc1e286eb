"""Checks of keyword options, shared so every option fails the same way at
construction (with :exc:`~imageattach.exceptions.ConfigurationError`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from .exceptions import ConfigurationError

__all__ = ["check_int", "check_seconds", "unknown_names"]


def check_int(name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value


def check_seconds(name: str, value: object, *, maximum: float = 86400.0) -> float:
    """Return ``value`` as a float if it is a number of seconds in
    ``(0, maximum]`` (not a ``bool``, not NaN or infinite)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        raise ConfigurationError(
            f"{name} must be a number of seconds above 0 and at most {maximum:g}, not {value!r}"
        )
    return float(value)


def unknown_names(kind: str, unknown: Iterable[str], known: Iterable[str]) -> str:
    """The message for unknown option names: the known ones, and the
    closest known name to each unknown one, if any is close."""
    unknown, known = list(unknown), sorted(known)
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            hints.append(f"{name!r}: did you mean {close[0]!r}?")
    plural = "s" if len(unknown) > 1 else ""
    message = f"unknown {kind}{plural} {', '.join(map(repr, unknown))}"
    if hints:
        message += f" ({'; '.join(hints)})"
    return f"{message}; known: {', '.join(known)}"
