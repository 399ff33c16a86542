"""The dashboard's frontier computation (progress/dashboard.py with engine.CurriculumFrontier) gives exactly the
numbers, cards, recommendations and lock reasons (and the subject pages their chapters' states) of the full
computation it replaced: ``curriculum_states`` over
every chapter (read from the database, not the snapshot), ``rollups_from_states`` and ``next_steps(states=...)``.

Random curricula (prerequisite chapters inside and outside the class, a retired prerequisite, a grade-less chapter,
cross-chapter step prerequisites, quizzes, simulations, optional steps) and random learners: random rows of every
status, quizzes failed twice, teacher excuses (skipped), remedial paths, test-out and leave-out-optional paths.
"""

import datetime
import random

import pytest
from django.utils import timezone

from curriculum import cache as curriculum_cache
from curriculum.enums import StepType
from learners.models import UserProfile
from progress import dashboard, engine
from progress import paths as learning_paths
from progress.enums import DONE_STATUSES, Status
from progress.models import LearningProgress, PathRule
from progress.views.learning import subject_chapter_states
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, SubjectFactory, TeacherFactory, UserFactory

WRONG_ANSWERS = {"0": 0, "1": 0}


# ------------------------------------------------------- the full computation (the dashboard before the frontier)


def reference_dashboard(learner, today):
    profile = UserProfile.objects.get(user=learner)
    paths = learning_paths.active_paths(learner=learner)
    states = engine.curriculum_states(learner=learner, paths=paths)  # every chapter, from the database
    rollups = engine.rollups_from_states(states)
    recommendations = engine.next_steps(learner=learner, limit=3, states=states, rollups=rollups, paths=paths)
    every = [s for cs in states.values() for s in cs.steps]
    has_progress = any(s.status != Status.NOT_STARTED for s in every)
    in_progress = [s for s in every if s.status == Status.IN_PROGRESS]
    latest = max(in_progress, key=lambda s: s.progress.updated_at, default=None)
    first = next((s for s in every if s.is_available and not s.is_done), None)
    simulations = {}
    for cs in states.values():
        done, total = simulations.get(cs.chapter.subject_id, (0, 0))
        for s in cs.steps:
            if s.step.step_type == StepType.INTERACTIVE:
                done, total = done + s.is_done, total + 1
        simulations[cs.chapter.subject_id] = (done, total)
    total = sum(r.steps_total for r in rollups)
    ranked = sorted(rollups, key=lambda r: r.percentage)
    return states, {
        "grade": profile.grade,
        "overall": engine.overall_percentage(rollups),
        "subjects": [
            (r.subject.pk, r.steps_done, r.steps_total, r.chapters_done, r.chapters_total, r.percentage, i % 6,
             *simulations.get(r.subject.pk, (0, 0)))
            for i, r in enumerate(rollups)
        ],
        "recommendations": [recommendation(item) for item in recommendations],
        "focus": ranked[0].subject.pk if len(ranked) > 1 and ranked[0].percentage < ranked[1].percentage else None,
        "continue": step_facts(latest),
        "start": None if has_progress else step_facts(first),
        "has_progress": has_progress,
        "all_done": bool(total) and sum(r.steps_done for r in rollups) == total,
    }


def step_facts(state):
    if state is None:
        return None
    progress = state.progress
    return (
        state.step.pk, state.step.chapter_id, state.status, state.lock_reason, state.test_out, state.percentage,
        state.display_status, sorted(str(p.pk) for p in state.remedial),
        progress.pk if progress else None,
        progress.updated_at if progress and progress.status not in DONE_STATUSES else None,
        engine.failed_attempts(progress=progress, step=state.step) if progress and not state.is_done else 0,
    )


def recommendation(item):
    return (step_facts(item.state), item.kind, str(item.reason), item.quiz.pk if item.quiz else None)


def new_dashboard(learner, today):
    board = dashboard.build_dashboard(learner=learner, today=today)
    return {
        "grade": board.profile.grade,
        "overall": board.profile.overall_percentage,
        "subjects": [
            (c.subject.pk, c.rollup.steps_done, c.rollup.steps_total, c.rollup.chapters_done,
             c.rollup.chapters_total, c.percentage, c.accent, c.simulations_done, c.simulations_total)
            for c in board.subjects
        ],
        "recommendations": [recommendation(item) for item in board.recommendations],
        "focus": board.focus.subject.pk if board.focus else None,
        "continue": step_facts(board.continue_state),
        "start": step_facts(board.start_state),
        "has_progress": board.has_progress,
        "all_done": board.all_done,
    }


# ------------------------------------------------------------------------------------ random curricula, learners


