"""Curriculum content keeps its language; the dashboard marks what is not in the learner's language."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from curriculum.models import Chapter, Subject
from tests.factories import ChapterFactory, StepFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def learner_in(language):
    learner = UserFactory(grade=12)
    learner.profile.preferred_language = language
    learner.profile.save(update_fields=["preferred_language"])
    return learner


def markers(html):
    """The language codes of the "written in ..." markers on a page."""
    return re.findall(r'data-content-language="([^"]+)"', html)


@pytest.fixture
def two_subjects():
    english = SubjectFactory(code="phy", name="Physics")  # no language: the site default, English
    hindi = SubjectFactory(code="hin", name="हिन्दी व्याकरण", language="hi")
    for subject in (english, hindi):
        chapter = ChapterFactory(subject=subject)
        StepFactory(chapter=chapter, order_index=1)
    return english, hindi


def test_content_language_defaults_to_the_subject_then_english(two_subjects):
    english, hindi = two_subjects
    assert english.content_language == "en"
    assert hindi.chapters.get().content_language == "hi"
    marathi = ChapterFactory(subject=hindi, language="mr")
    assert marathi.content_language == "mr"


def test_dashboard_marks_english_content_for_a_hindi_learner(client, two_subjects):
    client.force_login(learner_in("hi"))

    html = client.get(reverse("progress:home")).content.decode()

    assert "phy" in html and "hin" in html  # the dashboard shows everything ...
    assert set(markers(html)) == {"en"}  # ... and marks what is not in Hindi
    assert "अंग्रेज़ी" in html  # "English", named in the learner's language
    assert 'lang="en"' in html  # the English content is marked up as English


def test_dashboard_marks_hindi_content_for_an_english_learner(client, two_subjects):
    client.force_login(learner_in("en"))

    html = client.get(reverse("progress:home")).content.decode()

    assert set(markers(html)) == {"hi"}
    assert "Written in Hindi" in html


def test_no_marker_when_everything_is_in_the_learner_language(client):
    chapter = ChapterFactory(subject=SubjectFactory(code="phy"))
    StepFactory(chapter=chapter, order_index=1)
    client.force_login(learner_in("en"))

    assert markers(client.get(reverse("progress:home")).content.decode()) == []


def test_subject_chapter_and_step_pages_mark_other_language_content(client, two_subjects):
    english, _hindi = two_subjects
    chapter = english.chapters.get()
    client.force_login(learner_in("hi"))

    for url in (english.get_absolute_url(), chapter.get_absolute_url(), chapter.steps.get().get_absolute_url()):
        html = client.get(url).content.decode()
        assert "en" in markers(html), url


def test_language_code_is_validated():
    subject = Subject(code="phy", name="Physics", language="English")
    with pytest.raises(ValidationError) as error:
        subject.full_clean()
    assert "language" in error.value.message_dict
    Subject(code="chem", name="Chemistry", language="hi").full_clean()
    Subject(code="bio", name="Biology", language="").full_clean()


def test_admin_edits_the_language(client, two_subjects):
    from tests.factories import TeacherFactory

    admin = TeacherFactory(is_superuser=True)
    client.force_login(admin)
    english, _hindi = two_subjects

    chapter_form = client.get(reverse("admin:curriculum_chapter_change", args=[english.chapters.get().pk]))
    subject_list = client.get(reverse("admin:curriculum_subject_changelist"))

    assert 'name="language"' in chapter_form.content.decode()
    assert subject_list.status_code == 200


def test_chapter_language_is_optional_in_the_database():
    chapter = ChapterFactory()
    assert Chapter.objects.get(pk=chapter.pk).language == ""
