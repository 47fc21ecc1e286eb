"""The base URL of a request (``scheme://host/root/``), which the front ends
make current for ``locate()`` while the wrapped app runs.

Built per request, never remembered: the seed kept the first request's
``Host`` for the life of the process (host-header poisoning).
"""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.sansio.utils import get_host

__all__ = ["base_url"]

# Characters a URL path keeps as they are (WHATWG path segment), '%' included
# so that an already quoted root path is not quoted twice.
_SAFE = "!$&'()*+,/:;=@%"


def base_url(
    scheme: str,
    host_header: str | None,
    server: tuple[str, int | None] | None,
    root_path: str | bytes,
    forwarded_proto: str | None = None,
    forwarded_host: str | None = None,
) -> str | None:
    """``scheme://host/root/``, or ``None`` if there is no usable host.

    :param forwarded_proto: ``X-Forwarded-Proto``, passed only when trusted.
    :param forwarded_host: ``X-Forwarded-Host``, passed only when trusted.
        Of a list, the last value is used: the one the nearest proxy appended.
    """
    if forwarded_proto:
        proto = forwarded_proto.rpartition(",")[2].strip().lower()
        if proto in ("http", "https"):
            scheme = proto
    if forwarded_host:
        host_header = forwarded_host.rpartition(",")[2].strip()
    # get_host drops the default port and returns "" for a malformed host.
    host = get_host(scheme, host_header, server)
    if not host:
        return None
    root = quote(root_path, safe=_SAFE).rstrip("/")
    return f"{scheme}://{host}{root}/"
