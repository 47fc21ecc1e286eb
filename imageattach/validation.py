"""Checks of keyword options, shared so every option fails the same way at
construction (with :exc:`~imageattach.exceptions.ConfigurationError`)."""

from __future__ import annotations

from .exceptions import ConfigurationError

__all__ = ["check_int"]


def check_int(name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value
