"""Who may ask for a thumbnail: HMAC-SHA256 signatures and a size allowlist.

A URL is authorised when its ``sig`` is the HMAC of its fields under one of
the store's keys (the first key signs, every key verifies, so keys can be
rotated without breaking URLs already in pages and caches), or when its
width or height is in the allowlist and the other side follows from it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence

from ..exceptions import ConfigurationError
from ..sizing import thumbnail_size
from .url import ResizeRequest

__all__ = ["MIN_KEY_BYTES", "Signer", "is_allowlisted", "normalize_allowlist"]

#: Shorter keys are refused: a signature is only as strong as its key.
MIN_KEY_BYTES = 16
#: Signatures are HMAC-SHA256 truncated to 128 bits (RFC 2104 allows
#: truncating to half the hash), which keeps URLs short.
_SIGNATURE_BYTES = 16
#: Each key is first narrowed to this purpose, so a key shared with, say,
#: Flask's session signing never makes a signature valid in both places.
_PURPOSE = b"imageattach.ondemand.resize-url"

SecretKey = str | bytes | Sequence[str | bytes]


class Signer:
    """Signs and verifies resize URLs with one or more secret keys.

    :param secret_key: a key (``str`` or ``bytes``, at least 16 bytes), or a
        sequence of them: the first signs, all of them verify.
    """

    def __init__(self, secret_key: SecretKey) -> None:
        keys: Sequence[str | bytes] = (
            [secret_key] if isinstance(secret_key, str | bytes) else secret_key
        )
        if isinstance(keys, str | bytes) or not isinstance(keys, Sequence) or not keys:
            raise ConfigurationError(
                "secret_key must be a str or bytes key, or a non-empty sequence of them"
            )
        self._keys = tuple(_derive(key) for key in keys)

    def sign(self, message: bytes) -> str:
        """The signature of ``message`` under the first key."""
        return _encode(hmac.digest(self._keys[0], message, hashlib.sha256))

    def verify(self, message: bytes, signature: str) -> bool:
        """Whether ``signature`` signs ``message`` under any of the keys.

        Every key is tried and compared in constant time, so the time taken
        says nothing about how much of a forged signature was right.
        """
        valid = False
        for key in self._keys:
            expected = _encode(hmac.digest(key, message, hashlib.sha256))
            valid |= hmac.compare_digest(expected.encode(), signature.encode())
        return valid

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} with {len(self._keys)} key(s)>"


def _derive(key: object) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes):
        raise ConfigurationError(f"a secret_key must be str or bytes, not {type(key).__name__}")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"a secret_key must be at least {MIN_KEY_BYTES} bytes long; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return hmac.digest(key, _PURPOSE, hashlib.sha256)


def _encode(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest[:_SIGNATURE_BYTES]).rstrip(b"=").decode()


def normalize_allowlist(sizes: Iterable[int] | None) -> frozenset[int]:
    """Validate ``resize_allowlist``: positive integer widths/heights."""
    if sizes is None:
        return frozenset()
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Iterable):
        raise ConfigurationError("resize_allowlist must be a collection of integers")
    allowed = frozenset(sizes)
    for size in allowed:
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigurationError(
                f"resize_allowlist holds positive integers (pixels), not {size!r}"
            )
    return allowed


def is_allowlisted(allowlist: frozenset[int], request: ResizeRequest) -> bool:
    """Whether ``request`` is ``locate(width=w)`` or ``locate(height=h)`` of
    its original for an allowlisted ``w`` or ``h``."""
    size = (request.width, request.height)
    original = (request.source_width, request.source_height)
    return (
        request.width in allowlist and size == thumbnail_size(*original, width=request.width)
    ) or (request.height in allowlist and size == thumbnail_size(*original, height=request.height))
