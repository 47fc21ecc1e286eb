"""The serving options shared by both front ends, validated at construction."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from ..exceptions import ConfigurationError
from ..forwarded import TrustedProxyHeaders, trusted_proxy_headers
from ..validation import unknown_names
from .miss import OnMiss

__all__ = ["IMMUTABLE", "ServeOptions", "has_version_query", "make_options"]

#: ``Cache-Control`` of versioned URLs: they never change, so caches may keep
#: them for a year without revalidating.
IMMUTABLE = "public, max-age=31536000, immutable"


def has_version_query(query_string: str) -> bool:
    """Whether the URL carries a version: the ``_ts=`` query that
    :meth:`~imageattach.store.Store.locate` appends."""
    return query_string.startswith("_ts=") or "&_ts=" in query_string


@dataclass(frozen=True, kw_only=True, slots=True)
class ServeOptions:
    """How the static file server answers.  Every option has a safe default.

    :param cors: ``True`` allows any origin (``Access-Control-Allow-Origin: *``);
        a list of origins (``'https://example.com'``) echoes the request's
        ``Origin`` when it is listed, with ``Vary: Origin``.
    :param missing: what a request under the prefix that names no servable
        file gets: ``'404'`` (a short 404, or 400 for an unsafe path) or
        ``'fallthrough'`` (it is passed to the wrapped app).
    :param cache_control: ``Cache-Control`` of unversioned URLs (``None``: no
        header).  ``'no-cache'`` makes caches revalidate, which costs a 304.
    :param versioned_cache_control: ``Cache-Control`` of versioned URLs.
    :param is_versioned: ``is_versioned(query_string)`` tells versioned URLs.
    :param follow_symlinks: serve files whose real path is outside the
        directory (through a symlink).  Symlinks that stay inside are always
        followed.
    :param trusted_proxy_headers: build the base URL for ``locate()`` from
        the forwarded headers of proxies in front of the app (opt-in; see
        :func:`imageattach.forwarded.trusted_proxy_headers`): ``True`` for
        one proxy setting ``X-Forwarded-Proto``/``-Host``/``-Port``/``-Prefix``,
        a hop count, ``'forwarded'`` for RFC 7239 ``Forwarded``, or a
        :class:`~imageattach.forwarded.TrustedProxyHeaders`.  Only behind
        proxies that set (or strip) every header trusted.
    :param on_miss: the hook called on a miss (see :mod:`.miss`).
    """

    cors: bool | Sequence[str] = False
    missing: Literal["404", "fallthrough"] = "404"
    cache_control: str | None = "no-cache"
    versioned_cache_control: str | None = IMMUTABLE
    is_versioned: Callable[[str], bool] = has_version_query
    follow_symlinks: bool = False
    trusted_proxy_headers: bool | int | str | TrustedProxyHeaders = False
    on_miss: OnMiss | None = None

    def __post_init__(self) -> None:
        cors = self.cors
        if not isinstance(cors, bool):
            if isinstance(cors, str) or not isinstance(cors, Sequence):
                raise ConfigurationError("cors must be True, False or a list of origins")
            for origin in cors:
                if not isinstance(origin, str) or "://" not in origin or origin.endswith("/"):
                    raise ConfigurationError(
                        f"cors origins look like 'https://example.com', not {origin!r}"
                    )
                _check_header_value("cors", origin)
            object.__setattr__(self, "cors", tuple(cors))
        if self.missing not in ("404", "fallthrough"):
            raise ConfigurationError(
                f"missing must be '404' or 'fallthrough', not {self.missing!r}"
            )
        for name in ("cache_control", "versioned_cache_control"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, str) or not value:
                    raise ConfigurationError(f"{name} must be a non-empty string or None")
                _check_header_value(name, value)
        if not isinstance(self.follow_symlinks, bool):
            raise ConfigurationError("follow_symlinks must be a bool")
        trust = trusted_proxy_headers(self.trusted_proxy_headers)
        # Normalised: False, or the TrustedProxyHeaders (truthy) it stands for.
        object.__setattr__(self, "trusted_proxy_headers", False if trust is None else trust)
        if not callable(self.is_versioned):
            raise ConfigurationError("is_versioned must be callable")
        if self.on_miss is not None and not callable(self.on_miss):
            raise ConfigurationError("on_miss must be callable or None")

    @property
    def proxy_trust(self) -> TrustedProxyHeaders | None:
        """The forwarded headers trusted, or ``None``."""
        trust = self.trusted_proxy_headers
        return trust if isinstance(trust, TrustedProxyHeaders) else None

    @property
    def async_on_miss(self) -> bool:
        """Whether ``on_miss`` is a coroutine function."""
        return self.on_miss is not None and inspect.iscoroutinefunction(self.on_miss)


_NAMES = frozenset(field.name for field in fields(ServeOptions))


def make_options(options: ServeOptions | None, overrides: dict[str, Any]) -> ServeOptions:
    """``options`` (or the defaults) with ``overrides`` applied, validated."""
    unknown = sorted(set(overrides) - _NAMES)
    if unknown:
        raise ConfigurationError(unknown_names("serving option", unknown, _NAMES))
    base = options if options is not None else ServeOptions()
    if not isinstance(base, ServeOptions):
        raise ConfigurationError("options must be a ServeOptions")
    if not overrides:
        return base
    values = {name: getattr(base, name) for name in _NAMES}
    values.update(overrides)
    return ServeOptions(**values)


def _check_header_value(name: str, value: str) -> None:
    if not value.isascii() or "\r" in value or "\n" in value:
        raise ConfigurationError(f"{name} must be printable ASCII without line breaks")
