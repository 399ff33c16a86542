"""bench/make_dataset.py builds what the app itself would have written (a tiny dataset, checked row by row)."""

import statistics
from collections import Counter, defaultdict

import pytest

from bench.make_dataset import CLASS_SIZE, build_dataset
from curriculum.models import Chapter, LearningStep
from learners.models import Classroom, User
from progress import engine
from progress.enums import EventKind, PathType, Status
from progress.models import LearningPath, LearningProgress, ProgressEvent
from progress.paths import plan_main_path

LEARNERS, SUBJECTS, CHAPTERS, STEPS = 50, 2, 4, 5


@pytest.fixture
def dataset(db):
    counts = build_dataset(learners=LEARNERS, subjects=SUBJECTS, chapters=CHAPTERS, steps=STEPS, seed=7, tune=False,
                           out=lambda _line: None)
    return counts


def learners():
    return list(User.objects.filter(is_staff=False).order_by("pk"))


def test_counts_and_classrooms_of_forty(dataset):
    assert dataset["learners"] == LEARNERS
    assert dataset["steps"] == SUBJECTS * CHAPTERS * STEPS
    assert dataset["learning_progress"] == LearningProgress.objects.count() > 0
    sizes = sorted((c.learners.count() for c in Classroom.objects.all()), reverse=True)
    assert sizes == [CLASS_SIZE, LEARNERS - CLASS_SIZE]
    for classroom in Classroom.objects.all():
        (teacher,) = classroom.teachers.all()
        assert teacher.is_staff and teacher.has_perm("progress.view_learningprogress")
        assert teacher.profile.grade is None
    assert all(u.profile.grade == 12 for u in learners())


def test_progress_is_skewed_most_early_a_few_far_ahead(dataset):
    total = LearningStep.objects.count()
    done = Counter(dict.fromkeys((u.pk for u in learners()), 0))
    done.update(LearningProgress.objects.filter(status=Status.COMPLETED).values_list("user_id", flat=True))
    shares = sorted(n / total for n in done.values())
    assert statistics.median(shares) < 0.25
    assert statistics.median(shares) < statistics.mean(shares)  # a long tail to the right
    assert shares[-1] > 3 * statistics.median(shares)


def test_completed_at_iff_completed_and_one_event_per_completion(dataset):
    rows = list(LearningProgress.objects.all())
    assert {r.status for r in rows} <= {Status.COMPLETED, Status.IN_PROGRESS}
    for row in rows:
        assert (row.completed_at is not None) == (row.status == Status.COMPLETED)
        assert row.started_at is not None and (row.completed_at is None or row.completed_at >= row.started_at)
        assert (row.completion_percentage == 100) == (row.status == Status.COMPLETED)
    completed = Counter(ProgressEvent.objects.filter(kind=EventKind.COMPLETED).values_list("user_id", "step_id"))
    assert set(completed.values()) == {1}
    assert set(completed) == {(r.user_id, r.step_id) for r in rows if r.status == Status.COMPLETED}
    started = Counter(ProgressEvent.objects.filter(kind=EventKind.STARTED).values_list("user_id", "step_id"))
    assert set(started.values()) == {1}
    assert set(started) == {(r.user_id, r.step_id) for r in rows}


def test_rows_are_what_the_engine_says_about_them(dataset):
    """Reason and percentage are the engine's verdict on the stored progress_data; quiz attempts add up."""
    answered = Counter(ProgressEvent.objects.filter(kind=EventKind.ANSWERED).values_list("user_id", "step_id"))
    time_events = defaultdict(float)
    for user_id, step_id, data in ProgressEvent.objects.filter(kind=EventKind.TIME).values_list(
        "user_id", "step_id", "data"
    ):
        time_events[(user_id, step_id)] += data["seconds"]
    quizzes = failed_first = 0
    for row in LearningProgress.objects.select_related("step"):
        met, percentage, reason = engine.evaluate(progress=row, step=row.step)
        assert met == (row.status == Status.COMPLETED)
        assert (percentage, reason) == (row.completion_percentage, row.progress_data["reason"])
        assert row.progress_data["criteria"] == row.step.required_completion_criteria
        attempts = row.progress_data.get("attempts", [])
        if row.step.step_type == "quiz":
            assert answered[(row.user_id, row.step_id)] == len(attempts)
            if attempts:
                assert row.progress_data["best_score"] == max(a["score"] for a in attempts)
                for attempt in attempts:  # the score is what the answers earn
                    questions = row.step.activity["questions"]
                    right = sum(attempt["answers"][str(i)] == q["answer"] for i, q in enumerate(questions))
                    assert attempt["score"] == round(100 * right / len(questions))
            if row.status == Status.COMPLETED:
                quizzes += 1
                failed_first += len(attempts) > 1
        if row.step.required_completion_criteria["type"] == "time":
            assert time_events[(row.user_id, row.step_id)] == row.progress_data.get("active_seconds", 0)
    assert quizzes and failed_first  # some quizzes were passed at the second attempt


def test_progress_respects_sequential_unlocking(dataset):
    """chapter_states agrees with the rows: nothing stored on a locked step, each chapter a done prefix."""
    chapters = list(Chapter.objects.all())
    for learner in learners():
        states = engine.chapter_states(learner=learner, chapters=chapters)
        for state in states.values():
            statuses = [s.status for s in state.steps]
            for step_state in state.steps:
                if step_state.progress is not None:
                    assert not step_state.lock_reason, (learner, step_state.step, step_state.lock_reason)
            # completed*, then at most one in progress, then not started
            seen = "".join({"completed": "c", "in_progress": "i", "not_started": "n"}[s] for s in statuses)
            assert seen.rstrip("n").rstrip("i").strip("c") == "", seen


