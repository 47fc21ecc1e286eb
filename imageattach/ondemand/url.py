"""The on-demand resize URL: building its query and parsing it back.

The path is the thumbnail's key in the store, laid out by the store
(:class:`KeyLayout`): for a filesystem store its static path, so that once
the file exists every later request is a plain static hit; for S3 its key::

    <prefix>/<type>/<id % 1000>/<id // 1000>/<id>.<w>x<h><ext>
        ?_ts=<tag>&src=<ow>x<oh><oext>&sig=<sig>
    <prefix>/[<key prefix>/]<type>/<id>/<w>x<h><ext>?_ts=...

``src`` names the original (its size and extension are the rest of its key),
``_ts`` is the original's version (``created_at``), and ``sig`` signs all of
it.  A variant that is not a plain resize (cover, another format, a
quality) has its token in the file name (:mod:`imageattach.variants`), so
the signature covers every option.  Nothing here checks a signature or
touches the disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

from ..filetypes import OUTPUT_FORMATS, guess_extension, guess_mimetype
from ..middleware.paths import MAX_PATH_LENGTH
from ..sizing import thumbnail_mimetype
from ..variants import Variant, auto_path, keyed_mimetype, split_mimetype

__all__ = [
    "SIGNATURE",
    "SOURCE",
    "TAG",
    "KeyLayout",
    "ResizeRequest",
    "build_query",
    "make_request",
    "parse",
]

SOURCE = "src"
TAG = "_ts"
SIGNATURE = "sig"

#: The formats variants are rendered in.
_RENDERED = frozenset(OUTPUT_FORMATS.values())

_SOURCE = re.compile(
    r"(?P<w>[1-9][0-9]{0,8})x(?P<h>[1-9][0-9]{0,8})(?P<ext>\.[a-z]{1,5})", re.ASCII
)
_TAG = re.compile(r"[0-9]{1,32}", re.ASCII)
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
#: Longer than any canonical query; refused before any parsing.
_MAX_QUERY_LENGTH = 1024


class KeyLayout(Protocol):
    """How a store writes a key as a relative URL path, and reads it back."""

    def key_path(
        self, object_type: str, object_id: int, width: int, height: int, mimetype: str
    ) -> str:
        """The key as a path with ``/`` separators, relative to the prefix."""
        ...

    def split_key_path(self, path: str) -> tuple[str, int, int, int, str] | None:
        """``(object_type, object_id, width, height, keyed mimetype)`` of a
        path that looks like one :meth:`key_path` makes, else ``None`` (the
        caller checks the path is canonical by making it again)."""
        ...


@dataclass(frozen=True)
class ResizeRequest:
    """What a resize URL asks for: the thumbnail's key and its original's."""

    object_type: str
    object_id: int
    width: int
    height: int
    #: The thumbnail's mimetype as its store key carries it: from the path's
    #: extension, with the variant's token for a variant
    #: (:func:`~imageattach.variants.keyed_mimetype`).
    mimetype: str
    source_width: int
    source_height: int
    source_mimetype: str
    #: The original's ``_ts`` version tag; ``""`` when it has no ``created_at``.
    tag: str
    #: The key as a path relative to the prefix (:meth:`KeyLayout.key_path`).
    path: str

    @property
    def source(self) -> str:
        """The ``src`` query value."""
        return f"{self.source_width}x{self.source_height}{guess_extension(self.source_mimetype)}"

    @property
    def variant(self) -> Variant | None:
        """The variant's options; ``None`` for a plain thumbnail."""
        return split_mimetype(self.mimetype)[1]

    @property
    def format(self) -> str:
        """The output's plain mimetype."""
        return split_mimetype(self.mimetype)[0]

    @property
    def message(self) -> bytes:
        """The bytes the signature covers: every field of the URL but the prefix."""
        return _message(self.path, self.source, self.tag)

    def auto_message(self, store: KeyLayout) -> bytes | None:
        """What the ``format="auto"`` URL this variant is negotiated from
        signs, if it is one (AVIF, WebP or the source's thumbnail format);
        else ``None``.  The signature covers the auto URL, not the choice."""
        variant = self.variant
        fallback = thumbnail_mimetype(self.source_mimetype)
        if variant is None or self.format not in ("image/avif", "image/webp", fallback):
            return None
        concrete = store.key_path(
            self.object_type,
            self.object_id,
            self.width,
            self.height,
            keyed_mimetype(fallback, variant),
        )
        return _message(auto_path(concrete), self.source, self.tag)


