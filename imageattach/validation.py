"""Checks of keyword options, shared so every option fails the same way at
construction (with :exc:`~imageattach.exceptions.ConfigurationError`)."""

from __future__ import annotations

from .exceptions import ConfigurationError

__all__ = ["check_int", "check_seconds"]


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
