"""progress/engine.py: the rules, called directly."""

from datetime import timedelta

import pytest
from django.utils import timezone

from curriculum.enums import StepType
from progress import engine
from progress.engine import Outcome
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent
from tests.factories import (
    ChapterFactory,
    QuizStepFactory,
    StepFactory,
    SubjectFactory,
    TeacherFactory,
    UserFactory,
    make_chapter,
)

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def learner():
    return UserFactory(grade=12)


@pytest.fixture
def teacher():
    return TeacherFactory()


def timed(seconds):
    """A step on its own chapter, completed by ``seconds`` of active time."""
    return StepFactory(
        chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "time", "value": seconds}
    )


def steps_of(chapter):
    return list(chapter.steps.order_by("order_index"))


def events(learner, kind):
    return ProgressEvent.objects.filter(user=learner, kind=kind)


# --- availability -------------------------------------------------------------


def test_first_step_available_and_next_locked_with_reason(learner):
    first, second, _third = steps_of(make_chapter(steps=3))

    states = engine.chapter_states(learner=learner, chapters=[first.chapter])[first.chapter_id].steps

    assert states[0].is_available
    assert states[1].lock_reason == "locked: finish 'Step 1' first"
    assert states[2].lock_reason == "locked: finish 'Step 2' first"


def test_step_unlocks_when_previous_completed_or_skipped(learner, teacher):
    first, second, third = steps_of(make_chapter(steps=3))
    engine.open_step(learner=learner, step=first)  # view criterion: done on opening
    engine.skip_step(learner=learner, step=second, actor=teacher, reason="absent for lab")

    assert engine.step_state(learner=learner, step=third).is_available


def test_inactive_chapter_locks_every_step(learner):
    chapter = make_chapter(steps=2, is_active=False)

    result = engine.open_step(learner=learner, step=steps_of(chapter)[0])

    assert result.outcome == Outcome.LOCKED
    assert result.reason == "locked: this chapter is not open yet"
    assert not LearningProgress.objects.exists()


def test_prerequisite_chapter_must_be_done_first(learner):
    basics = make_chapter(steps=2, title="Mole Concept")
    titration = make_chapter(steps=2, title="Titration", prerequisite_chapter=basics)

    locked = engine.open_step(learner=learner, step=steps_of(titration)[0])
    for step in steps_of(basics):
        engine.open_step(learner=learner, step=step)
    unlocked = engine.open_step(learner=learner, step=steps_of(titration)[0])

    assert locked.outcome == Outcome.LOCKED
    assert locked.reason == "locked: finish the chapter 'Mole Concept' first"
    assert unlocked.ok


def test_inactive_prerequisite_chapter_does_not_lock_forever(learner):
    retired = make_chapter(steps=2, is_active=False)
    chapter = make_chapter(steps=1, prerequisite_chapter=retired)

    assert engine.open_step(learner=learner, step=steps_of(chapter)[0]).ok


def test_prerequisite_step_in_another_chapter(learner):
    theory = make_chapter(steps=1, title="Theory chapter")
    lab = make_chapter(steps=1, title="Lab chapter")
    lab_step = steps_of(lab)[0]
    lab_step.prerequisite_step = steps_of(theory)[0]
    lab_step.save()

    locked = engine.open_step(learner=learner, step=lab_step)
    engine.open_step(learner=learner, step=steps_of(theory)[0])

    assert locked.reason == "locked: finish 'Step 1' in 'Theory chapter' first"
    assert engine.open_step(learner=learner, step=lab_step).ok