def _message(path: str, source: str, tag: str) -> bytes:
    return f"imageattach-resize-v1\n{path}\n{source}\n{tag}".encode()


def make_request(
    store: KeyLayout,
    *,
    object_type: str,
    object_id: int,
    width: int,
    height: int,
    source_width: int,
    source_height: int,
    source_mimetype: str,
    tag: str,
    mimetype: str | None = None,
) -> ResizeRequest:
    """The request for a ``width`` x ``height`` thumbnail of an original;
    ``mimetype`` is a variant's keyed mimetype (default: the plain
    thumbnail's).

    :raises ValueError: a plain thumbnail in another format than the
        source's thumbnail format, or a variant in a format not rendered.
    """
    plain = thumbnail_mimetype(source_mimetype)
    if mimetype is None:
        mimetype = plain
    output, variant = split_mimetype(mimetype)
    if (variant is None and output != plain) or (
        variant is not None and output not in _RENDERED and output != plain
    ):
        raise ValueError(f"no {output} thumbnail is made of {source_mimetype}")
    path = store.key_path(object_type, object_id, width, height, mimetype)
    return ResizeRequest(
        object_type,
        object_id,
        width,
        height,
        mimetype,
        source_width,
        source_height,
        source_mimetype,
        tag,
        path,
    )


def build_query(request: ResizeRequest, signature: str | None) -> str:
    """The query string (without ``?``) of ``request``'s URL."""
    params = [(TAG, request.tag)] if request.tag else []
    params.append((SOURCE, request.source))
    if signature is not None:
        params.append((SIGNATURE, signature))
    return urlencode(params)


def is_resize_query(query_string: str) -> bool:
    """Whether the query names an original (``src=``), i.e. asks for a resize."""
    return any(name == SOURCE for name, _ in _pairs(query_string))


def _pairs(query_string: str) -> list[tuple[str, str]]:
    if not query_string or len(query_string) > _MAX_QUERY_LENGTH:
        return []
    return parse_qsl(query_string, keep_blank_values=True)


def parse(
    store: KeyLayout, relative_path: str, query_string: str
) -> tuple[ResizeRequest, str | None] | None:
    """Parse a resize URL into its request and signature (``None`` if absent).

    Returns ``None`` unless the URL is exactly one that :func:`build_query`
    could have made for a key of ``store``: the path must be the canonical
    path of the key it names, and the query must hold ``src``, optionally
    ``_ts`` and ``sig``, each once, and nothing else.
    """
    if len(relative_path) > MAX_PATH_LENGTH:
        return None
    params: dict[str, str] = {}
    for name, value in _pairs(query_string):
        if name not in (SOURCE, TAG, SIGNATURE) or name in params:
            return None
        params[name] = value
    source = _SOURCE.fullmatch(params.get(SOURCE, ""))
    tag = params.get(TAG, "")
    signature = params.get(SIGNATURE)
    if (
        source is None
        or (TAG in params and _TAG.fullmatch(tag) is None)
        or (signature is not None and _SIGNATURE.fullmatch(signature) is None)
    ):
        return None
    source_mimetype = guess_mimetype(source["ext"])
    if source_mimetype is None:
        return None
    key = store.split_key_path(relative_path)
    if key is None:
        return None
    object_type, object_id, width, height, mimetype = key
    try:
        request = make_request(
            store,
            object_type=object_type,
            object_id=object_id,
            width=width,
            height=height,
            source_width=int(source["w"]),
            source_height=int(source["h"]),
            source_mimetype=source_mimetype,
            tag=tag,
            mimetype=mimetype,
        )
    except ValueError:
        return None
    # One key, one URL: leading zeros, a wrong id % 1000 directory, another
    # store's key prefix or an extension that is not the thumbnail type's
    # all end here.
    if request.path != relative_path:
        return None
    return request, signature
