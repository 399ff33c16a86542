"""CACHE_URL=redis://127.0.0.1:6379/0 works: settings pick the degrading backend, and against the machine's
real Redis the cache stores, counts and serves the curriculum snapshot the dashboard reads."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from curriculum import cache as curriculum_cache
from mars_labs.cache import DegradingRedisCache
from tests.factories import make_chapter
from tests.test_settings import settings_after_start

pytestmark = pytest.mark.django_db


def test_settings_pick_the_degrading_backend_for_a_redis_url():
    caches = settings_after_start("CACHES", CACHE_URL="redis://127.0.0.1:6379/0")["CACHES"]

    assert caches["default"]["BACKEND"] == "mars_labs.cache.DegradingRedisCache"
    assert caches["default"]["LOCATION"] == "redis://127.0.0.1:6379/0"


def test_settings_keep_local_memory_by_default():
    caches = settings_after_start("CACHES")["CACHES"]

    assert caches["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_real_redis_stores_adds_and_counts(real_redis):
    from django.core.cache import caches

    assert isinstance(caches["default"], DegradingRedisCache)
    cache.set("greeting", {"hello": [1, 2]}, timeout=30)
    assert cache.get("greeting") == {"hello": [1, 2]}
    assert cache.add("counter", 1, timeout=30) is True
    assert cache.add("counter", 5, timeout=30) is False  # add() never overwrites: the rate limiter relies on it
    assert cache.incr("counter") == 2
    cache.delete("greeting")
    assert cache.get("greeting", "gone") == "gone"


@pytest.fixture
def sent(real_redis, monkeypatch):
    """What this test sends to Redis from now on, one entry per round trip."""
    import redis

    cache.get("warm-up")  # the connection's own set-up (HELLO, CLIENT ...) is not what is counted
    sent = []
    real_send = redis.connection.AbstractConnection.send_packed_command
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command",
                        lambda self, command, *a, **kw: sent.append(command) or real_send(self, command, *a, **kw))
    return sent


def test_real_redis_counts_in_one_round_trip_and_expires_the_count(sent):
    import redis
    from django.core.cache import caches

    assert [cache.count("hits", timeout=30) for _ in range(3)] == [1, 2, 3]
    assert len(sent) == 3  # one round trip each, the first (which starts the count) included
    client = redis.Redis.from_url(caches["default"]._servers[0])
    key = cache.make_and_validate_key("hits")
    assert 0 < client.ttl(key) <= 30  # the count expires: windows do not pile up in Redis
    client.expire(key, 500)
    cache.count("hits", timeout=30)
    assert client.ttl(key) > 30  # a running count keeps the expiry its window started with
    assert cache.get("hits") == 4 and cache.incr("hits") == 5  # Django's own calls read the same integer


def test_api_rate_limit_on_real_redis_counts_once_per_request_and_refuses_over_the_limit(sent):
    from api import ratelimit

    now = 60 * 16_666_667 + 10.0  # 10 s into a minute
    verdicts = [ratelimit.hit("token:7", rate="2/minute", now=now) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert [v.remaining for v in verdicts] == [1, 0, 0]
    assert verdicts[2].retry_after == 50
    assert len(sent) == 3  # one Redis round trip per request
    assert ratelimit.hit("token:7", rate="2/minute", now=now + 60).allowed  # the next window starts again
    assert ratelimit.hit("token:8", rate="2/minute", now=now).allowed  # another caller has its own count


def test_dashboard_reads_the_curriculum_snapshot_from_redis(real_redis, learner, learner_client):
    chapter = make_chapter(steps=3, title="Ohm's Law")
    import redis

    from tests.perf.conftest import REDIS_URL

    response = learner_client.get(reverse("progress:home"))

    assert response.status_code == 200
    assert "Ohm" in response.content.decode()
    version = cache.get(curriculum_cache.version_key())
    assert version
    # Pickled in Redis, for every app process; keyed by database so two sites sharing a Redis never swap.
    stored = cache.get(f"curriculum:{curriculum_cache.database_tag()}:{version}:12")
    assert [c.title for c in stored.curriculum_chapters] == ["Ohm's Law"]
    assert [s.chapter_id for s in stored.steps] == [chapter.pk] * 3
    raw = redis.Redis.from_url(REDIS_URL)
    assert raw.exists(f"{real_redis}:1:curriculum:{curriculum_cache.database_tag()}:{version}:12")


def test_a_learners_dashboard_rendered_once_serves_every_client_through_redis(real_redis, client, learner):
    """Two browsers (or two app processes: the cache and the version are shared) get one rendering."""
    import redis

    from tests.perf.conftest import REDIS_URL

    make_chapter(steps=3, title="Ohm's Law")
    first, second = client, client.__class__()
    first.force_login(learner)
    second.force_login(learner)
    first.get(reverse("progress:home"))  # builds the learner's path: a new progress version

    rendered = first.get(reverse("progress:home"))
    served = second.get(reverse("progress:home"))

    assert "dashboard" in rendered.context and served.context is None  # the second: the stored page
    assert "Ohm" in served.content.decode()
    raw = redis.Redis.from_url(REDIS_URL)
    keys = [k.decode() for k in raw.scan_iter(f"{real_redis}:1:page:dashboard:*")]
    assert len(keys) == 2 and all(f":{learner.pk}:" in k for k in keys)  # the first visit's, and this one
    assert all(len(raw.get(k)) < 4000 for k in keys)  # stored compressed