def test_every_learner_has_the_path_the_app_would_build(dataset):
    paths = {p.user_id: p for p in LearningPath.objects.filter(is_active=True)}
    assert LearningPath.objects.count() == LEARNERS
    kinds = Counter()
    for learner in learners():
        path = paths[learner.pk]
        plan = plan_main_path(learner=learner)
        assert (path.path_type, path.name, path.description) == (plan.path_type, plan.name, plan.description)
        assert path.steps_sequence == plan.steps
        assert path.step_notes == plan.step_notes
        assert path.omitted == plan.omitted
        kinds[path.path_type] += 1
        assert ProgressEvent.objects.filter(user=learner, kind=EventKind.PATH).count() == 1
    assert kinds[PathType.DEFAULT] and kinds[PathType.PERSONALIZED]


def test_next_steps_work_for_a_learner_in_progress(dataset):
    learner = User.objects.filter(step_progress__status=Status.IN_PROGRESS).order_by("pk").first()
    recommendations = engine.next_steps(learner=learner)
    assert recommendations
    assert all(not r.state.lock_reason and not r.state.is_done for r in recommendations)
    in_progress = set(LearningProgress.objects.filter(user=learner, status=Status.IN_PROGRESS)
                      .values_list("step_id", flat=True))
    assert {r.step.pk for r in recommendations} & in_progress


def _shape(value):
    """Keys all the way down (list items by their first element), values left out: a JSON value's shape."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_rows_and_events_have_the_shapes_the_engine_writes(dataset):
    """A fresh learner works through the first chapter through the engine; the dataset's rows look the same."""
    from datetime import timedelta

    from django.utils import timezone

    from bench.make_dataset import EXPECTED_ANSWER
    from progress.paths import ensure_active_paths
    from tests.factories import UserFactory

    chapter = Chapter.objects.order_by("subject__order", "order_index").first()
    steps = list(chapter.steps.order_by("order_index"))
    fresh = UserFactory(username="fresh", grade=12)
    ensure_active_paths(learner=fresh)
    now = timezone.now() - timedelta(hours=1)
    for step in steps:
        now += timedelta(minutes=1)
        assert engine.open_step(learner=fresh, step=step, now=now).ok
        kind = step.required_completion_criteria["type"]
        if kind == "time":
            for _beat in range(2):
                now += timedelta(seconds=30)
                assert engine.record_active_time(learner=fresh, step=step, seconds=30, now=now).ok
        elif kind == "external":
            assert engine.report_external(learner=fresh, step=step, completed=True, now=now).completed
        elif kind == "submission":
            assert engine.submit_answer(learner=fresh, step=step, answer=EXPECTED_ANSWER, now=now).completed
        elif kind == "quiz":
            answers = {str(i): q["answer"] for i, q in enumerate(step.activity["questions"])}
            assert engine.submit_quiz(learner=fresh, step=step, answers=answers, now=now).completed
    theirs = {r.step_id: r for r in LearningProgress.objects.filter(user=fresh)}
    assert all(r.status == Status.COMPLETED for r in theirs.values()) and len(theirs) == len(steps)

    def events(user, step):
        rows = ProgressEvent.objects.filter(user=user, step=step).order_by("created_at", "pk")
        return [(e.kind, _shape(e.data), e.actor_id, e.reason) for e in rows]

    quiz = steps[-1]
    # A dataset learner who, like the fresh one, is a beginner and passed the chapter's quiz at the first attempt.
    row = next(
        r for r in LearningProgress.objects.filter(
            step=quiz, status=Status.COMPLETED, user__profile__background_level="beginner"
        )
        if len(r.progress_data["attempts"]) == 1
    )
    ours = {r.step_id: r for r in LearningProgress.objects.filter(user_id=row.user_id, step__in=steps)}
    for step in steps:
        assert _shape(ours[step.pk].progress_data) == _shape(theirs[step.pk].progress_data), step.step_type
        assert ours[step.pk].progress_data["reason"] == theirs[step.pk].progress_data["reason"]
        assert events(row.user_id, step) == events(fresh, step), step.step_type
    path_events = [ProgressEvent.objects.get(user=user, kind=EventKind.PATH) for user in (row.user_id, fresh.pk)]
    assert path_events[0].reason == path_events[1].reason
    assert _shape(path_events[0].data) == _shape(path_events[1].data)


def test_the_command_builds_a_sqlite_file_with_the_checkpoint_thread_at_its_default(tmp_path):
    """A real run of the script, as an operator starts it: the app's checkpoint thread (on by default) must
    not hold the file while the load switches the journal off (it did: "database is locked")."""
    import os
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    target = tmp_path / "tiny.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_CHECKPOINT_MS", "DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, str(root / "bench" / "make_dataset.py"), "--learners", "3", "--subjects", "1",
         "--chapters", "2", "--steps", "2", "--database-url", f"sqlite:///{target}"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with sqlite3.connect(target) as connection:
        (learners,) = connection.execute("SELECT count(*) FROM learners_user WHERE NOT is_staff").fetchone()
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    assert learners == 3
    assert mode == "wal"  # switched back for the app once loaded
