"""Exclusive locks by name shared by several servers: leases in Redis.

A lease is a Redis key set with ``SET NX PX`` to a random token.  While it
is held, a thread extends it every third of its TTL (only if the key still
holds the token: a Lua script, so the check and the ``PEXPIRE`` are one
step); releasing deletes it the same way, so a holder never frees a lease it
lost.  A holder that dies (SIGKILL, power) frees its leases within their
TTL.  Waiters are woken by a message the release publishes, and poll with
capped exponential backoff and jitter besides (a dead holder sends none).

When Redis cannot be reached, :class:`RedisLeases` either falls back to a
local lock (file locks or process-local ones) with a rate-limited warning,
or refuses (:exc:`~imageattach.exceptions.StoreUnavailableError`), as
configured.  The stores build them from their ``resize_lock*`` options
(:func:`resize_leases`); see docs/scaling.md.

redis-py is imported only when leases are configured (the ``redis`` extra).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import random
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from . import observe
from .exceptions import ConfigurationError, StoreUnavailableError
from .filelocks import LocalLocks, NamedLocks

if TYPE_CHECKING:
    import redis

__all__ = ["DEFAULT_TTL", "FALLBACKS", "RedisLeases", "resize_leases"]

logger = logging.getLogger("imageattach.leases")

#: Seconds a lease lives without renewal (a crashed holder's lease is free
#: within this long).
DEFAULT_TTL = 30.0
#: What ``resize_lock_fallback`` may be.
FALLBACKS = ("local", "refuse")
#: Seconds between two warnings that Redis is down (per process and store).
WARNING_INTERVAL = 60.0

_SCHEMES = ("redis://", "rediss://", "unix://")
_FIRST_POLL = 0.005
_MAX_POLL = 0.25

# Both compare the token first: a lease that expired and was taken by
# another holder is neither extended nor deleted by its former holder.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# Releasing also wakes the waiters (they subscribe to the key's channel).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    redis.call('del', KEYS[1])
    redis.call('publish', KEYS[1] .. ':released', '')
    return 1
end
return 0
"""


class _Connection:
    """One Redis client per process, made on first use: nothing connects at
    construction, and a client made before a fork (gunicorn --preload) is
    not shared by the children."""

    def __init__(self, target: str | redis.Redis, where: str) -> None:
        self._target = target
        self.where = where
        self._lock = threading.Lock()
        self._made: tuple[int, redis.Redis, Any, Any] | None = None
        self._last_warning = -math.inf

    def get(self) -> tuple[redis.Redis, Any, Any]:
        """The client and its renew and release scripts."""
        pid = os.getpid()
        with self._lock:
            if self._made is None or self._made[0] != pid:
                import redis

                if isinstance(self._target, str):
                    # URL query options (socket_timeout=...) override these.
                    client = redis.Redis.from_url(
                        self._target, socket_connect_timeout=2.0, socket_timeout=5.0
                    )
                else:
                    client = self._target  # redis-py resets its pool in a forked child
                renew = client.register_script(_RENEW)
                release = client.register_script(_RELEASE)
                self._made = (pid, client, renew, release)
            return self._made[1], self._made[2], self._made[3]

    def warn_down(self, name: str, error: Exception, doing: str, outcome: str) -> None:
        """Count that Redis failed a lease (``outcome``, see
        :meth:`~imageattach.observe.Recorder.lease_failed`) and log it, at
        most once per :data:`WARNING_INTERVAL`."""
        _count(outcome)
        now = time.monotonic()
        with self._lock:
            if now - self._last_warning < WARNING_INTERVAL:
                return
            self._last_warning = now
        logger.warning(
            "Redis at %s is unreachable (%s); %s",
            self.where,
            error,
            doing,
            extra={"image_key": name},
        )


