"""The database itself refuses rows that break MARS Labs' rules.

No ``full_clean()`` here: these writes go straight to the database (create,
bulk_create, QuerySet.update), as a buggy import or a raw UPDATE would, and
must still be refused. Each refusal names its constraint (PostgreSQL) or its
columns (SQLite), so a test cannot pass on some unrelated IntegrityError.
"""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from curriculum.models import Chapter, LearningStep
from learners.models import UserProfile
from progress.enums import Status
from progress.models import LearningProgress
from tests.factories import ChapterFactory, StepFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def assert_refused(write, *, constraint, columns=()):
    """Run ``write`` in a savepoint and check the database refused it for the named reason.

    PostgreSQL names the violated constraint; SQLite names a CHECK constraint
    but reports a unique index by its columns instead.
    """
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        write()
    message = str(excinfo.value)
    if connection.vendor == "sqlite" and columns:
        for column in columns:
            assert column in message, message
    else:
        assert constraint in message, message


# --- LearningProgress -----------------------------------------------------------


def test_learning_progress_duplicate_user_step_refused():
    row = LearningProgress.objects.create(user=UserFactory(), step=StepFactory())

    assert_refused(
        lambda: LearningProgress.objects.create(user=row.user, step=row.step),
        constraint="progress_one_row_per_user_step",
        columns=("user_id", "step_id"),
    )
    assert LearningProgress.objects.filter(user=row.user, step=row.step).count() == 1


def test_learning_progress_duplicate_user_step_refused_in_bulk_create():
    user, step = UserFactory(), StepFactory()

    assert_refused(
        lambda: LearningProgress.objects.bulk_create(
            [LearningProgress(user=user, step=step), LearningProgress(user=user, step=step)]
        ),
        constraint="progress_one_row_per_user_step",
        columns=("user_id", "step_id"),
    )
    assert not LearningProgress.objects.exists()


def test_learning_progress_completed_at_with_in_progress_status_refused():
    assert_refused(
        lambda: LearningProgress.objects.create(
            user=UserFactory(), step=StepFactory(), status=Status.IN_PROGRESS, completed_at=timezone.now()
        ),
        constraint="progress_completed_at_iff_completed",
    )


def test_learning_progress_completed_without_completed_at_refused():
    assert_refused(
        lambda: LearningProgress.objects.create(
            user=UserFactory(), step=StepFactory(), status=Status.COMPLETED, completed_at=None
        ),
        constraint="progress_completed_at_iff_completed",
    )


def test_learning_progress_update_to_completed_without_completed_at_refused():
    row = LearningProgress.objects.create(user=UserFactory(), step=StepFactory(), status=Status.IN_PROGRESS)

    assert_refused(
        lambda: LearningProgress.objects.filter(pk=row.pk).update(status=Status.COMPLETED),
        constraint="progress_completed_at_iff_completed",
    )
    row.refresh_from_db()
    assert row.status == Status.IN_PROGRESS


def test_learning_progress_completed_with_completed_at_accepted():
    row = LearningProgress.objects.create(
        user=UserFactory(), step=StepFactory(), status=Status.COMPLETED, completed_at=timezone.now(),
        completion_percentage=100,
    )

    assert LearningProgress.objects.get(pk=row.pk).status == Status.COMPLETED


def test_learning_progress_percentage_101_refused():
    assert_refused(
        lambda: LearningProgress.objects.create(user=UserFactory(), step=StepFactory(), completion_percentage=101),
        constraint="progress_percentage_0_to_100",
    )


def test_learning_progress_percentage_update_to_101_refused():
    row = LearningProgress.objects.create(user=UserFactory(), step=StepFactory(), completion_percentage=100)

    assert_refused(
        lambda: LearningProgress.objects.filter(pk=row.pk).update(completion_percentage=101),
        constraint="progress_percentage_0_to_100",
    )
    row.refresh_from_db()
    assert row.completion_percentage == 100


def test_learning_progress_unknown_status_refused():
    assert_refused(
        lambda: LearningProgress.objects.create(user=UserFactory(), step=StepFactory(), status="finished"),
        constraint="progress_status_valid",
    )


# --- LearningStep ----------------------------------------------------------------


def test_step_duplicate_order_index_in_chapter_refused():
    chapter = ChapterFactory()
    StepFactory(chapter=chapter, order_index=1)

    assert_refused(
        lambda: LearningStep.objects.create(chapter=chapter, title="Again", step_type="reading", order_index=1),
        constraint="step_order_unique_in_chapter",
        columns=("chapter_id", "order_index"),
    )


