"""progress/access.py: get_step_for, hand-written in one statement, against the ORM rule it stands for
(``visible_chapters``), and what it hands back."""

import uuid

import pytest
from django.http import Http404

from curriculum.models import LearningStep
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
