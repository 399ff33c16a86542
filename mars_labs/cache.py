"""A Redis cache backend that degrades instead of failing.

``CACHE_URL=redis://...`` selects ``DegradingRedisCache`` (settings.py). When
Redis cannot be reached (down, restarting, a network split) every operation
behaves like a cache miss or a no-op: ``get`` returns the default, ``add``
reports "not stored", ``set`` and ``delete`` do nothing, ``incr`` raises
ValueError as for a missing key. Pages then render from the database, only
slower. The first failure logs one warning; after it the backend does not try
Redis again for ``RETRY_AFTER`` seconds, so a dead Redis costs a request no
connection attempts. The next success logs that Redis is back.
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("mars_labs.cache")

# Seconds to treat Redis as down after a connection failure before trying it again.
RETRY_AFTER = 5.0
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _degrading(fallback):
    """Run the operation; while Redis is unreachable, return ``fallback(*args)`` instead."""

    def decorator(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if self._down_until and time.monotonic() < self._down_until:
                return fallback(*args, **kwargs)
            try:
                result = method(self, *args, **kwargs)
            except UNREACHABLE as exc:
                self._went_down(exc)
                return fallback(*args, **kwargs)
            if self._down_until:
                self._down_until = 0.0
                logger.warning("Redis cache at %s is reachable again", self._location)
            return result

        return wrapper

    return decorator


def _miss(key, default=None, *args, **kwargs):
    return default


def _not_stored(*args, **kwargs):
    return False


def _nothing(*args, **kwargs):
    return None


def _empty_dict(*args, **kwargs):
    return {}


def _missing_key(key, *args, **kwargs):
    raise ValueError(f"Key '{key}' not found (the Redis cache is unreachable)")


def _stored_nothing(data, *args, **kwargs):
    return list(data)  # set_many: the keys that were not stored


def _counted_nothing(*args, **kwargs):
    return None


class ReusingRedisCacheClient(RedisCacheClient):
    """Django's client, keeping one ``redis.Redis`` per connection pool instead of building one per call.

    Django makes a new ``Redis`` object for every operation (its response-callback tables included):
    about a twentieth of a cached dashboard hit. A ``Redis`` over a pool is safe to share between
    threads; the pool still hands each command its own connection.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:  # as Django's _get_connection_pool, for this index
                self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
            client = self._clients[index] = self._client(connection_pool=self._pools[index])
        return client


class DegradingRedisCache(RedisCache):
    """Django's RedisCache, where an unreachable Redis means a miss (see the module docstring)."""

    def __init__(self, server, params):
        params = {**params, "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0,
                                        **params.get("OPTIONS", {})}}
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
        self._location = server if isinstance(server, str) else ",".join(server)
        self._down_until = 0.0

    def _went_down(self, exc):
        first = not self._down_until
        self._down_until = time.monotonic() + RETRY_AFTER
        if first:
            logger.warning("Redis cache at %s is unreachable (%s); serving without the cache", self._location, exc)

    @_degrading(_counted_nothing)
    def count(self, key, *, timeout, version=None):
        """Add 1 to the count under ``key`` and return it; a count not there yet starts at 1 and lives
        ``timeout`` seconds. None while Redis is unreachable.

        One round trip (MULTI: INCR, EXPIRE NX). Django's ``incr`` costs two (EXISTS, then INCRBY) and
        needs an ``add`` to start a count (a third): the API's rate limit counts every request, and those
        round trips were a seventh of a simulation event's time in a worker. The stored value is a
        plain integer, as Django's serializer writes one, so ``get`` and ``incr`` read it as before.
        """
        key = self.make_and_validate_key(key, version=version)
        client = self._cache.get_client(key, write=True)
        with client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, int(timeout), nx=True)  # only a count that has no expiry yet: the one just started
            count, _expiry_set = pipe.execute()
        return count

    add = _degrading(_not_stored)(RedisCache.add)
    get = _degrading(_miss)(RedisCache.get)
    set = _degrading(_nothing)(RedisCache.set)
    touch = _degrading(_not_stored)(RedisCache.touch)
    delete = _degrading(_not_stored)(RedisCache.delete)
    get_many = _degrading(_empty_dict)(RedisCache.get_many)
    has_key = _degrading(_not_stored)(RedisCache.has_key)
    incr = _degrading(_missing_key)(RedisCache.incr)
    set_many = _degrading(_stored_nothing)(RedisCache.set_many)
    delete_many = _degrading(_nothing)(RedisCache.delete_many)
    clear = _degrading(_not_stored)(RedisCache.clear)


def count(key, *, timeout, cache=None):
    """Add 1 to the count under ``key`` in ``cache`` (the default one) and return it; a count not there
    yet starts at 1 and lives ``timeout`` seconds. None when the cache cannot count (Redis unreachable).

    Redis: ``DegradingRedisCache.count``, one round trip. Any other cache: ``incr`` first (the count
    usually exists), ``add`` when it does not; both are atomic in local memory too, and ``add`` starts
    the count for one caller only.
    """
    cache = default_cache if cache is None else cache
    count_once = getattr(cache, "count", None)
    if count_once is not None:
        return count_once(key, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # no count yet: this call starts it
        if cache.add(key, 1, timeout=timeout):
            return 1
        try:  # another caller started it in between
            return cache.incr(key)
        except ValueError:
            return None
