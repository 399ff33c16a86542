"""Learning paths: building, test-out, remedial, skipping, rebuilding, validation, /path/."""

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from curriculum.enums import StepType
from curriculum.importer import DEMO_CURRICULUM_PATH, import_curriculum, load_curriculum_file
from curriculum.models import Chapter, LearningStep
from progress import engine
from progress import paths as learning_paths
from progress.engine import Outcome
from progress.enums import EventKind, PathType, Status
from progress.models import LearningPath, LearningProgress, PathRule, ProgressEvent
from tests.factories import (
    ChapterFactory,
    QuizStepFactory,
    StepFactory,
    SubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PASS = {"0": 1, "1": 1}
FAIL = {"0": 0, "1": 0}


def learner_at(level, grade=12):
    user = UserFactory(grade=grade)
    user.profile.background_level = level
    user.profile.save()
    return user


@pytest.fixture
def demo():
    import_curriculum(load_curriculum_file(DEMO_CURRICULUM_PATH))
    return Chapter.objects.get(title="Ohm's Law")


def olabs_chapter(title="Ohm's Law", **kwargs):
    """Theory (reading, optional) · Animation (video, optional) · Simulation · Quiz."""
    chapter = ChapterFactory(title=title, **kwargs)
    StepFactory(chapter=chapter, order_index=1, title="Theory", optional_for_intermediate=True)
    StepFactory(chapter=chapter, order_index=2, title="Animation", step_type=StepType.VIDEO,
                optional_for_intermediate=True)
    StepFactory(chapter=chapter, order_index=3, title="Simulation", step_type=StepType.INTERACTIVE,
                required_completion_criteria={"type": "manual"})
    QuizStepFactory(chapter=chapter, order_index=4, title="Quiz")
    return chapter


def titles(step_ids):
    names = dict(LearningStep.objects.filter(pk__in=step_ids).values_list("pk", "title"))
    return [names[pk] for pk in map(__import__("uuid").UUID, step_ids)]


# --- building ---------------------------------------------------------------------------------------------


def test_default_path_is_every_demo_step_in_curriculum_order(demo):
    learner = learner_at("beginner")

    path = learning_paths.rebuild_main_path(learner=learner).path

    expected = [
        str(pk) for pk in LearningStep.objects.filter(chapter__is_active=True)
        .order_by("chapter__subject__order", "chapter__order_index", "order_index").values_list("pk", flat=True)
    ]
    assert path.path_type == PathType.DEFAULT
    assert sorted(path.steps_sequence) == sorted(expected)
    assert len(path.steps_sequence) == LearningStep.objects.count()
    assert path.omitted == {}


def test_default_path_puts_prerequisite_chapter_first():
    subject = SubjectFactory(code="chem")
    titration = ChapterFactory(subject=subject, title="Titration", order_index=1)
    mole = ChapterFactory(subject=subject, title="Mole Concept", order_index=2)
    titration.prerequisite_chapter = mole
    titration.save()
    StepFactory(chapter=titration, order_index=1, title="Titration theory")
    StepFactory(chapter=mole, order_index=1, title="Mole theory")

    path = learning_paths.rebuild_main_path(learner=learner_at("beginner")).path

    assert titles(path.steps_sequence) == ["Mole theory", "Titration theory"]


def test_intermediate_path_leaves_out_optional_steps_and_says_why():
    olabs_chapter()

    path = learning_paths.rebuild_main_path(learner=learner_at("intermediate")).path

    assert path.path_type == PathType.PERSONALIZED
    assert titles(path.steps_sequence) == ["Simulation", "Quiz"]
    assert sorted(path.omitted.values()) == ["optional for intermediate learners"] * 2


def test_advanced_path_opens_each_chapter_with_its_quiz():
    olabs_chapter()

    path = learning_paths.rebuild_main_path(learner=learner_at("advanced")).path

    assert titles(path.steps_sequence) == ["Quiz", "Theory", "Animation", "Simulation"]
    quiz_id = path.steps_sequence[0]
    assert path.step_notes[quiz_id]["test_out"] is True


def test_path_rules_are_data_teachers_can_change():
    olabs_chapter()
    PathRule.objects.filter(background_level="beginner").update(leave_out_optional=True)

    path = learning_paths.rebuild_main_path(learner=learner_at("beginner")).path

    assert path.path_type == PathType.PERSONALIZED
    assert titles(path.steps_sequence) == ["Simulation", "Quiz"]


def test_optional_quiz_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        QuizStepFactory(chapter=ChapterFactory(), order_index=1, optional_for_intermediate=True)


def test_optional_flag_refused_on_a_quiz():
    quiz = QuizStepFactory.build(chapter=ChapterFactory(), order_index=1, optional_for_intermediate=True)

    with pytest.raises(ValidationError) as error:
        quiz.full_clean()

    assert error.value.message_dict["optional_for_intermediate"] == ["Only reading and video steps can be optional."]


# --- skipping only what the path allows ---------------------------------------------------------------------


def test_intermediate_learner_may_skip_optional_step_with_path_reason():
    chapter = olabs_chapter()
    learner = learner_at("intermediate")
    learning_paths.rebuild_main_path(learner=learner)
    theory, animation, simulation, _quiz = chapter.steps.order_by("order_index")

    skipped = engine.skip_step(learner=learner, step=theory)
    refused = engine.skip_step(learner=learner, step=simulation)

    assert skipped.outcome == Outcome.CHANGED
    assert skipped.reason == "optional for intermediate learners"
    assert refused.outcome == Outcome.DENIED
    skipped_event = ProgressEvent.objects.get(user=learner, kind=EventKind.SKIPPED)
    assert skipped_event.reason == "optional for intermediate learners"


def test_beginner_may_not_skip_anything():
    chapter = olabs_chapter()
    learner = learner_at("beginner")
    learning_paths.rebuild_main_path(learner=learner)

    result = engine.skip_step(learner=learner, step=chapter.steps.get(order_index=1))

    assert result.outcome == Outcome.DENIED
    assert not LearningProgress.objects.filter(user=learner).exists()


# --- test-out ----------------------------------------------------------------------------------------------


def test_advanced_quiz_available_first_and_passing_tests_out_the_chapter():
    chapter = olabs_chapter()
    learner = learner_at("advanced")
    learning_paths.rebuild_main_path(learner=learner)
    quiz = chapter.steps.get(title="Quiz")

    assert engine.step_state(learner=learner, step=quiz).is_available
    result = engine.submit_quiz(learner=learner, step=quiz, answers=PASS)

    rows = dict(LearningProgress.objects.filter(user=learner).values_list("step__title", "status"))
    assert result.completed
    assert rows == {"Quiz": Status.COMPLETED, "Theory": Status.SKIPPED, "Animation": Status.SKIPPED,
                    "Simulation": Status.SKIPPED}
    assert set(ProgressEvent.objects.filter(user=learner, kind=EventKind.SKIPPED).values_list("reason", flat=True)) \
        == {"tested out"}
    assert engine.chapter_states(learner=learner, chapters=[chapter])[chapter.pk].is_done


def test_advanced_failed_test_out_falls_back_to_the_full_chapter():
    chapter = olabs_chapter()
    learner = learner_at("advanced")
    learning_paths.rebuild_main_path(learner=learner)
    quiz = chapter.steps.get(title="Quiz")

    engine.submit_quiz(learner=learner, step=quiz, answers=FAIL)

    state = engine.step_state(learner=learner, step=quiz)
    path = LearningPath.objects.get(user=learner, is_active=True)
    assert not state.is_available and state.lock_reason == "locked: finish 'Simulation' first"
    assert titles(path.steps_sequence) == ["Theory", "Animation", "Simulation", "Quiz"]
    assert not LearningProgress.objects.filter(user=learner, status=Status.SKIPPED).exists()


def test_beginner_quiz_stays_locked_until_its_turn():
    chapter = olabs_chapter()
    learner = learner_at("beginner")
    learning_paths.rebuild_main_path(learner=learner)

    result = engine.submit_quiz(learner=learner, step=chapter.steps.get(title="Quiz"), answers=PASS)

    assert result.outcome == Outcome.LOCKED


# --- remedial ----------------------------------------------------------------------------------------------------


def _finish_up_to_quiz(learner, chapter):
    for step in chapter.steps.exclude(step_type=StepType.QUIZ).order_by("order_index"):
        engine.open_step(learner=learner, step=step)
        engine.mark_done(learner=learner, step=step)


def test_remedial_path_proposed_after_two_failures_and_ends_after_pass():
    chapter = olabs_chapter()
    learner = learner_at("beginner")
    _finish_up_to_quiz(learner, chapter)
    quiz = chapter.steps.get(title="Quiz")

    engine.submit_quiz(learner=learner, step=quiz, answers=FAIL)
    assert not LearningPath.objects.filter(path_type=PathType.REMEDIAL).exists()
    engine.submit_quiz(learner=learner, step=quiz, answers=FAIL)

    remedial = LearningPath.objects.get(user=learner, path_type=PathType.REMEDIAL, is_active=True)
    assert titles(remedial.steps_sequence) == ["Theory", "Animation", "Quiz"]
    assert "below the pass mark 2 times" in remedial.description
    assert engine.next_steps(learner=learner)[0].step.title == "Theory"

    engine.submit_quiz(learner=learner, step=quiz, answers=PASS)

    remedial.refresh_from_db()
    assert not remedial.is_active and remedial.ended_at is not None


def test_remedial_path_starts_with_weak_prerequisite_chapter():
    subject = SubjectFactory(code="phy")
    basics = olabs_chapter(title="Basics", subject=subject, order_index=1)
    chapter = olabs_chapter(title="Ohm's Law", subject=subject, order_index=2, prerequisite_chapter=basics)
    learner = learner_at("beginner")
    _finish_up_to_quiz(learner, basics)
    basics_quiz = basics.steps.get(title="Quiz")
    basics_quiz.activity["questions"].append({"text": "1 + 1?", "choices": ["2", "3"], "answer": 0})
    basics_quiz.activity["questions"].append({"text": "3 - 1?", "choices": ["2", "3"], "answer": 0})
    basics_quiz.save()
    engine.submit_quiz(learner=learner, step=basics_quiz, answers={"0": 1, "1": 1, "2": 0, "3": 1})  # 75 < 70 + 10
    _finish_up_to_quiz(learner, chapter)
    quiz = chapter.steps.get(title="Quiz")

    for _attempt in range(2):
        engine.submit_quiz(learner=learner, step=quiz, answers=FAIL)

    remedial = LearningPath.objects.get(user=learner, path_type=PathType.REMEDIAL)
    assert titles(remedial.steps_sequence) == ["Theory", "Quiz", "Theory", "Animation", "Quiz"]
    assert "close to its pass mark" in remedial.description


def test_remedial_threshold_is_a_setting(settings):
    settings.REMEDIAL_AFTER_FAILED_ATTEMPTS = 3
    chapter = olabs_chapter()
    learner = learner_at("beginner")
    _finish_up_to_quiz(learner, chapter)

    for _attempt in range(2):
        engine.submit_quiz(learner=learner, step=chapter.steps.get(title="Quiz"), answers=FAIL)

    assert not LearningPath.objects.filter(path_type=PathType.REMEDIAL).exists()


# --- rebuilding, validation, deletion ---------------------------------------------------------------------------


def test_profile_level_change_rebuilds_path(client):
    olabs_chapter()
    learner = learner_at("beginner")
    learning_paths.rebuild_main_path(learner=learner)
    client.force_login(learner)

    client.post(reverse("learners:profile"), {
        "grade": 12, "background_level": "intermediate", "preferred_language": "en",
    })

    path = LearningPath.objects.get(user=learner, is_active=True)
    assert path.path_type == PathType.PERSONALIZED
    assert titles(path.steps_sequence) == ["Simulation", "Quiz"]
    assert ProgressEvent.objects.filter(user=learner, kind=EventKind.PATH).count() == 2


def test_rebuild_unchanged_writes_nothing():
    olabs_chapter()
    learner = learner_at("beginner")
    learning_paths.rebuild_main_path(learner=learner)

    again = learning_paths.rebuild_main_path(learner=learner)

    assert not again.changed
    assert LearningPath.objects.filter(user=learner).count() == 1


@pytest.mark.parametrize(
    "sequence, message",
    [
        (["not-a-uuid"], "steps[0]: 'not-a-uuid' is not a step id"),
        (["00000000-0000-0000-0000-000000000001"], "Unknown step ids: 00000000-0000-0000-0000-000000000001"),
    ],
)
def test_path_sequence_validation_errors(sequence, message):
    path = LearningPath(user=UserFactory(), name="x", steps_sequence=sequence)

    with pytest.raises(ValidationError) as error:
        path.full_clean()

    assert message in error.value.message_dict["steps_sequence"][0]


def test_duplicate_steps_in_sequence_refused():
    step = StepFactory()
    path = LearningPath(user=UserFactory(), name="x", steps_sequence=[str(step.pk), str(step.pk)])

    with pytest.raises(ValidationError) as error:
        path.full_clean()

    assert "twice" in error.value.message_dict["steps_sequence"][0]


def test_locked_forever_finds_steps_in_closed_chapters():
    learner = learner_at("beginner")
    closed = StepFactory(chapter=ChapterFactory(is_active=False), title="Closed")
    other_class = StepFactory(chapter=ChapterFactory(grade=7), title="Class 7")
    fine = StepFactory(chapter=ChapterFactory(), title="Fine")

    problems = learning_paths.locked_forever(learner=learner, step_ids=[closed.pk, other_class.pk, fine.pk])

    assert set(problems) == {str(closed.pk), str(other_class.pk)}


def test_deleted_step_dropped_from_paths_and_logged():
    chapter = olabs_chapter()
    learner = learner_at("beginner")
    path = learning_paths.rebuild_main_path(learner=learner).path

    chapter.steps.get(title="Animation").delete()

    path.refresh_from_db()
    assert titles(path.steps_sequence) == ["Theory", "Simulation", "Quiz"]
    assert ProgressEvent.objects.filter(user=learner, kind=EventKind.PATH,
                                        reason="a step was deleted from the curriculum").exists()


# --- the /path/ page and the command -----------------------------------------------------------------------------


def test_path_page_explains_left_out_steps_and_marks_you_are_here(client):
    olabs_chapter()
    learner = learner_at("intermediate")
    client.force_login(learner)

    page = client.get(reverse("progress:path")).content.decode()

    assert "You are here" in page
    assert page.count("optional for intermediate learners") == 2
    assert "Skip" in page


@pytest.mark.parametrize("chapters", [2, 12])
def test_path_page_query_count_constant(client, chapters, django_assert_max_num_queries):
    subject = SubjectFactory(code="phy")
    for n in range(chapters):
        olabs_chapter(title=f"Chapter {n}", subject=subject, order_index=n + 1)
    learner = learner_at("advanced")
    learning_paths.rebuild_main_path(learner=learner)
    client.force_login(learner)

    with django_assert_max_num_queries(9):
        response = client.get(reverse("progress:path"))

    assert response.status_code == 200
    assert len(response.context["main_groups"]) == chapters


def test_path_skip_button_skips_optional_step(client):
    chapter = olabs_chapter()
    learner = learner_at("intermediate")
    client.force_login(learner)
    client.get(reverse("progress:path"))
    theory = chapter.steps.get(title="Theory")

    client.post(reverse("progress:path-skip", args=[theory.pk]))

    assert LearningProgress.objects.get(user=learner, step=theory).status == Status.SKIPPED


def test_rebuild_paths_command_dry_run_then_apply():
    olabs_chapter()
    learner = learner_at("advanced")
    out = StringIO()

    call_command("rebuild_paths", "--dry-run", stdout=out)
    assert not LearningPath.objects.exists()
    assert f"{learner.username}: Personalized path: 0 → 4 steps, 0 left out" in out.getvalue()
    assert "1 learners checked, 1 paths would change." in out.getvalue()

    call_command("rebuild_paths", "--learner", learner.username, stdout=StringIO())
    assert LearningPath.objects.filter(user=learner, is_active=True).count() == 1


def test_rebuild_paths_command_unknown_learner_fails():
    with pytest.raises(CommandError, match="No active learner with username 'nobody'"):
        call_command("rebuild_paths", "--learner", "nobody")


@pytest.mark.parametrize("answers", [PASS, FAIL])
def test_rebuild_after_test_out_keeps_its_outcome(answers):
    chapter = olabs_chapter()
    learner = learner_at("advanced")
    learning_paths.rebuild_main_path(learner=learner)
    engine.submit_quiz(learner=learner, step=chapter.steps.get(title="Quiz"), answers=answers)

    again = learning_paths.rebuild_main_path(learner=learner)

    assert not again.changed
    assert titles(again.path.steps_sequence) == ["Theory", "Animation", "Simulation", "Quiz"]


@pytest.mark.parametrize(
    "level, path_type, left_out, quiz_first",
    [("beginner", PathType.DEFAULT, 0, False), ("intermediate", PathType.PERSONALIZED, 9, False),
     ("advanced", PathType.PERSONALIZED, 0, True)],
)
def test_path_contents_for_each_level_on_the_demo_curriculum(demo, level, path_type, left_out, quiz_first):
    """The demo marks its 9 Animation videos optional for intermediate learners."""
    path = learning_paths.rebuild_main_path(learner=learner_at(level)).path

    total = LearningStep.objects.count()
    assert path.path_type == path_type
    assert len(path.steps_sequence) == total - left_out
    assert set(path.omitted.values()) <= {"optional for intermediate learners"}
    assert len(path.omitted) == left_out
    ohms_law_steps = [str(pk) for pk in demo.steps.order_by("order_index").values_list("pk", flat=True)]
    first_of_ohm = next(sid for sid in path.steps_sequence if sid in ohms_law_steps)
    assert (LearningStep.objects.get(pk=first_of_ohm).title == "Quiz") is quiz_first


def test_active_paths_read_by_hand_are_what_the_orm_reads(django_assert_num_queries):
    """``active_paths`` is one hand-written SELECT (mars_labs/rows.py): the same values the ORM gives, only
    the learner's active paths, oldest first; ``main_sequence=False`` leaves the main path's step order
    deferred (read by one query when used) and loads the remedial paths' in one query more."""
    chapter = olabs_chapter()
    learner = learner_at("intermediate")
    main = learning_paths.rebuild_main_path(learner=learner).path
    remedial = LearningPath.objects.create(user=learner, name="Review: Ohm's Law", path_type=PathType.REMEDIAL,
                                           chapter=chapter, steps_sequence=[str(chapter.steps.first().pk)],
                                           step_notes={"x": {"note": "n"}})
    LearningPath.objects.create(user=learner, name="Ended", path_type=PathType.REMEDIAL, chapter=chapter,
                                is_active=False)
    LearningPath.objects.create(user=UserFactory(grade=12), name="Someone else's", path_type=PathType.REMEDIAL,
                                chapter=chapter)
    fields = [f.attname for f in LearningPath._meta.concrete_fields]

    def values(path):
        return {name: getattr(path, name) for name in fields}

    with django_assert_num_queries(1):
        got_main, got_remedial = learning_paths.active_paths(learner=learner)
    assert values(got_main) == values(LearningPath.objects.get(pk=main.pk))
    assert main.omitted and main.step_notes  # an intermediate path: something to compare
    assert [values(p) for p in got_remedial] == [values(LearningPath.objects.get(pk=remedial.pk))]

    with django_assert_num_queries(2):
        light_main, light_remedial = learning_paths.active_paths(learner=learner, main_sequence=False)
        assert light_remedial[0].steps_sequence == remedial.steps_sequence  # loaded with the second query
    assert light_main.get_deferred_fields() == {"steps_sequence"}
    assert light_main.step_notes == main.step_notes and light_main.omitted == main.omitted
    with django_assert_num_queries(1):
        assert light_main.steps_sequence == main.steps_sequence
