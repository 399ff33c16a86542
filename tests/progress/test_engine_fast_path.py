"""The single-step availability check (engine.step_state, used by every write) agrees with chapter_states.

chapter_states decides locks for whole chapters (the pages); step_state and
the writes decide one step in two or three queries. Both must give the same
answer and the same reason, so this compares them on many small random
curricula and progress states.
"""

import random

import pytest
from django.db import transaction

from curriculum.enums import StepType
from curriculum.models import Chapter, LearningStep
from learners.models import UserProfile
from progress import engine
from progress.engine import Outcome
from progress.enums import PathType, Status
from progress.models import LearningPath, LearningProgress
from tests.factories import SubjectFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db

ROUNDS = 60
STEP_TYPES = [StepType.READING, StepType.QUIZ, StepType.INTERACTIVE, StepType.VIDEO]
ROW_STATES = [None, None, Status.NOT_STARTED, Status.IN_PROGRESS, Status.COMPLETED, Status.SKIPPED]


def random_curriculum(rng, n):
    """1-3 chapters of 0-4 steps with random activity flags, prerequisites and step types."""
    subject = SubjectFactory(code=f"rnd{n}")
    chapters = []
    for i in range(rng.randint(1, 3)):
        chapters.append(Chapter.objects.create(
            subject=subject, grade=12, title=f"Chapter {n}.{i}", order_index=i + 1, is_active=rng.random() > 0.2,
        ))
    for chapter in chapters:
        others = [c for c in chapters if c is not chapter]
        if others and rng.random() < 0.5:
            chapter.prerequisite_chapter = rng.choice(others)
            chapter.save(update_fields=["prerequisite_chapter"])
    steps = []
    for chapter in chapters:
        # Gaps in order_index: "previous" means the nearest lower one, not order_index - 1.
        for order in sorted(rng.sample(range(1, 9), rng.randint(0, 4))):
            kind = rng.choice(STEP_TYPES)
            criteria = {"type": "quiz", "min_score": 70} if kind == StepType.QUIZ else {"type": "view"}
            steps.append(LearningStep.objects.create(
                chapter=chapter, title=f"Step {n}.{chapter.order_index}.{order}", step_type=kind,
                order_index=order, required_completion_criteria=criteria,
            ))
    for step in steps:
        others = [s for s in steps if s.pk != step.pk]
        if others and rng.random() < 0.3:
            step.prerequisite_step = rng.choice(others)
            step.save(update_fields=["prerequisite_step"])
    return chapters, steps


def random_progress(rng, learner, steps):
    for step in steps:
        status = rng.choice(ROW_STATES)
        if status is None:
            continue
        data = {"attempts": [{"score": 40}]} if step.step_type == StepType.QUIZ and rng.random() < 0.3 else {}
        LearningProgress.objects.create(
            user=learner, step=step, status=status, progress_data=data,
            completed_at=engine.timezone.now() if status == Status.COMPLETED else None,
        )


def random_paths(rng, learner, chapters, steps):
    """A main path marking some steps (quizzes, and now and then another step) as test-outs; remedial paths."""
    if rng.random() < 0.7:
        notes = {str(s.pk): {"test_out": True, "note": "test out"} for s in steps
                 if rng.random() < (0.6 if s.step_type == StepType.QUIZ else 0.1)}
        LearningPath.objects.create(user=learner, name="Main", path_type=PathType.PERSONALIZED,
                                    steps_sequence=[str(s.pk) for s in steps], step_notes=notes)
    for chapter in chapters:
        if steps and rng.random() < 0.3:
            listed = rng.sample(steps, min(2, len(steps)))
            LearningPath.objects.create(
                user=learner, name="Review", path_type=PathType.REMEDIAL, chapter=chapter,
                steps_sequence=[str(s.pk) for s in listed], step_notes={str(listed[0].pk): {"note": "review"}},
            )


def describe(state):
    return {
        "lock_reason": state.lock_reason,
        "test_out": state.test_out,
        "progress": state.progress.pk if state.progress else None,
        "remedial": sorted(str(p.pk) for p in state.remedial),
    }