@pytest.mark.parametrize("size", [5, 60])
def test_chapter_states_query_count_constant(learner, size, django_assert_max_num_queries):
    chapters = [make_chapter(steps=size) for _ in range(3)]
    other = make_chapter(steps=2)
    chapters[1].prerequisite_chapter = other
    chapters[1].save()
    for step in steps_of(chapters[0])[: size // 2]:
        engine.open_step(learner=learner, step=step)

    with django_assert_max_num_queries(4):
        states = engine.chapter_states(learner=learner, chapters=chapters)
        assert sum(s.done_count for s in states.values()) == size // 2
        assert all(st.step.chapter.title for s in states.values() for st in s.steps)


# --- open_step ------------------------------------------------------------------


def test_open_step_starts_and_snapshots_criteria(learner):
    step = timed(60)

    result = engine.open_step(learner=learner, step=step, now=T0)

    row = result.progress
    assert result.outcome == Outcome.CHANGED
    assert row.status == Status.IN_PROGRESS
    assert row.started_at == T0
    assert row.progress_data["criteria"] == {"type": "time", "value": 60}
    assert list(events(learner, EventKind.STARTED).values_list("created_at", flat=True)) == [T0]


def test_teacher_edit_after_start_does_not_change_started_step(learner):
    step = timed(30)
    engine.open_step(learner=learner, step=step, now=T0)
    step.required_completion_criteria = {"type": "time", "value": 600}
    step.save()

    result = engine.record_active_time(learner=learner, step=step, seconds=30, now=at(30))

    assert result.completed
    assert result.progress.progress_data["criteria"]["value"] == 30


def test_open_step_twice_logs_one_start(learner):
    step = StepFactory(chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "manual"})
    engine.open_step(learner=learner, step=step)

    again = engine.open_step(learner=learner, step=step)

    assert again.outcome == Outcome.UNCHANGED
    assert events(learner, EventKind.STARTED).count() == 1


def test_view_criterion_completes_on_opening(learner):
    step = StepFactory(chapter=ChapterFactory(), order_index=1, step_type=StepType.VIDEO)

    result = engine.open_step(learner=learner, step=step)

    assert result.completed
    assert result.progress.status == Status.COMPLETED
    assert result.progress.completion_percentage == 100


# --- record_active_time ----------------------------------------------------------


@pytest.fixture
def timed_step():
    return timed(60)


def test_heartbeat_forged_value_credits_only_elapsed_time(learner, timed_step):
    engine.open_step(learner=learner, step=timed_step, now=T0)

    result = engine.record_active_time(learner=learner, step=timed_step, seconds=10_000, now=at(12))

    assert result.details["credited"] == 12
    assert result.reason == "not yet: 12 of 60 seconds"
    assert result.progress.completion_percentage == 20


def test_heartbeat_capped_at_thirty_seconds(learner, timed_step):
    engine.open_step(learner=learner, step=timed_step, now=T0)

    result = engine.record_active_time(learner=learner, step=timed_step, seconds=300, now=at(300))

    assert result.details["credited"] == 30


def test_heartbeat_credits_claim_when_smaller_than_elapsed(learner, timed_step):
    """A background tab: 25 s passed but the page was visible for only 5."""
    engine.open_step(learner=learner, step=timed_step, now=T0)

    result = engine.record_active_time(learner=learner, step=timed_step, seconds=5, now=at(25))

    assert result.details["credited"] == 5


def test_heartbeat_for_step_not_being_viewed_credits_nothing(learner, timed_step):
    other = timed(60)
    engine.open_step(learner=learner, step=timed_step, now=T0)
    engine.open_step(learner=learner, step=other, now=at(1))

    result = engine.record_active_time(learner=learner, step=timed_step, seconds=15, now=at(16))

    assert result.outcome == Outcome.UNCHANGED  # a late beat from a page left behind: no credit, no error
    assert result.reason == "this is not the step you are viewing: open it again"
    assert "active_seconds" not in LearningProgress.objects.get(user=learner, step=timed_step).progress_data


def test_heartbeats_complete_time_criterion_once_met(learner, timed_step):
    engine.open_step(learner=learner, step=timed_step, now=T0)
    results = [
        engine.record_active_time(learner=learner, step=timed_step, seconds=15, now=at(15 * n)) for n in range(1, 6)
    ]

    assert [r.completed for r in results] == [False, False, False, True, False]
    row = LearningProgress.objects.get(user=learner, step=timed_step)
    assert row.status == Status.COMPLETED
    assert row.progress_data["active_seconds"] == 75
    assert events(learner, EventKind.COMPLETED).count() == 1
    assert sum(e.data["seconds"] for e in events(learner, EventKind.TIME)) == 75