class RedisLeases:
    """Leases in Redis by name, under ``prefix`` (a
    :class:`~imageattach.filelocks.NamedLocks`).

    :param redis: a ``redis://`` (``rediss://``, ``unix://``) URL, or a
        ``redis.Redis`` client.
    :param prefix: the start of every key (e.g. ``imageattach:s3:bucket/prefix:resize``).
    :param ttl: seconds a lease lives unless renewed (renewed every ``ttl / 3``).
    :param fallback: ``"local"``: hold ``local`` instead while Redis is down
        (logged); ``"refuse"``: raise :exc:`StoreUnavailableError`.
    :param local: the fallback locks (default: process-local ones).
    :param option: the option named in configuration errors.
    """

    def __init__(
        self,
        redis: str | Any,
        *,
        prefix: str,
        ttl: float = DEFAULT_TTL,
        fallback: str = "local",
        local: NamedLocks | None = None,
        option: str = "resize_lock",
    ) -> None:
        self._connection = _Connection(_check_target(option, redis), _where(redis))
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError(f"{option}_prefix must be a non-empty string, not {prefix!r}")
        self.prefix = prefix
        self.ttl = _check_ttl(f"{option}_ttl", ttl)
        if fallback not in FALLBACKS:
            raise ConfigurationError(
                f"{option}_fallback must be 'local' or 'refuse', not {fallback!r}"
            )
        self.fallback = fallback
        self.local: NamedLocks = LocalLocks() if local is None else local

    def namespace(self, suffix: str, *, local: NamedLocks | None = None) -> RedisLeases:
        """Leases under ``prefix:suffix`` on the same connection (e.g. the
        stores' object locks beside the generation leases)."""
        other = copy.copy(self)
        other.prefix = f"{self.prefix}:{suffix}"
        other.local = LocalLocks() if local is None else local
        return other

    def key(self, name: str) -> str:
        """The Redis key of the lease of ``name``."""
        return f"{self.prefix}:{name}"

    def hold(self, name: str, *, timeout: float) -> AbstractContextManager[None]:
        """Hold the lease of ``name`` inside the ``with`` block.

        :raises TimeoutError: another holder kept it for ``timeout`` seconds.
        :raises StoreUnavailableError: Redis is down and ``fallback="refuse"``.
        """
        return self._hold(name, timeout)

    @contextlib.contextmanager
    def _hold(self, name: str, timeout: float) -> Iterator[None]:
        import redis

        deadline = time.monotonic() + timeout
        key = self.key(name)
        token = secrets.token_hex(16)
        failure: redis.RedisError | None = None
        try:
            client, renew, release = self._connection.get()
            _acquire(client, key, token, round(self.ttl * 1000), deadline)
        except redis.RedisError as error:
            failure = error
        if failure is not None:
            if self.fallback == "refuse":
                _count("refused")
                raise StoreUnavailableError(
                    f"Redis at {self._connection.where} is unreachable for the lease of "
                    f"{name}: {failure}"
                ) from failure
            self._connection.warn_down(name, failure, "falling back to a local lock", "fallback")
            with self.local.hold(name, timeout=max(0.0, deadline - time.monotonic())):
                yield
            return
        renewal = _Renewal(self._connection, renew, key, token, self.ttl, name)
        renewal.start()
        try:
            yield
        finally:
            renewal.stop()
            try:
                release(keys=[key], args=[token])
            except redis.RedisError as error:
                # It expires by itself within the TTL.
                self._connection.warn_down(name, error, "the lease expires by itself", "release")

    def __repr__(self) -> str:
        return f"<RedisLeases {self.prefix!r} at {self._connection.where}, ttl={self.ttl}>"


def _acquire(client: redis.Redis, key: str, token: str, ttl_ms: int, deadline: float) -> None:
    if client.set(key, token, nx=True, px=ttl_ms):
        return
    # Taken: wait for its release message, or poll in case it is never sent
    # (the holder died and the lease expires, or the message came between
    # the SET and the subscription).
    with contextlib.closing(client.pubsub(ignore_subscribe_messages=True)) as released:
        released.subscribe(f"{key}:released")
        delay = _FIRST_POLL
        while not client.set(key, token, nx=True, px=ttl_ms):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"another server held the lease {key} too long")
            # Jitter: waiters that started together do not poll together.
            released.get_message(timeout=min(left, random.uniform(delay / 2, delay)))
            delay = min(delay * 2, _MAX_POLL)


