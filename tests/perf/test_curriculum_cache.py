"""The cached curriculum (curriculum/cache.py) is never stale: a teacher's admin edit, an admin bulk action, an
import or another app process's change shows on the next dashboard; unchanged, it costs no query."""

import uuid

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from curriculum import cache as curriculum_cache
from curriculum.importer import import_curriculum
from curriculum.models import Chapter
from mars_labs.cache import DegradingRedisCache
from tests.admin import make_teacher
from tests.admin.test_curriculum_admin import change_url, form_data
from tests.factories import SubjectFactory, make_chapter
from tests.perf.conftest import REDIS_URL

pytestmark = pytest.mark.django_db

HOME = reverse("progress:home")


def dashboard_html(client):
    response = client.get(HOME)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def teacher_client():
    client = Client()
    client.force_login(make_teacher(username="tara"))
    return client


def test_an_unchanged_curriculum_costs_no_query(learner, django_assert_num_queries):
    make_chapter(steps=3, title="Ohm's Law")
    first = curriculum_cache.snapshot(12)

    with django_assert_num_queries(0):
        again = curriculum_cache.snapshot(12)

    assert again is first
    assert [c.title for c in again.curriculum_chapters] == ["Ohm's Law"]
    assert [c.steps_total for c in again.curriculum_chapters] == [3]


def test_chapter_title_edited_in_the_admin_shows_on_the_next_dashboard(learner, learner_client, teacher_client):
    chapter = make_chapter(steps=2, title="Ohm's Law")
    assert "Ohm&#x27;s Law" in dashboard_html(learner_client)  # now cached

    data = form_data(teacher_client.get(change_url(chapter)))
    data["title"] = "Ohm's Law and Resistance"
    assert teacher_client.post(change_url(chapter), data).status_code == 302

    assert "Ohm&#x27;s Law and Resistance" in dashboard_html(learner_client)


def test_chapters_hidden_by_the_admin_action_leave_the_dashboard(learner, learner_client, teacher_client):
    subject = SubjectFactory(name="Physics")
    kept = make_chapter(steps=2, subject=subject, title="Kept chapter")
    hidden = make_chapter(steps=2, subject=subject, title="Hidden chapter")
    dashboard_html(learner_client)  # the curriculum is cached now
    assert learner_client.get(HOME).context["dashboard"].subjects[0].rollup.chapters_total == 2

    teacher_client.post(reverse("admin:curriculum_chapter_changelist"),
                        {"action": "deactivate", ACTION_CHECKBOX_NAME: [hidden.pk]})  # a QuerySet.update

    rollup = learner_client.get(HOME).context["dashboard"].subjects[0].rollup
    assert rollup.chapters_total == 1
    assert rollup.steps_total == 2
    assert kept.is_active


def test_an_import_invalidates_the_cache(learner, learner_client):
    dashboard_html(learner_client)
    before = cache.get(curriculum_cache.version_key())

    import_curriculum({"format": "mars-labs-curriculum", "version": 1, "subjects": [{
        "code": "phy", "name": "Physics", "chapters": [{
            "title": "Imported chapter", "grade": 12, "order_index": 1, "description": "d",
            "steps": [{"title": "Read", "step_type": "reading", "order_index": 1}],
        }],
    }]})

    assert cache.get(curriculum_cache.version_key()) != before
    assert "Imported chapter" in dashboard_html(learner_client)


def test_the_version_is_bumped_again_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        make_chapter(steps=1)
        during = cache.get(curriculum_cache.version_key())
    # A process that read the new version before the commit may have built from old rows: bump once more.
    assert callbacks
    assert cache.get(curriculum_cache.version_key()) not in (None, during)


@override_settings(CURRICULUM_CACHE_SECONDS=0)
def test_a_snapshot_is_not_kept_past_its_age(learner, django_assert_num_queries):
    make_chapter(steps=1, title="Old title")
    curriculum_cache.snapshot(12)
    Chapter.objects.update(title="Changed behind Django's back")  # no signal

    with django_assert_num_queries(2):
        fresh = curriculum_cache.snapshot(12)

    assert [c.title for c in fresh.curriculum_chapters] == ["Changed behind Django's back"]


def test_two_processes_sharing_redis_see_one_invalidation(real_redis, learner, django_assert_num_queries):
    """Process A keeps a snapshot in its memory; process B (another app server, its own cache client) bumps
    the version in Redis; A's next read rebuilds. And B reads A's snapshot from Redis without a query."""
    chapter = make_chapter(steps=2, title="Ohm's Law")
    process_a = curriculum_cache.snapshot(12)
    memory_a = dict(curriculum_cache._local)

    # Process B: a fresh memory, the same Redis. It reads the snapshot A stored, not the database.
    curriculum_cache._local.clear()
    with django_assert_num_queries(0):
        process_b = curriculum_cache.snapshot(12)
    assert process_b is not process_a
    assert [c.title for c in process_b.curriculum_chapters] == ["Ohm's Law"]

    # B changes the curriculum without A hearing a signal, and bumps the version with its own client.
    Chapter.objects.filter(pk=chapter.pk).update(title="Ohm's Law, revised")
    client_b = DegradingRedisCache(REDIS_URL, {"KEY_PREFIX": real_redis})
    client_b.set(curriculum_cache.version_key(), uuid.uuid4().hex, timeout=None)

    # Back in process A, with its own memory: the version moved, so it rebuilds.
    curriculum_cache._local.clear()
    curriculum_cache._local.update(memory_a)
    rebuilt = curriculum_cache.snapshot(12)
    assert rebuilt is not process_a
    assert [c.title for c in rebuilt.curriculum_chapters] == ["Ohm's Law, revised"]


@override_settings(CURRICULUM_CACHE_SECONDS=60)
def test_an_aged_snapshot_is_rebuilt_by_one_process_while_the_others_serve_theirs(learner, django_assert_num_queries,
                                                                                 monkeypatch):
    make_chapter(steps=1, title="Old title")
    mine = curriculum_cache.snapshot(12)
    Chapter.objects.update(title="Changed behind Django's back")  # no signal: only the age shows it
    later = mine.built_at + 61
    monkeypatch.setattr(curriculum_cache.time, "time", lambda: later)
    key = f"curriculum:{curriculum_cache.database_tag()}:{mine.version}:12"
    cache.delete(key)  # aged out of the shared cache too

    # Another process holds the right to rebuild it: this one serves its own copy, without a query.
    cache.add(f"{key}:rebuilding", 4242, timeout=60)
    with django_assert_num_queries(0):
        assert curriculum_cache.snapshot(12) is mine

    # Nobody is rebuilding (the other finished or died and its claim expired): this one rebuilds, and lets go.
    cache.delete(f"{key}:rebuilding")
    with django_assert_num_queries(2):
        fresh = curriculum_cache.snapshot(12)
    assert [c.title for c in fresh.curriculum_chapters] == ["Changed behind Django's back"]
    assert cache.get(f"{key}:rebuilding") is None
    assert cache.get(key).built_at == fresh.built_at  # shared: the other processes take it from here


def test_a_process_with_no_copy_builds_one_even_while_another_rebuilds(learner, django_assert_num_queries):
    make_chapter(steps=1, title="Ohm's Law")
    version = curriculum_cache.current_version()
    key = f"curriculum:{curriculum_cache.database_tag()}:{version}:12"
    cache.add(f"{key}:rebuilding", 4242, timeout=60)
    curriculum_cache._local.clear()
    with django_assert_num_queries(2):
        built = curriculum_cache.snapshot(12)
    assert [c.title for c in built.curriculum_chapters] == ["Ohm's Law"]
