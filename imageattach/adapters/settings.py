"""Build an :class:`~imageattach.stores.fs.HttpExposedFileSystemStore` from a
framework's prefixed configuration (Flask's ``IMAGEATTACH_*`` config keys,
Pyramid's and Bottle's ``imageattach.*`` settings).

Values may be Python objects (Flask config, settings passed in code) or
strings (a Pyramid ``.ini`` file); both are accepted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import ConfigurationError
from ..forwarded import trusted_proxy_headers
from ..middleware.options import ServeOptions
from ..stores.fs import HttpExposedFileSystemStore
from ..validation import unknown_names

__all__ = [
    "SERVING_SETTINGS",
    "SETTINGS",
    "parse_bool",
    "parse_cors",
    "parse_presets",
    "store_from_settings",
]

#: The settings an adapter reads, by their unprefixed name, and what they mean.
SETTINGS: dict[str, str] = {
    "store_path": "directory of the image files (required unless the adapter has a default)",
    "prefix": "URL path the files are served under (default: __images__)",
    "secret_key": "key that signs on-demand thumbnail URLs",
    "cors": "true for any origin, or a list of allowed origins (default: false)",
    "cache_control": "Cache-Control header of served files",
    "host_url": "fixed base URL such as https://example.com/ for code outside requests",
    "trusted_proxy_headers": (
        "forwarded headers to build URLs from: false (default), true (one proxy "
        "setting X-Forwarded-Proto/Host/Port/Prefix), a hop count, 'forwarded' "
        "(RFC 7239), or e.g. 'x_proto=1, x_host=1'; see docs/deployment.md"
    ),
    "presets": (
        "named locate() options, a mapping or its JSON text, e.g. "
        '{"avatar": {"width": 96, "height": 96, "fit": "cover"}}'
    ),
    "presets_only": "true: serve preset URLs unsigned and refuse every other size",
    "resize_lock": (
        "redis://host:6379/0 (or a redis.Redis client): servers sharing the "
        "directory make each thumbnail once, under a Redis lease (docs/scaling.md)"
    ),
    "resize_lock_ttl": "seconds a crashed server's lease lasts (default: 30)",
    "resize_lock_prefix": "the start of the lease keys (default: from the directory)",
    "resize_lock_fallback": "while Redis is down: local (default, logged) or refuse (503)",
}

#: The other serving options (:class:`~imageattach.middleware.options.ServeOptions`
#: fields), also accepted as settings; callables only from code.
SERVING_SETTINGS: tuple[str, ...] = tuple(
    name for name in ServeOptions.__dataclass_fields__ if name not in SETTINGS
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def parse_bool(value: object, *, name: str) -> bool:
    """``value`` as a boolean; strings such as ``'true'`` / ``'off'`` are accepted."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def parse_cors(value: object, *, name: str) -> bool | tuple[str, ...]:
    """``True`` / ``False``, ``'*'``, or origins (a list, or a string separated
    by whitespace or commas)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text == "*":
            return True
        if text.lower() in _TRUE | _FALSE:
            return parse_bool(text, name=name)
        origins: list[object] = list(text.replace(",", " ").split())
    elif isinstance(value, list | tuple | set | frozenset):
        origins = list(value)
    else:
        raise ConfigurationError(f"{name} must be a boolean or a list of origins, not {value!r}")
    if not all(isinstance(o, str) and o.startswith(("http://", "https://")) for o in origins):
        raise ConfigurationError(f"{name} origins must look like https://example.com: {value!r}")
    return tuple(str(o) for o in origins)


def parse_presets(value: object, *, name: str) -> Mapping[str, Any]:
    """A mapping of presets, or its JSON text (as in a Pyramid ``.ini``
    file); the store validates the presets themselves."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ConfigurationError(f"{name} must be a JSON object: {error}") from None
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{name} must be a mapping of preset names, not {value!r}")
    return value


