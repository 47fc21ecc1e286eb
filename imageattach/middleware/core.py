"""The protocol-free core of the static file server (sans-I/O).

:class:`StaticServer` decides every answer from a :class:`Request` (method,
path, query string, the few headers that matter) and one open + ``fstat`` of
the file (or, for a front end that sends whole files by path, one ``stat`` of
a file answered before: see :meth:`StaticServer.decide`): "not ours"
(``None``: the wrapped app answers), a :class:`Miss` (the front end consults
the ``on_miss`` hook, then calls :meth:`StaticServer.after_miss`), or a
:class:`Response` with a status, the headers and a body plan (bytes, or a
:class:`~.files.FileBody` slice of the open file).  The WSGI and ASGI front
ends only move bytes; every HTTP rule is here, once.

Order of the rules (RFC 9110 section 13.2.2, nginx where the RFC leaves room):
path safety → file lookup → method (405 / CORS preflight) → ``If-Match`` /
``If-Unmodified-Since`` (412) → ``If-None-Match`` / ``If-Modified-Since``
(304) → ``If-Range`` → ``Range`` (206 / 416) → 200.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, TypeAlias

from werkzeug.datastructures import ETags
from werkzeug.http import http_date, parse_date, parse_etags, parse_range_header, unquote_etag

from ..variants import AUTO_INFIX, negotiate
from .files import FORBIDDEN, MISSING, FileBody, OpenedFile, open_file
from .mimetypes import CONTENT_TYPES, SVG
from .miss import FileReady, MissResponse, MissResult, Redirect
from .options import ServeOptions
from .paths import PathRejected, is_plain, relative_path

__all__ = [
    "REQUEST_HEADERS",
    "SVG_CSP",
    "Miss",
    "Request",
    "Response",
    "SharedHeaders",
    "StaticServer",
]

#: Served with SVG files: an uploaded SVG opened directly cannot run script
#: or load anything on the app's origin.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

#: Request headers the core reads (lower-case name → :class:`Request` field).
REQUEST_HEADERS: Final = {
    "if-match": "if_match",
    "if-none-match": "if_none_match",
    "if-modified-since": "if_modified_since",
    "if-unmodified-since": "if_unmodified_since",
    "range": "range",
    "if-range": "if_range",
    "accept": "accept",
    "origin": "origin",
    "access-control-request-method": "access_control_request_method",
}

_ALLOWED_REQUEST_HEADERS = (
    "Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range"
)
_EXPOSED_HEADERS = "Content-Range, Accept-Ranges, ETag"
_TEXT = "text/plain; charset=utf-8"
_MEMO_SIZE = 4096


@dataclass(slots=True)
class Request:
    """What the core needs to know of a request.

    :param path: the percent-decoded path below the application root
        (``PATH_INFO``; the ASGI ``path`` without ``root_path``).
    :param raw_path: the request target as received, if the server gives it
        and it contains ``%`` (only used to refuse encoded separators).
    """

    method: str
    path: str
    query_string: str = ""
    raw_path: str | None = None
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_unmodified_since: str | None = None
    range: str | None = None
    if_range: str | None = None
    origin: str | None = None
    access_control_request_method: str | None = None
    #: Read for ``format="auto"`` variant URLs only (:func:`negotiate`).
    accept: str | None = None


class Response:
    """A decided answer: ``status``, ``headers`` and ``body`` (bytes, empty
    for HEAD and bodiless statuses, or a :class:`~.files.FileBody` whose
    descriptor the front end must :meth:`close`).

    ``shared`` is set when ``headers`` are a copy of remembered headers (a
    200 for a file whose size and mtime were seen before): a front end may
    keep its own encoding of them in ``shared.encoded``.
    """

    __slots__ = ("body", "headers", "shared", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes | FileBody,
        shared: SharedHeaders | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.shared = shared

    def close(self) -> None:
        """Release the open file, if any."""
        if type(self.body) is FileBody:
            self.body.close()

    @property
    def body_length(self) -> int:
        """How many body bytes the response sends."""
        body = self.body
        return len(body) if isinstance(body, bytes) else body.length

    def __repr__(self) -> str:
        return f"<Response {self.status}>"


class SharedHeaders:
    """The headers of a 200 for one file state (size, mtime) and one
    :class:`_Block`, made once: ``pairs``, and ``encoded``, which a front end
    may set to its own encoding of them (the ASGI one keeps the bytes)."""

    __slots__ = ("encoded", "etag", "last_modified", "pairs")

    def __init__(self, pairs: tuple[tuple[str, str], ...], etag: str, last_modified: str) -> None:
        self.pairs = pairs
        self.etag = etag
        self.last_modified = last_modified
        self.encoded: list[tuple[bytes, bytes]] | None = None


class _Block:
    """The constant headers of one content type under one cache policy, and
    the 200 headers of the files seen with them, per ``(size, mtime_ns)``: a
    pure function of the two, so the memo never goes stale."""

    __slots__ = ("full", "seen", "short")

    def __init__(self, full: tuple[tuple[str, str], ...], short: tuple[tuple[str, str], ...]):
        #: The 200/206 headers before the validators and Content-Length.
        self.full = full
        #: The 304/416 ones (no Content-Type).
        self.short = short
        self.seen: dict[tuple[int, int], SharedHeaders] = {}

    def remember(self, size: int, mtime_ns: int) -> SharedHeaders:
        """The 200 headers of a file of ``size`` and ``mtime_ns``, made and
        kept in :attr:`seen`."""
        if len(self.seen) >= _MEMO_SIZE:
            self.seen.clear()
        etag = f'"{size:x}-{mtime_ns:x}"'
        last_modified = http_date(mtime_ns // 1_000_000_000)
        pairs = (
            *self.full,
            ("ETag", etag),
            ("Last-Modified", last_modified),
            ("Content-Length", str(size)),
        )
        shared = self.seen[size, mtime_ns] = SharedHeaders(pairs, etag, last_modified)
        return shared


class Miss:
    """No file at the safe path ``relative_path`` (yet): the front end calls
    the ``on_miss`` hook, then :meth:`StaticServer.after_miss`."""

    __slots__ = ("relative_path",)

    def __init__(self, relative_path: str) -> None:
        self.relative_path = relative_path

    def __repr__(self) -> str:
        return f"<Miss {self.relative_path!r}>"


#: What tells one file state from another: inode, device, size, mtime and
#: ctime (nanoseconds), from one ``stat``.
_Identity: TypeAlias = tuple[int, int, int, int, int]


def _identity(st: os.stat_result) -> _Identity:
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns


#: What a by-path answer needs to know of a file answered before: its
#: identity, its path and its header blocks.
_Known: TypeAlias = tuple[_Identity, str, tuple["_Block", "_Block"]]
_VARY_ACCEPT: Final = ("Vary", "Accept")

#: The range of a ``Range`` header that no byte of the file satisfies.
_UNSATISFIABLE: Final = (-1, -1)


class StaticServer:
    """Decides the answers for the files of ``dir_path`` served under
    ``url_path``.  Constant headers are computed here, once.

    :param url_path: the URL path prefix (``'/images'``).
    :param dir_path: the directory; symlinks are resolved once, now.  ``None``
        for no local files: every safe path under the prefix is a miss for
        the ``on_miss`` hook (e.g. a resizer redirecting to S3).
    """

    def __init__(
        self, url_path: str, dir_path: str | os.PathLike[str] | None, options: ServeOptions
    ):
        prefix = "/" + url_path.strip("/")
        self.prefix = prefix if prefix == "/" else prefix + "/"
        self._prefix_length = len(self.prefix)
        self.root = None if dir_path is None else os.path.realpath(os.fspath(dir_path) or ".")
        self.options = options
        self._directory = None if self.root is None else os.path.join(self.root, "")
        self._confine_to = None if options.follow_symlinks else self.root
        self._fall_through = options.missing == "fallthrough"
        self._has_hook = options.on_miss is not None
        self._is_versioned = options.is_versioned

        cors = options.cors
        self._cors = cors is not False
        self._cors_origins = frozenset(cors) if isinstance(cors, tuple) else frozenset()
        cors_static: tuple[tuple[str, str], ...] = ()
        if cors is True:
            cors_static = (
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Expose-Headers", _EXPOSED_HEADERS),
            )
        elif self._cors:
            cors_static = (("Vary", "Origin"), ("Access-Control-Expose-Headers", _EXPOSED_HEADERS))
        self._common = (("X-Content-Type-Options", "nosniff"), *cors_static)
        self._allow = "GET, HEAD, OPTIONS" if self._cors else "GET, HEAD"

        #: Request path → what a by-path answer needs to know of its file:
        #: see :meth:`_known_file`.
        self._known: dict[str, _Known] = {}
        #: The same for ``format="auto"`` URLs, by the negotiated path.
        self._known_auto: dict[str, _Known] = {}
        # extension → (unversioned block, versioned block); the auto ones
        # are the same with ``Vary: Accept``.
        self._types: dict[str, tuple[_Block, _Block]] = {}
        self._auto_types: dict[str, tuple[_Block, _Block]] = {}
        for extension, content_type in CONTENT_TYPES.items():
            for types, vary in ((self._types, ()), (self._auto_types, (_VARY_ACCEPT,))):
                by_version = []
                for cache_control in (options.cache_control, options.versioned_cache_control):
                    short: list[tuple[str, str]] = [("Accept-Ranges", "bytes")]
                    if cache_control is not None:
                        short.append(("Cache-Control", cache_control))
                    if content_type == SVG:
                        short.append(("Content-Security-Policy", SVG_CSP))
                    short.extend(self._common)
                    short.extend(vary)
                    full = (("Content-Type", content_type), *short)
                    by_version.append(_Block(full, tuple(short)))
                types[extension] = (by_version[0], by_version[1])

    def constant_headers(self) -> frozenset[tuple[str, str]]:
        """Every header that is the same on many responses, for front ends to
        pre-encode."""
        pairs = set(self._common)
        for by_version in (*self._types.values(), *self._auto_types.values()):
            for block in by_version:
                pairs.update(block.full, block.short)
        return frozenset(pairs)

    def after_miss(self, request: Request, result: MissResult) -> Response | None:
        """The answer once the ``on_miss`` hook returned ``result``."""
        if isinstance(result, FileReady):
            decided = self.decide(request, allow_miss=False)
            assert not isinstance(decided, Miss)
            return decided
        answer = self._after_miss(request, result)
        if answer is not None and AUTO_INFIX in request.path:
            _vary_accept(answer)
        return answer

    def _after_miss(self, request: Request, result: MissResult) -> Response | None:
        if result is None:
            return self._unserved(request, 404)
        if isinstance(result, MissResponse):
            return self._text(request, result.status, result.text, result.headers)
        if isinstance(result, Redirect):
            return self._redirect(request, result)
        raise TypeError(
            f"on_miss returned {result!r}; expected None, FILE_READY, a MissResponse or a Redirect"
        )

    # -- the decision ---------------------------------------------------------

    def decide(
        self, request: Request, *, allow_miss: bool = True, by_path: bool = False
    ) -> Response | Miss | None:
        """The answer to ``request``, a :class:`Miss` (only when an ``on_miss``
        hook is configured and ``allow_miss``), or ``None`` (not ours).

        :param by_path: the front end sends a whole file by its path (ASGI
            ``pathsend``), so a plain 200 needs no open descriptor: the body
            of such a 200 may be a :class:`~.files.FileBody` without one
            (``fd == -1``), which the front end must send by ``path``.
        """
        path = request.path
        if AUTO_INFIX in path:
            auto = negotiate(path, request.accept)
            if auto is not None:
                return self._decide_auto(request, auto, allow_miss, by_path)
        if by_path:
            answer = self._known_file(request, self._known, path)
            if answer is not None:
                return answer
        if not path.startswith(self.prefix):
            return None
        relative = path[self._prefix_length :]
        if request.raw_path is not None or not is_plain(relative):
            try:
                relative = relative_path(relative, request.raw_path)
            except PathRejected as rejected:
                return self._unserved(request, rejected.status)
        return self._decide(request, relative, allow_miss, by_path, self._types, self._known, path)

    def _decide_auto(
        self, request: Request, auto: str, allow_miss: bool, by_path: bool
    ) -> Response | Miss | None:
        """:meth:`decide` for a ``format="auto"`` variant URL, whose file is
        the variant ``auto`` negotiated from ``Accept`` (the one place this
        is done; :func:`~imageattach.variants.negotiate`): every answer
        carries ``Vary: Accept``, and a miss names the negotiated file."""
        if by_path:
            answer = self._known_file(request, self._known_auto, auto)
            if answer is not None:
                return answer
        path = request.path
        if not path.startswith(self.prefix):
            return None
        relative = path[self._prefix_length :]
        if request.raw_path is None and is_plain(relative):
            # negotiate() changed only the file name's tail.
            concrete = auto[self._prefix_length :]
        else:
            status = 404
            try:
                relative = relative_path(relative, request.raw_path)
            except PathRejected as rejected:
                status = rejected.status
            negotiated = None if status != 404 else negotiate(relative, request.accept)
            if negotiated is None:  # refused, or the safe path is no auto path
                answer = self._unserved(request, status)
                if answer is not None:
                    _vary_accept(answer)
                return answer
            concrete = negotiated
        chosen = self._decide(
            request, concrete, allow_miss, by_path, self._auto_types, self._known_auto, auto
        )
        # Answers from the blocks (200, 206, 304, 416) vary already.
        if (
            type(chosen) is Response
            and chosen.shared is None
            and _VARY_ACCEPT not in chosen.headers
        ):
            _vary_accept(chosen)
        return chosen

    def _decide(
        self,
        request: Request,
        relative: str,
        allow_miss: bool,
        by_path: bool,
        types: dict[str, tuple[_Block, _Block]],
        known: dict[str, _Known],
        key: str,
    ) -> Response | Miss | None:
        """:meth:`decide` for the safe path ``relative`` below the root, with
        the headers of ``types``, remembering a by-path file in ``known``
        under ``key``."""
        dot = relative.rfind(".")
        if dot > relative.rfind("/"):
            extension = relative[dot:]
            blocks = types.get(extension) or types.get(extension.lower())
        else:
            blocks = None
        if blocks is None:
            return self._unserved(request, 404)

        if self._directory is None:
            opened: OpenedFile | int = MISSING
        else:
            file_path = self._directory + relative
            opened = open_file(file_path, self._confine_to)
            if by_path and not isinstance(opened, int) and opened.real_path == file_path:
                if len(known) >= _MEMO_SIZE:
                    known.clear()
                known[key] = (_identity(opened.stat), file_path, blocks)
        method = request.method
        if isinstance(opened, int):
            if opened == MISSING:
                if allow_miss and self._has_hook and (method == "GET" or method == "HEAD"):
                    return Miss(relative)
                if method == "OPTIONS" and self._cors and request.access_control_request_method:
                    return self._preflight(request)  # a thumbnail not made yet
            return self._unserved(request, 403 if opened == FORBIDDEN else 404)

        if method != "GET" and method != "HEAD":
            os.close(opened.fd)
            if method == "OPTIONS" and self._cors and request.access_control_request_method:
                return self._preflight(request)
            return self._text(request, 405, extra=(("Allow", self._allow),))
        try:
            return self._serve(request, opened, blocks)
        except BaseException:
            os.close(opened.fd)
            raise

    def _known_file(self, request: Request, memo: dict[str, _Known], key: str) -> Response | None:
        """The 200 for the file answered before under ``key`` in ``memo``,
        checked with one ``stat`` and no ``open``; ``None`` to decide the
        usual way.

        Only for a request that every rule answers with a plain 200 (GET or
        HEAD, no conditional or ``Range`` header, no origin list to echo, no
        percent-encoded path).  The file must be the very one seen then: same
        inode, device, size, mtime and ctime, so a file replaced (a new inode,
        even of the same size and mtime), rewritten in place (a new ctime) or
        deleted is looked up afresh, and its headers never come from the old
        file.  The path was opened then without a symlink on the way (its
        real path was itself); a symlink planted since leads to another inode.
        """
        known = memo.get(key)
        method = request.method
        if (
            known is None
            or (method != "GET" and method != "HEAD")
            or request.raw_path is not None
            or request.if_match is not None
            or request.if_none_match is not None
            or request.if_modified_since is not None
            or request.if_unmodified_since is not None
            or request.range is not None
            or self._cors_origins
        ):
            return None
        identity, file_path, blocks = known
        try:
            st = os.stat(file_path)
        except OSError:
            st = None
        if st is None or _identity(st) != identity:
            memo.pop(key, None)
            return None
        size = st.st_size
        query = request.query_string
        block = blocks[bool(query) and self._is_versioned(query)]
        shared = block.seen.get((size, st.st_mtime_ns)) or block.remember(size, st.st_mtime_ns)
        body = b"" if method == "HEAD" else FileBody(-1, 0, size, size, file_path)
        return Response(200, list(shared.pairs), body, shared)

    def _serve(
        self, request: Request, opened: OpenedFile, blocks: tuple[_Block, _Block]
    ) -> Response:
        st = opened.stat
        size = st.st_size
        query = request.query_string
        block = blocks[bool(query) and self._is_versioned(query)]
        shared = block.seen.get((size, st.st_mtime_ns)) or block.remember(size, st.st_mtime_ns)
        if (
            request.if_match is None
            and request.if_none_match is None
            and request.if_modified_since is None
            and request.if_unmodified_since is None
            and request.range is None
            and not self._cors_origins
        ):
            # The common case, where every rule below comes to this 200.
            response = Response(200, list(shared.pairs), b"", shared)
            return self._with_body(request, response, opened, 0, size)
        cors = self._cors_echo(request) if self._cors_origins else ()
        etag = shared.etag
        last_modified = shared.last_modified
        mtime = st.st_mtime_ns // 1_000_000_000

        status = 0
        if (
            request.if_match is not None
            or request.if_none_match is not None
            or request.if_modified_since is not None
            or request.if_unmodified_since is not None
        ):
            status = self._preconditions(request, etag, mtime, last_modified)
        if status:
            os.close(opened.fd)
            if status == 304:
                headers = [*block.short, ("ETag", etag), ("Last-Modified", last_modified), *cors]
                return Response(304, headers, b"")
            headers = [("Content-Type", _TEXT), *self._common, ("Content-Length", "0"), *cors]
            return Response(412, headers, b"")

        if request.range is not None and request.method == "GET" and size:
            span = self._range(request, size, etag, mtime)
            if span is _UNSATISFIABLE:
                os.close(opened.fd)
                headers = [
                    ("Content-Type", _TEXT),
                    *block.short,
                    ("ETag", etag),
                    ("Last-Modified", last_modified),
                    ("Content-Range", f"bytes */{size}"),
                    ("Content-Length", "0"),
                    *cors,
                ]
                return Response(416, headers, b"")
            if span is not None:
                offset, end = span
                length = end - offset
                headers = [
                    *block.full,
                    ("ETag", etag),
                    ("Last-Modified", last_modified),
                    ("Content-Length", str(length)),
                    *cors,
                    ("Content-Range", f"bytes {offset}-{end - 1}/{size}"),
                ]
                return self._with_body(request, Response(206, headers, b""), opened, offset, length)
        if cors:
            response = Response(200, [*shared.pairs, *cors], b"")
        else:
            response = Response(200, list(shared.pairs), b"", shared)
        return self._with_body(request, response, opened, 0, size)

    @staticmethod
    def _with_body(
        request: Request, response: Response, opened: OpenedFile, offset: int, length: int
    ) -> Response:
        """``response`` with the file's bytes ``[offset, offset + length)`` as
        its body, or, for HEAD, with none (the file closed)."""
        if request.method == "HEAD":
            os.close(opened.fd)
            return response
        path = opened.real_path
        st = opened.stat
        if path is not None and (st.st_nlink == 0 or path.endswith(" (deleted)")):
            path = None  # replaced since it was opened: send from the descriptor only
        response.body = FileBody(opened.fd, offset, length, st.st_size, path)
        return response

    # -- conditional requests -------------------------------------------------

    @staticmethod
    def _preconditions(request: Request, etag: str, mtime: int, last_modified: str) -> int:
        """412, 304, or 0 to go on (RFC 9110 section 13.2.2, steps 1-4)."""
        if request.if_match is not None:
            if not _strong_match(request.if_match, etag):
                return 412
        elif request.if_unmodified_since is not None:
            since = _timestamp(request.if_unmodified_since)
            if since is not None and mtime > since:
                return 412
        if request.if_none_match is not None:
            return 304 if _weak_match(request.if_none_match, etag) else 0
        if request.if_modified_since is not None:
            if request.if_modified_since == last_modified:
                return 304
            since = _timestamp(request.if_modified_since)
            if since is not None and mtime <= since:
                return 304
        return 0

    @staticmethod
    def _range(request: Request, size: int, etag: str, mtime: int) -> tuple[int, int] | None:
        """``(start, end)`` of the one range to send, :data:`_UNSATISFIABLE`,
        or ``None`` to ignore ``Range`` and send the whole file."""
        assert request.range is not None
        if request.if_range is not None and not _if_range_matches(request.if_range, etag, mtime):
            return None
        return _byte_range(request.range, size)

    # -- headers ----------------------------------------------------------------

    def _cors_echo(self, request: Request) -> Sequence[tuple[str, str]]:
        origin = request.origin
        if origin is not None and origin in self._cors_origins:
            return (("Access-Control-Allow-Origin", origin),)
        return ()

    # -- answers without a file -----------------------------------------------

    def _unserved(self, request: Request, status: int) -> Response | None:
        return None if self._fall_through else self._text(request, status)

    def _text(
        self,
        request: Request,
        status: int,
        text: str = "",
        extra: Sequence[tuple[str, str]] = (),
    ) -> Response:
        body = (text or HTTPStatus(status).phrase).encode()
        headers = [
            ("Content-Type", _TEXT),
            ("Content-Length", str(len(body))),
            *self._common,
            *extra,
            *self._cors_echo(request),
        ]
        return Response(status, headers, b"" if request.method == "HEAD" else body)

    def _redirect(self, request: Request, redirect: Redirect) -> Response:
        """302 to where the file is; cached like the file would be."""
        versioned = (
            redirect.cacheable
            and bool(request.query_string)
            and self._is_versioned(request.query_string)
        )
        options = self.options
        cache_control = options.versioned_cache_control if versioned else options.cache_control
        headers = [
            ("Location", redirect.location),
            ("Content-Type", _TEXT),
            ("Content-Length", "0"),
            *self._common,
        ]
        if cache_control is not None:
            headers.append(("Cache-Control", cache_control))
        headers.extend(self._cors_echo(request))
        return Response(302, headers, b"")

    def _preflight(self, request: Request) -> Response:
        headers = [
            *self._common,
            ("Allow", self._allow),
            ("Access-Control-Allow-Methods", self._allow),
            ("Access-Control-Allow-Headers", _ALLOWED_REQUEST_HEADERS),
            ("Access-Control-Max-Age", "86400"),
            *self._cors_echo(request),
        ]
        return Response(204, headers, b"")


# -- RFC 9110 where Werkzeug's parsers are lenient --------------------------------
#
# Every request header the core reads goes through Werkzeug's parsers, and
# only through the few functions below, which add RFC 9110's syntax where
# Werkzeug accepts more, and answer as nginx does.  No other code parses
# ``Range``, ``If-Match``, ``If-None-Match`` or ``If-Range``.

# One ``entity-tag`` (RFC 9110 section 8.8.3): ``[ "W/" ] DQUOTE *etagc DQUOTE``,
# ``W`` upper-case only (``%s"W/"``).
_ENTITY_TAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"')
# ``bytes=-0`` (any number of zeros, optional whitespace around the spec).
_ZERO_SUFFIX = re.compile(r"[ \t]*-0+[ \t]*")


def _vary_accept(response: Response) -> None:
    """Mark an answer (not from the blocks) under a ``format="auto"`` URL
    as chosen by ``Accept``."""
    response.headers.append(_VARY_ACCEPT)
    response.shared = None


def _entity_tags(value: str) -> ETags:
    """The tags of an ``If-Match`` / ``If-None-Match`` value, as nginx reads them.

    ``*`` only as the whole value; members that are not an ``entity-tag``
    (unquoted, ``w/``, a stray quote) are skipped, the others still count.
    Werkzeug's :func:`~werkzeug.http.parse_etags` takes an unquoted value as a
    tag, ``w/`` as weak and ``*`` anywhere in a list as ``*``, so it gets only
    the well-formed members.  Splitting at commas loses a tag containing a
    comma, which none of ours does (nginx splits the same way).
    """
    if value.strip(" \t") == "*":
        return ETags(star_tag=True)
    members = [member.strip(" \t") for member in value.split(",")]
    return parse_etags(", ".join(m for m in members if _ENTITY_TAG.fullmatch(m)))


def _strong_match(value: str, etag: str) -> bool:
    """``If-Match``: ``*`` or a strong tag equal to ``etag`` (strong comparison)."""
    return value == etag or _entity_tags(value).contains(etag[1:-1])


def _weak_match(value: str, etag: str) -> bool:
    """``If-None-Match``: ``*`` or any tag, weak or strong, equal to ``etag``."""
    return value == etag or _entity_tags(value).contains_weak(etag[1:-1])


def _byte_range(value: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` of the one range of a ``Range`` value for a file of
    ``size`` (> 0) bytes, :data:`_UNSATISFIABLE`, or ``None`` to ignore it.

    Stricter than :func:`~werkzeug.http.parse_range_header`, as nginx is:
    ``bytes`` (any case) then ``=`` with no whitespace around it (RFC 9110
    section 14.1.1; Werkzeug strips it), and a zero suffix ``bytes=-0``, which
    Werkzeug calls malformed (ignored), is valid syntax that no byte
    satisfies (section 14.1.2): 416.
    """
    if value[:6].lower() != "bytes=":
        return None  # another unit, or not the ranges-specifier syntax
    if _ZERO_SUFFIX.fullmatch(value, 6):
        return _UNSATISFIABLE
    parsed = parse_range_header(value)
    # Malformed, or several ranges: answered 200 with the whole file (RFC
    # 9110 lets a server ignore Range).  No multipart: images are small, and
    # it closes the overlapping-ranges amplification.
    if parsed is None or len(parsed.ranges) != 1:
        return None
    start, stop = parsed.ranges[0]
    # Not Range.range_for_length: it refuses a suffix longer than the file,
    # which RFC 9110 section 14.1.2 says means the whole file.
    if stop is None:
        if start < 0:
            return max(0, size + start), size
        stop = size
    if start >= size:
        return _UNSATISFIABLE
    return start, min(stop, size)


def _if_range_matches(value: str, etag: str, mtime: int) -> bool:
    """``If-Range`` by strong comparison: the exact strong ETag, or exactly the
    ``Last-Modified`` date.

    Not ``werkzeug.http.parse_if_range_header``: it drops the weakness of an
    entity tag, and a weak tag must never match here (RFC 9110 section 13.1.5).
    """
    value = value.strip()
    if value[:1] == '"' or value[:2] in ("W/", "w/"):
        tag, weak = unquote_etag(value)
        return not weak and tag == etag[1:-1]
    return _timestamp(value) == mtime


def _timestamp(value: str) -> int | None:
    """An HTTP date as whole Unix seconds, or ``None`` when invalid."""
    parsed = parse_date(value)
    return None if parsed is None else int(parsed.timestamp())
