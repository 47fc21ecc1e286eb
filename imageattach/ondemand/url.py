"""The on-demand resize URL: building its query and parsing it back.

The path is the thumbnail's static path in the store, so that once the file
exists every later request is a plain static hit::

    <prefix>/<type>/<id % 1000>/<id // 1000>/<id>.<w>x<h><ext>
        ?_ts=<tag>&src=<ow>x<oh><oext>&sig=<sig>

``src`` names the original (its size and extension are the rest of its key),
``_ts`` is the original's version (``created_at``), and ``sig`` signs all of
it.  Nothing here checks a signature or touches the disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from ..sizing import thumbnail_mimetype
from ..stores.fs import _FILENAME, BaseFileSystemStore, guess_extension, guess_mimetype

__all__ = ["SIGNATURE", "SOURCE", "TAG", "ResizeRequest", "build_query", "parse"]

SOURCE = "src"
TAG = "_ts"
SIGNATURE = "sig"

_SOURCE = re.compile(
    r"(?P<w>[1-9][0-9]{0,8})x(?P<h>[1-9][0-9]{0,8})(?P<ext>\.[a-z]{1,5})", re.ASCII
)
_TAG = re.compile(r"[0-9]{1,32}", re.ASCII)
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
#: Longer than any canonical path or query; refused before any parsing.
_MAX_LENGTH = 1024


@dataclass(frozen=True)
class ResizeRequest:
    """What a resize URL asks for: the thumbnail's key and its original's."""

    object_type: str
    object_id: int
    width: int
    height: int
    #: The thumbnail's mimetype, from the path's extension.
    mimetype: str
    source_width: int
    source_height: int
    source_mimetype: str
    #: The original's ``_ts`` version tag; ``""`` when it has no ``created_at``.
    tag: str
    #: The path relative to the store root, as the store lays out the key.
    path: str

    @property
    def source(self) -> str:
        """The ``src`` query value."""
        return f"{self.source_width}x{self.source_height}{guess_extension(self.source_mimetype)}"

    @property
    def message(self) -> bytes:
        """The bytes the signature covers: every field of the URL but the prefix."""
        return f"imageattach-resize-v1\n{self.path}\n{self.source}\n{self.tag}".encode()


def make_request(
    store: BaseFileSystemStore,
    *,
    object_type: str,
    object_id: int,
    width: int,
    height: int,
    source_width: int,
    source_height: int,
    source_mimetype: str,
    tag: str,
) -> ResizeRequest:
    """The request for a ``width`` x ``height`` thumbnail of an original."""
    mimetype = thumbnail_mimetype(source_mimetype)
    path = "/".join(store.get_path(object_type, object_id, width, height, mimetype))
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
    if not query_string or len(query_string) > _MAX_LENGTH:
        return []
    return parse_qsl(query_string, keep_blank_values=True)


def parse(
    store: BaseFileSystemStore, relative_path: str, query_string: str
) -> tuple[ResizeRequest, str | None] | None:
    """Parse a resize URL into its request and signature (``None`` if absent).

    Returns ``None`` unless the URL is exactly one that :func:`build_query`
    could have made for a key of ``store``: the path must be the canonical
    path of the key it names, and the query must hold ``src``, optionally
    ``_ts`` and ``sig``, each once, and nothing else.
    """
    if len(relative_path) > _MAX_LENGTH:
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
    segments = relative_path.split("/")
    if source_mimetype is None or len(segments) != 4 or segments[0][:1] in ("", "."):
        return None
    filename = _FILENAME.fullmatch(segments[3])
    if filename is None or not filename["id"].isascii() or len(filename["id"]) > 40:
        return None
    try:
        request = make_request(
            store,
            object_type=segments[0],
            object_id=int(filename["id"]),
            width=int(filename["w"]),
            height=int(filename["h"]),
            source_width=int(source["w"]),
            source_height=int(source["h"]),
            source_mimetype=source_mimetype,
            tag=tag,
        )
    except ValueError:
        return None
    # One key, one URL: leading zeros, a wrong id % 1000 directory or an
    # extension that is not the thumbnail type's all end here.
    if request.path != relative_path:
        return None
    return request, signature