def build_curriculum(rng, tag=""):
    """Three or four subjects of class 12 with chapters, prerequisites and mixed steps; returns every step."""
    outside = ChapterFactory(subject=SubjectFactory(code=f"prev{tag}", name=f"Earlier{tag}", order=0), grade=11,
                             title=f"Class 11 basics{tag}")
    StepFactory(chapter=outside, order_index=1, title="Old reading")
    retired = ChapterFactory(subject=outside.subject, grade=12, title=f"Retired{tag}", is_active=False)
    StepFactory(chapter=retired, order_index=1)
    steps, chapters = [], []
    for n in range(rng.randint(3, 4)):
        subject = SubjectFactory(code=f"s{tag}{n}", name=f"Subject {n}{tag}", order=rng.choice([1, 2, 3]))
        for c in range(rng.randint(2, 4)):
            chapter = ChapterFactory(subject=subject, grade=None if rng.random() < 0.1 else 12,
                                     order_index=c + 1, title=f"S{n} chapter {c + 1}{tag}")
            roll = rng.random()
            if chapters and roll < 0.5:
                chapter.prerequisite_chapter = rng.choice(chapters)
            elif roll < 0.6:
                chapter.prerequisite_chapter = rng.choice([outside, retired])
            chapter.save()
            chapters.append(chapter)
            for i in range(1, rng.randint(3, 6) + 1):
                kind = rng.choice([StepType.READING, StepType.READING, StepType.QUIZ, StepType.INTERACTIVE,
                                   StepType.VIDEO])
                optional = kind in (StepType.READING, StepType.VIDEO) and rng.random() < 0.2
                factory = QuizStepFactory if kind == StepType.QUIZ else StepFactory
                extra = {} if kind == StepType.QUIZ else {"step_type": kind}
                step = factory(chapter=chapter, order_index=i, title=f"{chapter.title} step {i}",
                               optional_for_intermediate=optional, **extra)
                if steps and rng.random() < 0.1:
                    step.prerequisite_step = rng.choice(steps)
                    step.save()
                steps.append(step)
    return steps


def random_rows(rng, learner, steps, now):
    """Rows of every status on a random share of ``steps``, some quizzes failed once or twice, tied updated_at."""
    for step in rng.sample(steps, rng.randint(0, len(steps))):
        status = rng.choice([Status.COMPLETED, Status.COMPLETED, Status.SKIPPED, Status.IN_PROGRESS,
                             Status.IN_PROGRESS, Status.NOT_STARTED])
        data = {"criteria": step.required_completion_criteria}
        if step.step_type == StepType.QUIZ and status == Status.IN_PROGRESS:
            data["attempts"] = [{"score": rng.choice([0, 50, 90])} for _ in range(rng.randint(0, 3))]
        row = LearningProgress.objects.create(
            user=learner, step=step, status=status, progress_data=data,
            completion_percentage=100 if status in DONE_STATUSES else rng.randint(0, 99),
            started_at=now, completed_at=now if status == Status.COMPLETED else None,
        )
        at = now - datetime.timedelta(minutes=rng.choice([1, 2, 3]))  # ties on purpose
        LearningProgress.objects.filter(pk=row.pk).update(updated_at=at)


def work_through(rng, learner, teacher, steps):
    """Real engine writes: open and finish what is open, excuse some steps, fail some quizzes twice."""
    for step in steps:
        state = engine.step_state(learner=learner, step=step)
        if not state.is_available or state.is_done:
            continue
        roll = rng.random()
        if step.step_type == StepType.QUIZ and roll < 0.4:
            engine.submit_quiz(learner=learner, step=step, answers=WRONG_ANSWERS)
            engine.submit_quiz(learner=learner, step=step, answers=WRONG_ANSWERS)  # may start a remedial path
        elif roll < 0.55:
            engine.skip_step(learner=learner, step=step, actor=teacher, reason="excused: was ill")
        elif roll < 0.85:
            engine.force_complete(learner=learner, step=step, actor=teacher, reason="done on paper")
        elif roll < 0.95:
            engine.open_step(learner=learner, step=step)
        else:
            break


SHAPES = ("fresh", "random", "engine", "engine_test_out", "engine_optional", "random_test_out")


def make_learner(rng, shape, steps, teacher, n):
    level = {"engine_test_out": "advanced", "random_test_out": "advanced", "engine_optional": "intermediate"}
    learner = UserFactory(username=f"eq{n}", grade=12)
    UserProfile.objects.filter(user=learner).update(background_level=level.get(shape, "beginner"))
    learning_paths.ensure_active_paths(learner=learner)
    now = timezone.now()
    if shape.startswith("random"):
        random_rows(rng, learner, steps, now)
    elif shape.startswith("engine"):
        work_through(rng, learner, teacher, steps)
    return learner