@pytest.mark.parametrize("bad", ["abc", None, -5, float("nan"), 10**9])
def test_heartbeat_bad_seconds_refused(learner, timed_step, bad):
    engine.open_step(learner=learner, step=timed_step, now=T0)

    result = engine.record_active_time(learner=learner, step=timed_step, seconds=bad, now=at(10))

    assert result.outcome == Outcome.INVALID
    assert events(learner, EventKind.TIME).count() == 0


def test_heartbeat_on_locked_step_refused(learner):
    first, second = steps_of(make_chapter(steps=2))

    result = engine.record_active_time(learner=learner, step=second, seconds=10)

    assert result.outcome == Outcome.LOCKED
    assert result.reason == "locked: finish 'Step 1' first"
    assert not LearningProgress.objects.filter(step=second).exists()


def test_heartbeat_credits_tenths_never_more_than_wall_clock(learner, timed_step):
    engine.open_step(learner=learner, step=timed_step, now=T0)

    result = engine.record_active_time(
        learner=learner, step=timed_step, seconds=15, now=T0 + timedelta(seconds=14, milliseconds=960)
    )

    assert result.details["credited"] == 14.9
    assert result.progress.progress_data["active_seconds"] == 14.9


# --- quizzes -------------------------------------------------------------------------


@pytest.fixture
def quiz():
    return QuizStepFactory(chapter=ChapterFactory(), order_index=1)


def test_quiz_failed_attempt_recorded_with_reason(learner, quiz):
    result = engine.submit_quiz(learner=learner, step=quiz, answers={"0": 1, "1": 0}, now=T0)

    assert result.outcome == Outcome.CHANGED
    assert not result.completed
    assert result.details["score"] == 50
    assert result.details["correct"] == [True, False]
    assert result.reason == "score 50 < 70"
    data = result.progress.progress_data
    assert data["attempts"] == [{"answers": {"0": 1, "1": 0}, "score": 50, "at": T0.isoformat()}]
    assert result.progress.completion_percentage == 50


def test_quiz_best_score_kept_and_completes_when_passing(learner, quiz):
    engine.submit_quiz(learner=learner, step=quiz, answers={"0": 1, "1": 0})
    passed = engine.submit_quiz(learner=learner, step=quiz, answers={"0": 1, "1": 1})
    worse = engine.submit_quiz(learner=learner, step=quiz, answers={"0": 0, "1": 0})

    assert passed.completed
    assert worse.progress.progress_data["best_score"] == 100
    assert len(worse.progress.progress_data["attempts"]) == 3
    assert worse.progress.status == Status.COMPLETED
    assert worse.progress.completion_percentage == 100
    assert events(learner, EventKind.COMPLETED).count() == 1
    assert events(learner, EventKind.ANSWERED).count() == 3


@pytest.mark.parametrize(
    "answers, reason",
    [
        ({"0": 1}, "answer every question (missing: 2)"),
        ({"0": 1, "1": 1, "2": 0}, "there is no question 2"),
        ({"0": 1, "1": 7}, "question 2 has no choice 7"),
        ({"0": "x", "1": 1}, "answer '0' is not a choice number"),
        ({"0": True, "1": 1}, "there is no question 0"),
        ([1, 1], "answers must map each question to a choice"),
    ],
)
def test_quiz_invalid_answers_write_nothing(learner, quiz, answers, reason):
    result = engine.submit_quiz(learner=learner, step=quiz, answers=answers)

    assert result.outcome == Outcome.INVALID
    assert result.reason == reason
    assert not LearningProgress.objects.exists()
    assert not ProgressEvent.objects.exists()


def test_quiz_questions_for_page_never_include_answers(quiz):
    shown = engine.quiz_questions(quiz)

    assert all("answer" not in q for q in shown)
    assert shown[0]["choices"] == [(0, "3"), (1, "4"), (2, "5")]


# --- answers, manual, external ----------------------------------------------------------


def test_submit_answer_checked_ignoring_case_and_spacing(learner):
    step = StepFactory(
        chapter=ChapterFactory(), order_index=1, step_type=StepType.EXERCISE,
        required_completion_criteria={"type": "submission"}, activity={"expected_answer": "2 ohm"},
    )

    wrong = engine.submit_answer(learner=learner, step=step, answer="3 ohm")
    right = engine.submit_answer(learner=learner, step=step, answer="  2   OHM. ")

    assert not wrong.completed and wrong.reason == "not quite: check your answer and try again"
    assert right.completed
    assert len(right.progress.progress_data["submissions"]) == 2


