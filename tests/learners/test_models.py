"""learners models, and a readable __str__ for every model a teacher sees in the admin."""

import re

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.utils import timezone

from learners.enums import BackgroundLevel
from learners.models import UserProfile
from progress.enums import PathType, Status
from progress.models import PathRule
from tests.factories import (
    ChapterFactory,
    ClassroomFactory,
    LearningPathFactory,
    LearningProgressFactory,
    ProgressEventFactory,
    ProgressFactory,
    StepFactory,
    SubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


# --- UserProfile --------------------------------------------------------------------------


def test_profile_created_for_new_user():
    user = get_user_model().objects.create_user(username="ravi", password="a-long-password")

    assert UserProfile.objects.filter(user=user).count() == 1
    assert user.profile.user_id == user.pk


def test_profile_created_for_superuser():
    user = get_user_model().objects.create_superuser(username="admin", password="a-long-password")

    assert UserProfile.objects.filter(user=user).count() == 1


def test_profile_not_duplicated_when_user_saved_again():
    user = UserFactory()

    user.first_name = "Ravi"
    user.save()

    assert UserProfile.objects.filter(user=user).count() == 1
    assert UserProfile.objects.count() == 1


def test_profile_one_per_user_for_many_users():
    users = UserFactory.create_batch(3)

    assert UserProfile.objects.count() == 3
    assert set(UserProfile.objects.values_list("user_id", flat=True)) == {u.pk for u in users}


def test_profile_defaults_beginner_english_no_class():
    profile = UserFactory().profile

    assert profile.background_level == BackgroundLevel.BEGINNER == "beginner"
    assert profile.preferred_language == "en"
    assert profile.grade is None
    assert profile.learning_preferences == {}


def test_profile_deleted_with_user():
    user = UserFactory()

    user.delete()

    assert not UserProfile.objects.exists()


# --- __str__ of every model -------------------------------------------------------------------


def test_user_str_full_name():
    assert str(UserFactory(first_name="Asha", last_name="Verma")) == "Asha Verma"


def test_user_str_username_without_name():
    assert str(UserFactory(username="asha", first_name="", last_name="")) == "asha"


def test_profile_str_names_user():
    assert str(UserFactory(first_name="Asha", last_name="Verma").profile) == "Profile of Asha Verma"


def test_classroom_str_name():
    assert str(ClassroomFactory(name="Class 12 A")) == "Class 12 A"


def test_subject_str_name():
    assert str(SubjectFactory(code="phy", name="Physics")) == "Physics"


def test_chapter_str_subject_title_and_class():
    chapter = ChapterFactory(subject=SubjectFactory(code="phy"), title="Ohm's Law", grade=12)

    assert str(chapter) == "phy: Ohm's Law (class 12)"


def test_chapter_str_without_class():
    chapter = ChapterFactory(subject=SubjectFactory(code="phy"), title="Units", grade=None)

    assert str(chapter) == "phy: Units"


def test_step_str_chapter_and_title():
    step = StepFactory(chapter=ChapterFactory(title="Ohm's Law"), title="Procedure")

    assert str(step) == "Ohm's Law › Procedure"


def test_learning_progress_str_user_step_status():
    row = LearningProgressFactory(
        user=UserFactory(first_name="Asha", last_name="Verma"), status=Status.COMPLETED,
        completed_at=timezone.now(), completion_percentage=100,
    )

    assert str(row) == f"Asha Verma · {row.step_id} · completed"


def test_path_rule_str_names_level():
    assert str(PathRule.objects.get(background_level="intermediate")) == "Path rule for Intermediate learners"


def test_learning_path_str_name_type_user():
    path = LearningPathFactory(
        user=UserFactory(first_name="Asha", last_name="Verma"), name="Revision", path_type=PathType.REMEDIAL,
        chapter=ChapterFactory(),
    )

    assert str(path) == "Revision (Remedial) for Asha Verma"


def test_progress_document_str_number_and_user():
    document = ProgressFactory(user=UserFactory(first_name="Asha", last_name="Verma"))

    assert str(document) == f"MARS-labs document #{document.pk} for Asha Verma"


def test_progress_event_str_time_user_kind():
    event = ProgressEventFactory(user=UserFactory(first_name="Asha", last_name="Verma"), kind="completed")

    text = str(event)

    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d Asha Verma completed", text), text


def _session():
    from learners.models import Session
    from mars_labs.session_store import SessionStore

    store = SessionStore()
    store.create()
    return Session.objects.get(session_key=store.session_key)


STR_FACTORIES = {
    "learners.User": UserFactory,
    "learners.Session": _session,
    "learners.UserProfile": lambda: UserFactory().profile,
    "learners.Classroom": ClassroomFactory,
    "curriculum.Subject": SubjectFactory,
    "curriculum.Chapter": ChapterFactory,
    "curriculum.LearningStep": StepFactory,
    "progress.LearningProgress": LearningProgressFactory,
    "progress.LearningPath": LearningPathFactory,
    "progress.PathRule": lambda: PathRule.objects.get(background_level="advanced"),
    "progress.Progress": ProgressFactory,
    "progress.ProgressEvent": ProgressEventFactory,
}


def _app_models():
    return sorted(
        model._meta.label
        for label in ("learners", "curriculum", "progress")
        for model in apps.get_app_config(label).get_models()
    )


def test_str_covered_for_every_model():
    # A new model must get a readable __str__ and a line in STR_FACTORIES.
    assert _app_models() == sorted(STR_FACTORIES)


@pytest.mark.parametrize("label", sorted(STR_FACTORIES))
def test_str_not_django_default(label):
    obj = STR_FACTORIES[label]()

    text = str(obj)

    assert text.strip()
    assert "object (" not in text
