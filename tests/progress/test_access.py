"""progress/access.py: get_step_for, hand-written in one statement, against the ORM rule it stands for
(``visible_chapters``), and what it hands back."""

import uuid

import pytest
from django.http import Http404

from curriculum import cache as curriculum_cache
from curriculum.models import LearningStep
from progress import access
from progress.access import get_step_for, visible_chapters
from tests.factories import ChapterFactory, StepFactory, SubjectFactory, TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_get_step_for_agrees_with_visible_chapters():
    chapters = [
        ChapterFactory(grade=12), ChapterFactory(grade=11), ChapterFactory(grade=None),
        ChapterFactory(grade=12, is_active=False), ChapterFactory(grade=None, is_active=False),
    ]
    steps = [StepFactory(chapter=chapter, order_index=1) for chapter in chapters]
    people = [UserFactory(grade=12), UserFactory(grade=11), UserFactory(grade=None), TeacherFactory(grade=None)]
    checked = 0
    for person in people:
        for step in steps:
            expected = LearningStep.objects.filter(pk=step.pk, chapter__in=visible_chapters(person)).exists()
            try:
                found = get_step_for(person, str(step.pk))
            except Http404:
                found = None
            assert (found is not None) == expected, (person, step.chapter)
            checked += 1
    assert checked == 20


def test_get_step_for_loads_the_step_chapter_and_subject_in_one_query(django_assert_num_queries):
    subject = SubjectFactory(code="chem", name="Chemistry", order=3)
    chapter = ChapterFactory(subject=subject, grade=12, title="Titration")
    step = StepFactory(chapter=chapter, order_index=1, title="Burette",
                       required_completion_criteria={"type": "manual"}, activity={"video_url": "/v.mp4"})
    learner = UserFactory(grade=12)

    with django_assert_num_queries(1):
        found = get_step_for(learner, step.pk)
        subject = found.chapter.subject
        assert (subject.code, subject.order, found.chapter.title) == ("chem", 3, "Titration")
        assert found.chapter.is_active is True
    expected = LearningStep.objects.get(pk=step.pk)
    for field in LearningStep._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert found.required_completion_criteria == {"type": "manual"}
    assert isinstance(found.pk, uuid.UUID)


def test_get_step_for_unknown_or_malformed_ids_are_404():
    learner = UserFactory(grade=12)
    with pytest.raises(Http404):
        get_step_for(learner, uuid.uuid4())
    with pytest.raises(Http404):
        get_step_for(learner, "not-a-uuid")


# --- the rows each process keeps (progress/access.py, keyed by the curriculum's version) ---------


def test_a_step_read_once_costs_no_query_the_next_time(django_assert_num_queries):
    step = StepFactory(chapter=ChapterFactory(grade=12), order_index=1, title="Burette")
    first, second = UserFactory(grade=12), UserFactory(grade=12)
    with django_assert_num_queries(1):
        get_step_for(first, step.pk)
    with django_assert_num_queries(0):
        found = get_step_for(second, str(step.pk))
    assert (found.pk, found.title, found.chapter.pk) == (step.pk, "Burette", step.chapter.pk)


def test_a_saved_change_shows_on_the_next_call():
    step = StepFactory(chapter=ChapterFactory(grade=12), order_index=1, title="Old")
    learner = UserFactory(grade=12)
    assert get_step_for(learner, step.pk).title == "Old"

    step.title = "New"
    step.save()  # as the admin does: a new curriculum version

    assert get_step_for(learner, step.pk).title == "New"


def test_who_may_see_the_step_is_decided_on_every_call(django_assert_num_queries):
    step = StepFactory(chapter=ChapterFactory(grade=11), order_index=1)
    get_step_for(TeacherFactory(grade=None), step.pk)  # staff read it first: the row is kept
    other_class, own_class = UserFactory(grade=12), UserFactory(grade=11)

    with django_assert_num_queries(0), pytest.raises(Http404):
        get_step_for(other_class, step.pk)
    with django_assert_num_queries(0):
        assert get_step_for(own_class, step.pk).pk == step.pk

    step.chapter.is_active = False
    step.chapter.save()
    with pytest.raises(Http404):
        get_step_for(own_class, step.pk)


def test_each_call_hands_back_new_instances():
    step = StepFactory(chapter=ChapterFactory(grade=12), order_index=1, title="Burette",
                       activity={"video_url": "/v.mp4"})
    learner = UserFactory(grade=12)
    found = get_step_for(learner, step.pk)
    found.title = "changed"
    found.activity["video_url"] = "/changed.mp4"
    found.chapter.title = "changed"

    again = get_step_for(learner, step.pk)

    assert again is not found
    assert (again.title, again.activity) == ("Burette", {"video_url": "/v.mp4"})
    assert again.chapter.title == step.chapter.title


def test_without_the_cache_every_call_reads_the_database(monkeypatch, django_assert_num_queries):
    step = StepFactory(chapter=ChapterFactory(grade=12), order_index=1)
    learner = UserFactory(grade=12)
    monkeypatch.setattr(curriculum_cache, "current_version", lambda: None)  # as mars_labs/cache.py makes an outage
    for _call in range(2):
        with django_assert_num_queries(1):
            get_step_for(learner, step.pk)


def test_a_change_behind_djangos_back_shows_after_the_max_age(settings, monkeypatch):
    settings.CURRICULUM_CACHE_SECONDS = 600
    step = StepFactory(chapter=ChapterFactory(grade=12), order_index=1, title="Old")
    learner = UserFactory(grade=12)
    now = [1_000_000_000.0]
    monkeypatch.setattr(access.time, "time", lambda: now[0])
    assert get_step_for(learner, step.pk).title == "Old"
    LearningStep.objects.filter(pk=step.pk).update(title="New")  # no signal: the version stays

    assert get_step_for(learner, step.pk).title == "Old"
    now[0] += 600
    assert get_step_for(learner, step.pk).title == "New"