def test_submit_empty_answer_refused(learner):
    step = StepFactory(chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "submission"})

    assert engine.submit_answer(learner=learner, step=step, answer="   ").outcome == Outcome.INVALID
    assert not LearningProgress.objects.exists()


def test_mark_done_manual_completes(learner):
    step = StepFactory(chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "manual"})
    engine.open_step(learner=learner, step=step)

    assert engine.mark_done(learner=learner, step=step).completed


def test_mark_done_time_not_met_writes_nothing(learner, timed_step):
    engine.open_step(learner=learner, step=timed_step, now=T0)
    engine.record_active_time(learner=learner, step=timed_step, seconds=20, now=at(34))
    before = LearningProgress.objects.get(step=timed_step).progress_data

    result = engine.mark_done(learner=learner, step=timed_step)

    assert result.outcome == Outcome.NOT_MET
    assert result.reason == "not yet: 20 of 60 seconds"
    assert LearningProgress.objects.get(step=timed_step).progress_data == before


def test_mark_done_locked_step_refused(learner):
    _first, second = steps_of(make_chapter(steps=2))

    result = engine.mark_done(learner=learner, step=second)

    assert result.outcome == Outcome.LOCKED
    assert result.reason == "locked: finish 'Step 1' first"
    assert not LearningProgress.objects.exists()


def test_report_external_completes_external_criterion(learner):
    step = StepFactory(
        chapter=ChapterFactory(), order_index=1, step_type=StepType.INTERACTIVE,
        required_completion_criteria={"type": "external"},
    )

    not_yet = engine.report_external(learner=learner, step=step, completed=False, score=30)
    done = engine.report_external(learner=learner, step=step, completed=True, score=80)

    assert not not_yet.completed
    assert done.completed
    assert done.progress.progress_data["best_score"] == 80


def test_report_external_bad_score_refused(learner):
    step = StepFactory(chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "external"})

    assert engine.report_external(learner=learner, step=step, score=140).outcome == Outcome.INVALID
    assert not LearningProgress.objects.exists()


# --- teacher actions --------------------------------------------------------------------------


def test_learner_cannot_skip_without_path_permission(learner):
    step = StepFactory(chapter=ChapterFactory(), order_index=1)

    result = engine.skip_step(learner=learner, step=step, reason="bored")

    assert result.outcome == Outcome.DENIED
    assert not LearningProgress.objects.exists()


def test_teacher_skip_requires_reason_and_logs_it(learner, teacher):
    step = StepFactory(chapter=ChapterFactory(), order_index=1)

    refused = engine.skip_step(learner=learner, step=step, reason=" ", actor=teacher)
    excused = engine.skip_step(learner=learner, step=step, reason="medical leave", actor=teacher)

    assert refused.outcome == Outcome.INVALID
    assert excused.progress.status == Status.SKIPPED
    event = events(learner, EventKind.SKIPPED).get()
    assert (event.actor, event.reason) == (teacher, "medical leave")


def test_reset_keeps_history_in_events(learner, teacher, quiz):
    engine.submit_quiz(learner=learner, step=quiz, answers={"0": 1, "1": 1})

    result = engine.reset(learner=learner, step=quiz, actor=teacher, reason="retake after revision")

    row = LearningProgress.objects.get(step=quiz)
    assert result.outcome == Outcome.CHANGED
    assert (row.status, row.completion_percentage, row.completed_at, row.progress_data) == (
        Status.NOT_STARTED, 0, None, {}
    )
    event = events(learner, EventKind.RESET).get()
    assert event.data["previous"]["status"] == Status.COMPLETED
    assert len(event.data["previous"]["progress_data"]["attempts"]) == 1


def test_reset_by_learner_denied(learner, quiz):
    engine.submit_quiz(learner=learner, step=quiz, answers={"0": 1, "1": 1})

    result = engine.reset(learner=learner, step=quiz, actor=learner, reason="again")

    assert result.outcome == Outcome.DENIED
    assert LearningProgress.objects.get(step=quiz).status == Status.COMPLETED


