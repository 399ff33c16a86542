"""manage.py check_curriculum: loops, unreachable steps, invalid JSON, empty quizzes and chapters, gaps."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curriculum.enums import StepType
from curriculum.importer import DEMO_CURRICULUM_PATH, import_curriculum, load_curriculum_file
from curriculum.models import Chapter, LearningStep
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, SubjectFactory, make_chapter

pytestmark = pytest.mark.django_db


def check():
    """Run the command; return (output, error message or None)."""
    out = StringIO()
    try:
        call_command("check_curriculum", stdout=out, stderr=StringIO())
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def errors(output):
    return [line for line in output.splitlines() if line.startswith("ERROR")]


def test_demo_curriculum_is_sound():
    import_curriculum(load_curriculum_file(DEMO_CURRICULUM_PATH))

    out, error = check()

    assert error is None
    assert out.strip() == "The curriculum is sound: 0 errors and 0 warnings in 11 chapters and 49 steps."


def test_prerequisite_step_later_in_its_chapter_is_unreachable():
    chapter = make_chapter(steps=4, title="Ohm's Law", subject=SubjectFactory(code="phy"))
    LearningStep.objects.filter(chapter=chapter, order_index=2).update(
        prerequisite_step=LearningStep.objects.get(chapter=chapter, order_index=4)
    )

    out, error = check()

    assert error == ("The curriculum has problems: 1 errors and 0 warnings in 1 chapters and 4 steps.")
    assert errors(out) == [
        "ERROR: phy class 12 'Ohm's Law' › 'Step 2': unreachable (and the 2 steps after it): its prerequisite step "
        "'Step 4' comes later in the chapter, and steps open in order"
    ]


def test_prerequisite_step_in_inactive_chapter_is_unreachable_but_inactive_prerequisite_chapter_is_not():
    subject = SubjectFactory(code="phy")
    retired = make_chapter(steps=2, subject=subject, title="Retired", is_active=False)
    after_retired = make_chapter(steps=2, subject=subject, title="After", prerequisite_chapter=retired)
    needs_retired_step = make_chapter(steps=2, subject=subject, title="Needs")
    LearningStep.objects.filter(chapter=needs_retired_step, order_index=1).update(
        prerequisite_step=retired.steps.get(order_index=2)
    )

    out, error = check()

    assert error is not None
    assert errors(out) == [
        "ERROR: phy class 12 'Needs' › 'Step 1': unreachable (and the 1 steps after it): its prerequisite step "
        "phy class 12 'Retired' › 'Step 2' is in an inactive chapter"
    ]
    assert "'After'" not in out  # a retired prerequisite chapter counts as done (engine.chapter_states)
    assert after_retired.is_active


def test_prerequisite_loops_are_errors_and_what_waits_on_them_is_unreachable():
    subject = SubjectFactory(code="chem")
    a = make_chapter(steps=1, subject=subject, title="Moles")
    b = make_chapter(steps=1, subject=subject, title="Titration", prerequisite_chapter=a)
    Chapter.objects.filter(pk=a.pk).update(prerequisite_chapter=b)
    make_chapter(steps=1, subject=subject, title="Salts", prerequisite_chapter=b)

    out, error = check()

    assert error is not None
    lines = errors(out)
    assert any("prerequisites form a loop" in line and "Moles" in line for line in lines)
    assert "ERROR: chem class 12 'Salts': unreachable: its prerequisite chapter chem class 12 'Titration' can " \
           "never be finished" in lines


def test_invalid_criteria_and_activity_are_errors():
    chapter = make_chapter(steps=2, subject=SubjectFactory(code="phy"), title="Optics")
    LearningStep.objects.filter(chapter=chapter, order_index=1).update(
        required_completion_criteria={"type": "time", "value": -5}
    )
    LearningStep.objects.filter(chapter=chapter, order_index=2).update(activity={"video_url": "ftp://x"})

    out, error = check()

    assert error is not None
    assert any("'Step 1': criteria: Time cannot be negative" in line for line in errors(out))
    assert any("'Step 2': activity.video_url: must start with http" in line for line in errors(out))


def test_quiz_without_questions_warns_when_external_and_errs_otherwise():
    chapter = make_chapter(steps=0, subject=SubjectFactory(code="phy"), title="Lenses")
    QuizStepFactory(chapter=chapter, order_index=1, title="Viva Voce", activity={},
                    required_completion_criteria={"type": "external"})
    QuizStepFactory(chapter=chapter, order_index=2, title="Check", activity={},
                    required_completion_criteria={"type": "view"})

    out, error = check()

    assert "warning: phy class 12 'Lenses' › 'Viva Voce': quiz step without questions" in out
    assert errors(out) == [
        "ERROR: phy class 12 'Lenses' › 'Check': quiz step without questions: learners see an empty quiz"
    ]
    assert error is not None


def test_warnings_alone_exit_zero_gaps_empty_chapters_duplicate_titles():
    subject = SubjectFactory(code="math")
    ChapterFactory(subject=subject, title="Empty", order_index=1)
    chapter = ChapterFactory(subject=subject, title="Sets", order_index=4)
    StepFactory(chapter=chapter, order_index=1, title="Read")
    StepFactory(chapter=chapter, order_index=3, title="Read", step_type=StepType.READING)

    out, error = check()

    assert error is None
    assert "warning: math class 12: chapter positions skip 2, 3" in out
    assert "warning: math class 12 'Empty': has no steps" in out
    assert "warning: math class 12 'Sets': step positions skip 2" in out
    assert "warning: math class 12 'Sets': 2 steps are titled 'Read'" in out
    assert out.strip().endswith("0 errors and 4 warnings in 2 chapters and 2 steps.")
