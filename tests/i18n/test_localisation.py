"""Dates and stored messages are shown in the reader's language."""

import datetime

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from mars_labs.i18n import retranslate
from progress import engine
from progress.models import LearningProgress
from tests.factories import UserFactory, make_chapter

pytestmark = pytest.mark.django_db


def test_hindi_dates_use_hindi_month_and_day_names():
    with translation.override("hi"):
        rendered = Template('{{ day|date:"l j F" }}').render(Context({"day": datetime.date(2026, 11, 22)}))
    assert rendered == "रविवार 22 नवमबर"  # Django's Hindi catalogue spells November this way


def test_dashboard_activity_chart_is_in_hindi(client):
    learner = UserFactory(grade=12)
    learner.profile.preferred_language = "hi"
    learner.profile.save(update_fields=["preferred_language"])
    client.force_login(learner)

    html = client.get(reverse("progress:home")).content.decode()

    today = timezone.localdate()
    with translation.override("hi"):
        hindi_month = Template('{{ d|date:"F" }}').render(Context({"d": today}))
    assert hindi_month in html
    with translation.override("en"):
        assert Template('{{ d|date:"F" }}').render(Context({"d": today})) not in html


@pytest.mark.parametrize(
    ("stored", "hindi"),
    [
        ("not yet: 12 of 30 seconds", "अभी नहीं: 30 में से 12 सेकंड"),
        ("score 55 < 70", "अंक 55 < 70"),
        ("locked: finish 'Procedure' first", "बंद: पहले 'Procedure' पूरा करें"),
        ("Your path for class 12", "कक्षा 12 के लिए आपका पथ"),
        ("Personalized for Advanced learners.", "उन्नत शिक्षार्थियों के लिए व्यक्तिगत।"),
        ("Did the experiment in the school lab.", "Did the experiment in the school lab."),  # a teacher's own words
        ("", ""),
    ],
)
def test_stored_messages_are_shown_in_hindi(stored, hindi):
    with translation.override("hi"):
        assert retranslate(stored) == hindi


def test_a_message_stored_in_hindi_is_shown_in_english():
    with translation.override("en"):
        assert retranslate("अभी नहीं: 30 में से 12 सेकंड") == "not yet: 12 of 30 seconds"


def test_chapter_page_shows_the_stored_verdict_in_hindi(client):
    chapter = make_chapter(steps=2)
    learner = UserFactory(grade=12)
    step = chapter.steps.order_by("order_index").first()
    step.required_completion_criteria = {"type": "time", "value": 30}
    step.save()
    opened = timezone.now() - datetime.timedelta(seconds=20)
    with translation.override("en"):  # as an operator command or an English session would store it
        engine.open_step(learner=learner, step=step, now=opened)
        engine.record_active_time(learner=learner, step=step, seconds=12, now=opened + datetime.timedelta(seconds=12))
    stored = LearningProgress.objects.get(user=learner, step=step).progress_data["reason"]
    assert stored == "not yet: 12 of 30 seconds"
    learner.profile.preferred_language = "hi"
    learner.profile.save(update_fields=["preferred_language"])
    client.force_login(learner)

    html = client.get(chapter.get_absolute_url()).content.decode()

    assert "30 में से 12 सेकंड" in html
    assert "12 of 30 seconds" not in html


def test_a_verdict_stored_in_hindi_reads_in_english_on_the_teachers_report(client):
    from learners.roles import apply_teacher_role
    from tests.factories import ClassroomFactory, TeacherFactory

    chapter = make_chapter(steps=2)
    step = chapter.steps.order_by("order_index").first()
    step.required_completion_criteria = {"type": "time", "value": 30}
    step.save()
    learner = UserFactory(grade=12)
    opened = timezone.now() - datetime.timedelta(seconds=20)
    with translation.override("hi"):  # the learner's own (Hindi) request stored it
        engine.open_step(learner=learner, step=step, now=opened)
        engine.record_active_time(learner=learner, step=step, seconds=12, now=opened + datetime.timedelta(seconds=12))
    assert LearningProgress.objects.get(user=learner, step=step).progress_data["reason"] == "अभी नहीं: 30 में से 12 सेकंड"
    group, *_ = apply_teacher_role()
    teacher = TeacherFactory()
    teacher.groups.add(group)
    classroom = ClassroomFactory(grade=12)
    classroom.teachers.add(teacher)
    classroom.learners.add(learner)
    client.force_login(teacher)

    html = client.get(reverse("reports:learner", args=[learner.pk])).content.decode()

    assert "not yet: 12 of 30 seconds" in html
    assert "सेकंड" not in html