class _Renewal(threading.Thread):
    """Extends a held lease every third of its TTL until stopped, or until
    the lease turns out lost (then it logs and stops)."""

    def __init__(
        self, connection: _Connection, renew: Any, key: str, token: str, ttl: float, name: str
    ) -> None:
        super().__init__(name=f"lease renewal {key}", daemon=True)
        self._connection = connection
        self._renew = renew
        self._key = key
        self._token = token
        self._ttl = ttl
        self._name = name
        self._stopped = threading.Event()

    def run(self) -> None:
        import redis

        while not self._stopped.wait(self._ttl / 3):
            try:
                kept = self._renew(keys=[self._key], args=[self._token, round(self._ttl * 1000)])
            except redis.RedisError as error:
                # Keep trying: the conditional write still guards publication.
                self._connection.warn_down(self._name, error, "could not renew a lease", "renewal")
                continue
            if not kept:
                _count("lost")
                logger.warning(
                    "lost the lease %s while holding it (held longer than its TTL "
                    "without renewal); another server may do the same work",
                    self._key,
                    extra={"image_key": self._name},
                )
                return

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _count(outcome: str) -> None:
    recorder = observe.recorder
    if recorder is not None:
        recorder.lease_failed(outcome)


def _check_target(option: str, value: object) -> str | Any:
    if isinstance(value, str):
        if not value.startswith(_SCHEMES):
            raise ConfigurationError(
                f"{option} must be a redis://, rediss:// or unix:// URL or a redis.Redis "
                f"client, not {value!r}"
            )
        _import_redis(option)
        return value
    try:
        import redis
    except ImportError:
        redis = None  # type: ignore[assignment]
    if redis is None or not isinstance(value, redis.Redis):
        raise ConfigurationError(
            f"{option} must be a redis:// URL or a redis.Redis client, not {value!r}"
        )
    return value


def _import_redis(option: str) -> None:
    try:
        import redis  # noqa: F401
    except ImportError as error:
        raise ConfigurationError(
            f"{option} needs redis-py: pip install 'imageattach[redis]'"
        ) from error


def _check_ttl(option: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0.1
    ):
        raise ConfigurationError(f"{option} must be a number of seconds >= 0.1, not {value!r}")
    return float(value)


def _where(target: object) -> str:
    """Where Redis is, for messages: the URL without its password."""
    if isinstance(target, str):
        scheme, _, rest = target.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"
    pool = getattr(target, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", {})
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def resize_leases(
    resize_lock: object,
    *,
    where: str,
    ttl: object = None,
    prefix: object = None,
    fallback: object = None,
) -> RedisLeases | None:
    """The leases a store's ``resize_lock*`` options describe (``None``: no
    ``resize_lock``, the store keeps its file locks).  ``where`` names the
    store in the default key prefix (``imageattach:<where>``), so that two
    stores on one Redis do not share leases; the store takes
    :meth:`RedisLeases.namespace` of it for each kind of lock.

    :raises ConfigurationError: naming the option at fault.
    """
    if resize_lock is None:
        given = [
            name
            for name, value in (
                ("resize_lock_ttl", ttl),
                ("resize_lock_prefix", prefix),
                ("resize_lock_fallback", fallback),
            )
            if value is not None
        ]
        if given:
            raise ConfigurationError(f"{', '.join(given)} needs resize_lock=")
        return None
    if prefix is None:
        prefix = f"imageattach:{where}"
    return RedisLeases(
        resize_lock,
        prefix=prefix,  # type: ignore[arg-type]
        ttl=DEFAULT_TTL if ttl is None else ttl,  # type: ignore[arg-type]
        fallback="local" if fallback is None else fallback,  # type: ignore[arg-type]
    )