def test_step_same_order_index_in_other_chapter_accepted():
    StepFactory(chapter=ChapterFactory(), order_index=1)

    step = LearningStep.objects.create(chapter=ChapterFactory(), title="First", step_type="reading", order_index=1)

    assert LearningStep.objects.filter(order_index=1).count() == 2
    assert step.pk


def test_step_own_prerequisite_refused():
    step = StepFactory()

    assert_refused(
        lambda: LearningStep.objects.filter(pk=step.pk).update(prerequisite_step=step),
        constraint="step_not_own_prerequisite",
    )


def test_step_unknown_type_refused():
    assert_refused(
        lambda: LearningStep.objects.create(chapter=ChapterFactory(), title="X", step_type="dance", order_index=1),
        constraint="step_type_valid",
    )


# --- Chapter: one textbook per (subject, grade) ---------------------------------------


def _chapter(subject, *, grade, title, order_index):
    # Chapter.save() gives each chapter its own slug, so only the constraint under test can fail.
    return Chapter.objects.create(
        subject=subject, grade=grade, title=title, order_index=order_index, description="About it."
    )


@pytest.mark.parametrize(
    ("grade", "constraint"),
    [(12, "chapter_title_unique_in_textbook"), (None, "chapter_title_unique_no_grade")],
)
def test_chapter_duplicate_title_in_textbook_refused(grade, constraint):
    subject = SubjectFactory(code="phy")
    _chapter(subject, grade=grade, title="Ohm's Law", order_index=1)

    assert_refused(
        lambda: _chapter(subject, grade=grade, title="Ohm's Law", order_index=2),
        constraint=constraint,
        columns=("subject_id", "title"),
    )


@pytest.mark.parametrize(
    ("grade", "constraint"),
    [(12, "chapter_order_unique_in_textbook"), (None, "chapter_order_unique_no_grade")],
)
def test_chapter_duplicate_order_in_textbook_refused(grade, constraint):
    subject = SubjectFactory(code="phy")
    _chapter(subject, grade=grade, title="Ohm's Law", order_index=1)

    assert_refused(
        lambda: _chapter(subject, grade=grade, title="Kirchhoff's Laws", order_index=1),
        constraint=constraint,
        columns=("subject_id", "order_index"),
    )


@pytest.mark.parametrize(("first_grade", "second_grade"), [(11, 12), (None, 12), (12, None)])
def test_chapter_same_title_and_order_in_other_grade_accepted(first_grade, second_grade):
    subject = SubjectFactory(code="phy")
    _chapter(subject, grade=first_grade, title="Ohm's Law", order_index=1)

    _chapter(subject, grade=second_grade, title="Ohm's Law", order_index=1)

    assert Chapter.objects.filter(subject=subject, title="Ohm's Law").count() == 2


def test_chapter_same_title_in_other_subject_accepted():
    _chapter(SubjectFactory(code="phy"), grade=12, title="Measurement", order_index=1)

    _chapter(SubjectFactory(code="chem"), grade=12, title="Measurement", order_index=1)

    assert Chapter.objects.filter(title="Measurement").count() == 2


def test_chapter_duplicate_title_refused_by_update():
    subject = SubjectFactory(code="phy")
    _chapter(subject, grade=12, title="Ohm's Law", order_index=1)
    other = _chapter(subject, grade=12, title="Kirchhoff's Laws", order_index=2)

    assert_refused(
        lambda: Chapter.objects.filter(pk=other.pk).update(title="Ohm's Law"),
        constraint="chapter_title_unique_in_textbook",
        columns=("subject_id", "title"),
    )


def test_chapter_grade_13_refused():
    assert_refused(
        lambda: _chapter(SubjectFactory(), grade=13, title="Beyond school", order_index=1),
        constraint="chapter_grade_1_to_12",
    )


def test_chapter_own_prerequisite_refused():
    chapter = ChapterFactory()

    assert_refused(
        lambda: Chapter.objects.filter(pk=chapter.pk).update(prerequisite_chapter=chapter),
        constraint="chapter_not_own_prerequisite",
    )


# --- learners ------------------------------------------------------------------------


def test_profile_grade_13_refused():
    user = UserFactory()

    assert_refused(
        lambda: UserProfile.objects.filter(user=user).update(grade=13),
        constraint="profile_grade_1_to_12",
    )
    user.profile.refresh_from_db()
    assert user.profile.grade is None


@pytest.mark.parametrize("grade", [1, 12, None])
def test_profile_grade_in_range_accepted(grade):
    user = UserFactory()

    UserProfile.objects.filter(user=user).update(grade=grade)

    user.profile.refresh_from_db()
    assert user.profile.grade == grade


def test_profile_unknown_background_level_refused():
    user = UserFactory()

    assert_refused(
        lambda: UserProfile.objects.filter(user=user).update(background_level="expert"),
        constraint="profile_background_level_valid",
    )
