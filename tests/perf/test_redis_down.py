"""Redis down while CACHE_URL points at it: pages still render from the database. Degrade, don't fail.

The cache points at a closed port on this machine (nothing listens there), so every Redis call is refused.
"""

import logging
import socket

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from curriculum import cache as curriculum_cache
from mars_labs.cache import DegradingRedisCache
from progress.enums import Status
from progress.models import LearningProgress
from tests.factories import SubjectFactory, make_chapter

pytestmark = pytest.mark.django_db

HOME = reverse("progress:home")


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down():
    url = f"redis://127.0.0.1:{closed_port()}/0"
    with override_settings(CACHES={"default": {"BACKEND": "mars_labs.cache.DegradingRedisCache", "LOCATION": url}}):
        curriculum_cache.clear_local()
        yield url
        curriculum_cache.clear_local()


def test_every_operation_is_a_miss_or_a_no_op(redis_down, caplog):
    backend = DegradingRedisCache(redis_down, {})

    with caplog.at_level(logging.WARNING, logger="mars_labs.cache"):
        assert backend.get("k") is None
        assert backend.get("k", "fallback") == "fallback"
        assert backend.add("k", 1) is False
        assert backend.set("k", 1) is None
        assert backend.get_many(["a", "b"]) == {}
        assert backend.has_key("k") is False
        assert backend.delete("k") is False
        assert backend.set_many({"a": 1}) == ["a"]
        with pytest.raises(ValueError):
            backend.incr("k")
        assert backend.count("k", timeout=5) is None

    warnings = [r for r in caplog.records if r.name == "mars_labs.cache"]
    assert len(warnings) == 1  # once per outage, not once per call
    assert "unreachable" in warnings[0].getMessage()


def test_after_a_failure_redis_is_not_tried_again_for_a_while(redis_down, monkeypatch):
    backend = DegradingRedisCache(redis_down, {})
    assert backend.get("k") is None
    calls = []
    monkeypatch.setattr(type(backend._cache), "get", lambda *args: calls.append(args))

    assert backend.get("k", "fallback") == "fallback"

    assert calls == []  # within RETRY_AFTER seconds no connection is attempted


def test_dashboard_renders_from_the_database(redis_down, learner, learner_client, django_assert_max_num_queries):
    subject = SubjectFactory(name="Physics", code="phy")
    chapter = make_chapter(steps=4, subject=subject, title="Ohm's Law")
    first, second = list(chapter.steps.order_by("order_index"))[:2]
    LearningProgress.objects.create(user=learner, step=first, status=Status.COMPLETED, completion_percentage=100,
                                    started_at=chapter.created_at, completed_at=chapter.created_at)
    learner_client.get(HOME)  # the first visit builds the learner's path

    # The curriculum is read from the database on every request (2 queries), never kept in memory:
    # with the shared version out of reach, a kept copy could be stale.
    with django_assert_max_num_queries(8):
        response = learner_client.get(HOME)

    assert response.status_code == 200
    dashboard = response.context["dashboard"]
    assert [card.subject.name for card in dashboard.subjects] == ["Physics"]
    assert dashboard.subjects[0].percentage == 25  # 1 of 4 steps
    assert dashboard.recommendations[0].step == second
    assert "Ohm" in response.content.decode()


def test_a_curriculum_edit_shows_at_once_while_redis_is_down(redis_down, learner, learner_client):
    chapter = make_chapter(steps=2, title="Ohm's Law")
    learner_client.get(HOME)
    chapter.title = "Ohm's Law, revised"
    chapter.save()

    assert "Ohm&#x27;s Law, revised" in learner_client.get(HOME).content.decode()


def test_api_rate_limit_and_token_touch_do_not_fail(redis_down, learner, learner_client):
    from api import ratelimit

    verdict = ratelimit.hit("someone", rate="2/minute")

    assert verdict.allowed  # no shared count to refuse from: the request goes through
    assert cache.get("anything") is None
