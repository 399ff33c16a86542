"""Shared by the performance guards: the machine's real Redis, when there is one."""

import os
import uuid

import pytest
from django.test import override_settings

REDIS_URL = os.environ.get("MARS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable():
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


def redis_caches(prefix):
    """CACHES as settings.py builds them for CACHE_URL=redis://..., with a key prefix of this test's own."""
    return {"default": {"BACKEND": "mars_labs.cache.DegradingRedisCache", "LOCATION": REDIS_URL,
                        "KEY_PREFIX": prefix}}


@pytest.fixture
def real_redis():
    """The default cache on the real Redis for this test (keys under a fresh prefix, removed after).

    Without a reachable Redis the test is skipped, but fails where Redis must be there (CI sets MARS_REQUIRE_E2E=1).
    """
    if not redis_reachable():
        message = f"no Redis at {REDIS_URL}"
        if os.environ.get("MARS_REQUIRE_E2E") == "1":
            pytest.fail(message + " (MARS_REQUIRE_E2E=1: CI must run the Redis tests)")
        pytest.skip(message)
    import redis

    prefix = f"mars-test-{uuid.uuid4().hex}"
    with override_settings(CACHES=redis_caches(prefix)):
        from curriculum import cache as curriculum_cache

        curriculum_cache.clear_local()
        yield prefix
        curriculum_cache.clear_local()
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
