"""On-demand thumbnails for stores that serve their files elsewhere (S3).

The resize URL points at the app's own endpoint (the serving middleware
mounted with no local directory); once the thumbnail is in the store the
answer is a redirect to its URL there (the bucket or a CDN).  Everything
else — authorisation, the size rule, single flight, the bounded pool,
storing with ``reproducible=True`` — is the :class:`~.resizer.Resizer`'s.

The keys known to be stored are remembered (a bounded LRU per process), so
a warm URL is redirected without asking the store; the first request of a
process for a thumbnail stored earlier costs three S3 ``HEAD`` requests in the
pool: whether it exists, which original it was made of, and whether that is
still the original (see docs/ondemand.md, "Replaced originals").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ..exceptions import ConfigurationError
from ..middleware.miss import Redirect
from ..store import versioned_url
from ..validation import check_int
from .resizer import Outcome, ResizableStore, Resizer
from .url import ResizeRequest

__all__ = ["RedirectingResizer"]


class RedirectingResizer(Resizer):
    """A :class:`~.resizer.Resizer` whose URLs are ``url_base() + <key path>``
    and whose answers are redirects to the store's URL of the thumbnail.

    :param url_base: returns the base of resize URLs, ending in ``/``
        (e.g. ``'https://example.com/__images__/'``).
    :param stable_urls: whether the store's URLs are stable public URLs:
        they then get the original's ``_ts`` version and the redirect is
        cached like the file (``versioned_cache_control``).  ``False`` for
        presigned URLs, which expire and whose query is signed.
    :param known_keys: how many stored keys this process remembers.
    :param options: the :class:`~.resizer.Resizer` options.
    """

    def __init__(
        self,
        store: ResizableStore,
        *,
        url_base: Callable[[], str],
        stable_urls: bool = True,
        known_keys: int = 4096,
        **options: Any,
    ) -> None:
        super().__init__(store, **options)
        if not callable(url_base):
            raise ConfigurationError("url_base must be callable")
        check_int("known_keys", known_keys, minimum=0)
        self.url_base = url_base
        self.stable_urls = bool(stable_urls)
        self.known_keys = known_keys
        # (key path, original's version) -> None, least recently used first.
        # The version is part of the entry: a replaced original of the same
        # size has the same thumbnail key, and its old thumbnail is deleted.
        self._known_keys: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._known_lock = threading.Lock()

    def _url(self, request: ResizeRequest) -> str:
        return self.url_base() + quote(request.path)

    def _known(self, request: ResizeRequest) -> Outcome | None:
        entry = (request.path, request.tag)
        with self._known_lock:
            if entry not in self._known_keys:
                return None
            self._known_keys.move_to_end(entry)
        return self._redirect(request)

    def _stored(self, request: ResizeRequest) -> Outcome:
        if self.known_keys:
            with self._known_lock:
                self._known_keys[request.path, request.tag] = None
                self._known_keys.move_to_end((request.path, request.tag))
                while len(self._known_keys) > self.known_keys:
                    self._known_keys.popitem(last=False)
        return self._redirect(request)

    def _redirect(self, request: ResizeRequest) -> Redirect:
        url = self.store.get_url(
            request.object_type, request.object_id, request.width, request.height, request.mimetype
        )
        if not self.stable_urls:
            return Redirect(url, cacheable=False)
        return Redirect(versioned_url(url, request.tag))