def assert_same(learner, today):
    states, expected = reference_dashboard(learner, today)
    got = new_dashboard(learner, today)
    for key in expected:
        assert got[key] == expected[key], (key, got[key], expected[key])
    # Every chapter the frontier may compute gives the full computation's step states.
    profile = UserProfile.objects.get(user=learner)
    frontier = engine.CurriculumFrontier(learner=learner, snapshot=curriculum_cache.snapshot(profile.grade),
                                         paths=learning_paths.active_paths(learner=learner))
    assert [c.pk for c in frontier.curriculum_chapters] == list(states)
    for chapter in frontier.curriculum_chapters:
        full = states[chapter.pk]
        mine = frontier.state(chapter)
        assert mine.lock_reason == full.lock_reason
        assert [step_facts(s) for s in mine.steps] == [step_facts(s) for s in full.steps]
        assert frontier.may_have_available(chapter) or not any(
            s.is_available and not s.is_done for s in full.steps)
    # The subject page (the frontier too) shows each subject's chapters with the full computation's states.
    for subject in {c.subject for c in frontier.curriculum_chapters}:
        page = subject_chapter_states(learner, subject)
        full = [cs for cs in states.values() if cs.chapter.subject_id == subject.pk]
        assert [(cs.chapter.pk, cs.lock_reason, [step_facts(s) for s in cs.steps]) for cs in page] == [
            (cs.chapter.pk, cs.lock_reason, [step_facts(s) for s in cs.steps]) for cs in full]
    return expected


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(6))
def test_frontier_dashboard_equals_the_full_computation(seed):
    rng = random.Random(seed)
    PathRule.objects.update_or_create(background_level="advanced", defaults={"test_out": True})
    PathRule.objects.update_or_create(background_level="intermediate", defaults={"leave_out_optional": True})
    steps = build_curriculum(rng)
    teacher = TeacherFactory()
    today = timezone.localdate()
    seen = set()
    for n, shape in enumerate(SHAPES * 2):
        learner = make_learner(rng, shape, steps, teacher, n)
        expected = assert_same(learner, today)
        seen.add((shape, bool(expected["recommendations"]), expected["has_progress"]))
    assert any(has for _shape, _recs, has in seen) and any(not has for _shape, _recs, has in seen)


@pytest.mark.django_db
def test_shapes_cover_failed_twice_remedial_excused_and_test_out():
    """The random shapes above really reach the cases they are meant to compare (not vacuous)."""
    kinds, remedial, skipped, test_out, omitted = set(), False, False, False, False
    PathRule.objects.update_or_create(background_level="advanced", defaults={"test_out": True})
    PathRule.objects.update_or_create(background_level="intermediate", defaults={"leave_out_optional": True})
    for seed in range(6):  # each seed adds chapters to the same class: later learners see a bigger curriculum
        rng = random.Random(seed)
        steps = build_curriculum(rng, tag=str(seed))
        teacher = TeacherFactory()
        for n, shape in enumerate(SHAPES * 2):
            learner = make_learner(rng, shape, steps, teacher, 100 * seed + n)
            expected = assert_same(learner, timezone.localdate())
            kinds |= {kind for _facts, kind, _reason, _quiz in expected["recommendations"]}
            main, remedial_paths = learning_paths.active_paths(learner=learner)
            remedial |= bool(remedial_paths)
            skipped |= LearningProgress.objects.filter(user=learner, status=Status.SKIPPED).exists()
            test_out |= bool(learning_paths.test_out_step_ids(main))
            omitted |= bool(main and main.omitted)
    assert kinds == {"next", "review"}
    assert remedial and skipped and test_out and omitted


def linear_curriculum(subjects, chapters, steps):
    """``subjects`` subjects of ``chapters`` chained chapters (each needs the one before) of ``steps`` steps."""
    every = []
    for n in range(subjects):
        subject = SubjectFactory(code=f"lin{n}", name=f"Linear {n}", order=n)
        previous = None
        for c in range(chapters):
            chapter = ChapterFactory(subject=subject, grade=12, order_index=c + 1, prerequisite_chapter=previous)
            every += [StepFactory(chapter=chapter, order_index=i + 1) for i in range(steps)]
            previous = chapter
    return every


@pytest.mark.django_db
@pytest.mark.parametrize("chapters", [4, 24])
def test_step_states_are_built_only_for_the_frontier_chapters(chapters, monkeypatch, django_assert_max_num_queries):
    """Whatever the curriculum's size, the dashboard runs the availability rules on a few chapters only.

    Four subjects of chained chapters, a learner half-way through each: the full computation builds a state for
    every step; the frontier only for the chapters a card or a suggestion comes from (one per subject here).
    """
    steps = linear_curriculum(4, chapters, 5)
    learner = UserFactory(username="half", grade=12)
    learning_paths.ensure_active_paths(learner=learner)
    per_subject = chapters * 5
    now = timezone.now()
    done = [s for n in range(4) for s in steps[n * per_subject:n * per_subject + per_subject // 2]]
    LearningProgress.objects.bulk_create([
        LearningProgress(user=learner, step=s, status=Status.COMPLETED, completion_percentage=100,
                         started_at=now, completed_at=now) for s in done
    ])
    built = []
    real = engine.chapter_states

    def counting(**kwargs):
        states = real(**kwargs)
        built.extend(s for cs in states.values() for s in cs.steps)
        return states

    dashboard.build_dashboard(learner=learner)  # the curriculum snapshot is cached now
    monkeypatch.setattr(engine, "chapter_states", counting)
    with django_assert_max_num_queries(4):  # profile, paths, rows, activity (the curriculum is cached)
        dashboard.build_dashboard(learner=learner)
    assert len(built) <= 4 * 5  # one chapter per subject, 5 steps each, at both sizes
    built.clear()
    reference_dashboard(learner, timezone.localdate())
    assert len(built) == len(steps)  # what the full computation builds
    assert_same(learner, timezone.localdate())