def test_step_state_agrees_with_chapter_states_on_random_curricula():
    rng = random.Random(20240611)
    compared = locked = tested_out = 0
    for n in range(ROUNDS):
        learner = UserFactory(grade=12)
        bystander = UserFactory(grade=12)  # another learner's progress must never count
        chapters, steps = random_curriculum(rng, n)
        random_progress(rng, learner, steps)
        random_progress(rng, bystander, steps)
        random_paths(rng, learner, chapters, steps)
        whole = engine.chapter_states(learner=learner, chapters=chapters)
        for step in steps:
            fresh = LearningStep.objects.select_related("chapter").get(pk=step.pk)
            alone = engine.chapter_states(learner=learner, chapters=[fresh.chapter])[fresh.chapter_id]
            expected = describe(alone.state_for(step.pk))
            assert describe(whole[step.chapter_id].state_for(step.pk)) == expected
            assert describe(engine.step_state(learner=learner, step=fresh)) == expected, (n, step.title)
            compared += 1
            locked += bool(expected["lock_reason"])
            tested_out += expected["test_out"]
    # The random states must actually exercise both sides of the rules.
    assert compared > 100 and locked > 30 and compared - locked > 30 and tested_out > 3


def test_writes_refuse_exactly_when_chapter_states_locks():
    rng = random.Random(7)
    checked = 0
    for n in range(ROUNDS // 2):
        learner = UserFactory(grade=12)
        chapters, steps = random_curriculum(rng, 1000 + n)
        random_progress(rng, learner, steps)
        random_paths(rng, learner, chapters, steps)
        for step in steps:
            fresh = LearningStep.objects.select_related("chapter").get(pk=step.pk)
            expected = engine.chapter_states(learner=learner, chapters=[fresh.chapter])[fresh.chapter_id]
            reason = expected.state_for(step.pk).lock_reason
            with transaction.atomic():
                result = engine.report_external(learner=learner, step=fresh, completed=False, score=10)
                transaction.set_rollback(True)  # leave the state as it was for the next step
            if reason:
                assert (result.outcome, result.reason) == (Outcome.LOCKED, reason)
            else:
                assert result.outcome == Outcome.CHANGED
            checked += 1
    assert checked > 30


@pytest.mark.parametrize(("step_type", "budget"), [(StepType.READING, 2), (StepType.QUIZ, 3)])
def test_step_state_queries(step_type, budget, django_assert_max_num_queries):
    learner = UserFactory(grade=12)
    basics = make_chapter(steps=2)
    chapter = make_chapter(steps=3, prerequisite_chapter=basics)
    step = chapter.steps.get(order_index=3)
    step.step_type = step_type
    step.prerequisite_step = basics.steps.get(order_index=1)
    step.save()
    step = LearningStep.objects.select_related("chapter").get(pk=step.pk)

    with django_assert_max_num_queries(budget):
        state = engine.step_state(learner=learner, step=step)

    assert state.lock_reason == f"locked: finish the chapter '{basics.title}' first"


def test_external_report_count_continues_from_rows_written_before_it_existed():
    learner = UserFactory(grade=12)
    step = make_chapter(steps=1).steps.get()
    step.required_completion_criteria = {"type": "external"}
    step.save()
    engine.open_step(learner=learner, step=step)
    row = LearningProgress.objects.get(user=learner, step=step)
    row.progress_data["external_reports"] = [{"completed": False, "at": "2024-01-01T00:00:00+00:00"}] * 3
    row.save()

    engine.report_external(learner=learner, step=step, completed=False, score=10)

    data = LearningProgress.objects.get(user=learner, step=step).progress_data
    assert (data["external_report_count"], len(data["external_reports"])) == (4, 4)


def test_open_step_not_viewing_leaves_the_profile_alone():
    learner = UserFactory(grade=12)
    first, second = make_chapter(steps=2).steps.order_by("order_index")
    engine.open_step(learner=learner, step=first)
    viewing_since = UserProfile.objects.get(user=learner).last_heartbeat_at

    result = engine.open_step(learner=learner, step=second, viewing=False)

    profile = UserProfile.objects.get(user=learner)
    assert result.ok and (profile.viewing_step_id, profile.last_heartbeat_at) == (first.pk, viewing_since)
