"""The one place that reads a proxy's forwarded headers.

Opt-in, as Werkzeug's ``ProxyFix`` is: nothing is trusted unless the
``trusted_proxy_headers`` serving option says how many proxies set which
headers.  Each count is a number of hops: with ``x_host=2`` the second value
from the right of ``X-Forwarded-Host`` is used (the one the outer of two
proxies appended), and a header with fewer values is ignored.

``X-Forwarded-Proto``, ``-Host``, ``-Port`` and ``-Prefix`` are read, or
RFC 7239 ``Forwarded`` (its ``proto=`` and ``host=``); never both kinds at
once, so a client cannot slip in the kind the proxy does not overwrite.

Hostile values (overlong, a host with a path, userinfo or line breaks, an
unknown scheme, a prefix with a query) are ignored, never an error; every
check is a bounded, linear scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from werkzeug.http import parse_dict_header, parse_list_header, parse_options_header

from .exceptions import ConfigurationError

__all__ = [
    "MAX_HEADER_LENGTH",
    "Forwarded",
    "TrustedProxyHeaders",
    "parse_forwarded",
    "trusted_proxy_headers",
]

#: Longer header values are ignored (a proxy chain never needs this much).
MAX_HEADER_LENGTH = 2048
#: The largest hop count accepted in a configuration.
MAX_HOPS = 16

# A host name, an IPv4 address or a bracketed IPv6 address, and an optional
# port: no userinfo, path, whitespace or line break.  Character classes and
# no nested quantifiers, so matching is linear.
_HOST = re.compile(
    r"(?:[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63}){0,126}\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)
_PREFIX = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]{0,1023}")
_PROTOS = frozenset({"http", "https"})
_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off", "none", ""})


@dataclass(frozen=True, kw_only=True, slots=True)
class TrustedProxyHeaders:
    """How many proxies in front of the app set each header (0: not trusted).

    :param x_proto: ``X-Forwarded-Proto`` (``http`` or ``https``).
    :param x_host: ``X-Forwarded-Host`` (``host[:port]``).
    :param x_port: ``X-Forwarded-Port``.
    :param x_prefix: ``X-Forwarded-Prefix``, the path the app is mounted
        under; it goes before the server's own ``SCRIPT_NAME`` / ``root_path``.
    :param forwarded: RFC 7239 ``Forwarded`` (``proto=`` and ``host=``);
        cannot be combined with the ``x_*`` counts.
    """

    x_proto: int = 0
    x_host: int = 0
    x_port: int = 0
    x_prefix: int = 0
    forwarded: int = 0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HOPS:
                raise ConfigurationError(
                    f"trusted_proxy_headers: {field.name} must be a hop count from 0 to "
                    f"{MAX_HOPS}, not {value!r}"
                )
        if self.forwarded and (self.x_proto or self.x_host or self.x_port or self.x_prefix):
            raise ConfigurationError(
                "trusted_proxy_headers: trust either Forwarded or X-Forwarded-*, not both"
            )

    @property
    def enabled(self) -> bool:
        """Whether any header is trusted."""
        return bool(self.x_proto or self.x_host or self.x_port or self.x_prefix or self.forwarded)


_NAMES = tuple(field.name for field in fields(TrustedProxyHeaders))


def trusted_proxy_headers(
    value: object, *, name: str = "trusted_proxy_headers"
) -> TrustedProxyHeaders | None:
    """``value`` as a :class:`TrustedProxyHeaders`, or ``None`` when nothing
    is trusted.

    Accepted: ``False`` / ``0``; ``True`` (one proxy setting all four
    ``X-Forwarded-*`` headers); a hop count ``n`` (``n`` such proxies); a
    :class:`TrustedProxyHeaders`; a mapping of its fields; or, from a
    configuration file, the string form of any of these: ``'true'``,
    ``'2'``, ``'forwarded'`` (one proxy setting ``Forwarded``),
    ``'x_proto=1, x_host=1'``.

    :raises ConfigurationError: for anything else.
    """
    if isinstance(value, TrustedProxyHeaders):
        return value if value.enabled else None
    if value is None or value is False:
        return None
    if value is True:
        value = 1
    if isinstance(value, str):
        return trusted_proxy_headers(_parse_text(value, name=name), name=name)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_HOPS:
            raise ConfigurationError(
                f"{name} must be a hop count from 0 to {MAX_HOPS}, not {value!r}"
            )
        if value == 0:
            return None
        return TrustedProxyHeaders(x_proto=value, x_host=value, x_port=value, x_prefix=value)
    if isinstance(value, Mapping):
        unknown = sorted(str(key) for key in value if key not in _NAMES)
        if unknown:
            raise ConfigurationError(
                f"{name}: unknown header(s) {', '.join(unknown)}; known: {', '.join(_NAMES)}"
            )
        counts: dict[str, Any] = {}
        for key, count in value.items():
            if isinstance(count, str) and count.strip().isdigit():
                count = int(count.strip())
            counts[key] = count
        return trusted_proxy_headers(TrustedProxyHeaders(**counts), name=name)
    raise ConfigurationError(
        f"{name} must be true, false, a hop count, 'forwarded' or e.g. "
        f"'x_proto=1, x_host=1', not {value!r}"
    )


def _parse_text(text: str, *, name: str) -> object:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    if lowered.isdigit() and len(lowered) <= 3:
        return int(lowered)
    if lowered == "forwarded":
        return {"forwarded": 1}
    if "=" in lowered and len(lowered) <= 200:
        return parse_dict_header(lowered)
    raise ConfigurationError(
        f"{name} must be true, false, a hop count, 'forwarded' or e.g. "
        f"'x_proto=1, x_host=1', not {text!r}"
    )


@dataclass(frozen=True, slots=True)
class Forwarded:
    """What the trusted proxy said about the client's request (``None``:
    not said, or not trusted, or not valid)."""

    proto: str | None = None
    host: str | None = None
    port: int | None = None
    prefix: str | None = None


NOTHING = Forwarded()


def parse_forwarded(
    trust: TrustedProxyHeaders | None, header: Callable[[str], str | None]
) -> Forwarded:
    """The trusted values among the request's forwarded headers.

    :param header: returns the value of a request header by its lower-case
        name (``'x-forwarded-host'``), several fields joined with ``', '``.
    """
    if trust is None:
        return NOTHING
    if trust.forwarded:
        return _rfc7239(header("forwarded"), trust.forwarded)
    proto = _hop(header("x-forwarded-proto"), trust.x_proto) if trust.x_proto else None
    host = _hop(header("x-forwarded-host"), trust.x_host) if trust.x_host else None
    port = _hop(header("x-forwarded-port"), trust.x_port) if trust.x_port else None
    prefix = _hop(header("x-forwarded-prefix"), trust.x_prefix) if trust.x_prefix else None
    return Forwarded(_proto(proto), _host(host), _port(port), _prefix(prefix))


def _hop(value: str | None, hops: int) -> str | None:
    """The ``hops``-th value from the right of a comma-separated header, as
    ProxyFix takes it; ``None`` when there are fewer values."""
    if not value or len(value) > MAX_HEADER_LENGTH:
        return None
    # Visible ASCII, spaces and tabs only: no line breaks, NULs or non-ASCII.
    if not value.isascii() or not value.replace("\t", " ").isprintable():
        return None
    values = parse_list_header(value)
    if len(values) < hops:
        return None
    return values[-hops]


def _rfc7239(value: str | None, hops: int) -> Forwarded:
    element = _hop(value, hops)
    if element is None:
        return NOTHING
    # Werkzeug has no parser for a Forwarded element (pairs separated by
    # ';'); parse_options_header parses exactly that shape after a dummy
    # value, quoted strings included.
    _, pairs = parse_options_header("_;" + element)
    return Forwarded(_proto(pairs.get("proto")), _host(pairs.get("host")))


def _proto(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    return value if value in _PROTOS else None


def _host(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not _HOST.fullmatch(value) or not _valid_port(value):
        return None
    return value.lower()


def _valid_port(host: str) -> bool:
    if host.endswith("]") or ":" not in host:
        return True
    return _port(host.rpartition(":")[2]) is not None


def _port(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 5:
        return None
    port = int(value)
    return port if 0 < port < 65536 else None


def _prefix(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not _PREFIX.fullmatch(value) or value.startswith("//"):
        return None
    return value.rstrip("/")