def test_force_complete_override_logged(learner, teacher):
    first, second = steps_of(make_chapter(steps=2))

    result = engine.force_complete(learner=learner, step=second, actor=teacher, reason="did it on paper")

    assert result.completed and result.progress.completion_percentage == 100
    assert events(learner, EventKind.OVERRIDE).get().reason == "did it on paper"


def test_completion_percentage_never_decreases(learner, quiz):
    engine.submit_quiz(learner=learner, step=quiz, answers={"0": 1, "1": 0})  # 50
    engine.submit_quiz(learner=learner, step=quiz, answers={"0": 0, "1": 0})  # 0

    assert LearningProgress.objects.get(step=quiz).completion_percentage == 50


# --- roll-ups ------------------------------------------------------------------------------------


def test_subject_rollups_count_only_learners_grade_and_active(learner):
    phy = SubjectFactory(code="phy", name="Physics")
    mine = make_chapter(steps=4, subject=phy, grade=12)
    make_chapter(steps=3, subject=phy, grade=None)
    make_chapter(steps=5, subject=phy, grade=11)
    make_chapter(steps=7, subject=phy, grade=12, is_active=False)
    for step in steps_of(mine):
        engine.open_step(learner=learner, step=step)

    [physics] = engine.subject_rollups(learner=learner)

    assert (physics.steps_total, physics.steps_done) == (7, 4)
    assert (physics.chapters_total, physics.chapters_done) == (2, 1)
    assert physics.percentage == 57
    assert engine.overall_percentage([physics]) == 57


def test_subject_rollups_ignore_other_learners(learner):
    chapter = make_chapter(steps=2)
    other = UserFactory(grade=12)
    for step in steps_of(chapter):
        engine.open_step(learner=other, step=step)

    [rollup] = engine.subject_rollups(learner=learner)

    assert rollup.steps_done == 0 and rollup.chapters_done == 0


@pytest.mark.parametrize("subjects", [2, 8])
def test_subject_rollups_one_query(learner, subjects, django_assert_num_queries):
    for n in range(subjects):
        make_chapter(steps=3, subject=SubjectFactory(code=f"s{n}"))

    with django_assert_num_queries(1):  # the learner's class is read inside the roll-up query
        assert len(engine.subject_rollups(learner=learner)) == subjects


def test_chapter_rollups_annotate_done_counts(learner):
    chapter = make_chapter(steps=3)
    engine.open_step(learner=learner, step=steps_of(chapter)[0])

    row = engine.chapter_rollups(learner=learner, chapters=type(chapter).objects.filter(pk=chapter.pk)).get()

    assert (row.steps_total, row.steps_done) == (3, 1)


def test_heartbeat_keeps_highest_watched_percentage(learner):
    video = StepFactory(chapter=ChapterFactory(), order_index=1, step_type=StepType.VIDEO,
                        required_completion_criteria={"type": "time", "value": 300})
    engine.open_step(learner=learner, step=video, now=T0)

    engine.record_active_time(learner=learner, step=video, seconds=10, watched=40, now=at(10))
    engine.record_active_time(learner=learner, step=video, seconds=10, watched=25, now=at(20))
    refused = engine.record_active_time(learner=learner, step=video, seconds=10, watched=140, now=at(30))

    assert refused.outcome == Outcome.INVALID
    assert LearningProgress.objects.get(step=video).progress_data["watched_percent"] == 40


def test_activity_chart_sums_fractional_heartbeat_seconds(learner, timed_step):
    """Heartbeats credit tenths of a second; the per-day sum must accept them on every database."""
    engine.open_step(learner=learner, step=timed_step, now=T0)
    engine.record_active_time(learner=learner, step=timed_step, seconds=14.5, now=at(14.6))
    engine.record_active_time(learner=learner, step=timed_step, seconds=15.5, now=at(30.2))

    days = engine.active_minutes_by_day(learner=learner, days=2, today=timezone.localdate(T0))

    assert sum(day.seconds for day in days) == 30