def _text(value: object, *, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}")
    return value.strip()


def _seconds(value: object, *, name: str) -> object:
    """A number, or its text (the store checks the number itself)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number of seconds, not {value!r}") from None
    return value


def store_from_settings(
    settings: Mapping[str, Any],
    *,
    key: Callable[[str], str],
    default_path: str | os.PathLike[str] | None = None,
) -> HttpExposedFileSystemStore:
    """A store configured by ``settings``.

    :param key: maps an unprefixed name of :data:`SETTINGS` to the framework's
        key, e.g. ``'store_path'`` → ``'IMAGEATTACH_STORE_PATH'``; error
        messages name that key.
    :param default_path: used when the store path is not configured.
    :raises ConfigurationError: for a missing path, an unknown prefixed key or
        an invalid value.
    """
    prefixed = {key(name): name for name in (*SETTINGS, *SERVING_SETTINGS)}
    stem = key("")
    unknown = [
        setting
        for setting in settings
        if isinstance(setting, str)
        and setting.startswith(stem)
        and setting not in prefixed
        and setting != key("store")
    ]
    if unknown:
        raise ConfigurationError(unknown_names("setting", unknown, [*prefixed, key("store")]))

    def get(name: str) -> Any:
        return settings.get(key(name))

    path = get("store_path")
    if path is None:
        if default_path is None:
            raise ConfigurationError(
                f"set {key('store_path')} to the directory of the image files "
                f"(or {key('store')} to a store object)"
            )
        path = default_path
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ConfigurationError(f"{key('store_path')} must be a directory path, not {path!r}")

    options: dict[str, Any] = {}
    if get("prefix") is not None:
        prefix = get("prefix")
        if not isinstance(prefix, str):
            raise ConfigurationError(f"{key('prefix')} must be a string, not {prefix!r}")
        options["prefix"] = prefix
    if get("host_url") is not None:
        host_url = _text(get("host_url"), name=key("host_url"))
        options["host_url_getter"] = lambda: host_url
    if get("cors") is not None:
        options["cors"] = parse_cors(get("cors"), name=key("cors"))
    # Passed only when set, so a store that has no such option is not affected.
    if get("secret_key") is not None:
        secret_key = get("secret_key")
        if not isinstance(secret_key, bytes):
            secret_key = _text(secret_key, name=key("secret_key"))
        options["secret_key"] = secret_key
    if get("cache_control") is not None:
        options["cache_control"] = _text(get("cache_control"), name=key("cache_control"))
    if get("trusted_proxy_headers") is not None:
        options["trusted_proxy_headers"] = trusted_proxy_headers(
            get("trusted_proxy_headers"), name=key("trusted_proxy_headers")
        )
    if get("presets") is not None:
        options["presets"] = parse_presets(get("presets"), name=key("presets"))
    if get("presets_only") is not None:
        options["presets_only"] = parse_bool(get("presets_only"), name=key("presets_only"))
    if get("resize_lock") is not None:
        lock = get("resize_lock")
        options["resize_lock"] = (
            _text(lock, name=key("resize_lock")) if isinstance(lock, str) else lock
        )
    if get("resize_lock_ttl") is not None:
        options["resize_lock_ttl"] = _seconds(get("resize_lock_ttl"), name=key("resize_lock_ttl"))
    for name in ("resize_lock_prefix", "resize_lock_fallback"):
        if get(name) is not None:
            options[name] = _text(get(name), name=key(name))
    for name in SERVING_SETTINGS:
        value = get(name)
        if value is None:
            continue
        if name == "follow_symlinks":
            value = parse_bool(value, name=key(name))
        elif name == "versioned_cache_control" and isinstance(value, str):
            value = _text(value, name=key(name))
        options[name] = value
    try:
        return HttpExposedFileSystemStore(path, **options)
    except ConfigurationError as error:
        raise ConfigurationError(f"{error} (from the {stem}* settings)") from error
