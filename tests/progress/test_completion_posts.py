"""The POSTs that complete a step by themselves (simulation report, exercise answer, quiz): what they
cost in queries whatever the size of the chapter or the learner's path, and how the quiz's result
reaches the page without a session write (progress/views/learning.py, engine.submit_quiz)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curriculum.enums import StepType
from progress import engine
from progress import paths as learning_paths
from progress.enums import EventKind, PathType, Status
from progress.models import LearningPath, LearningProgress, ProgressEvent
from progress.views.learning import QUIZ_RESULT_COOKIE
from tests.factories import LearningPathFactory, QuizStepFactory, StepFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db

# Measured; the same for 5 and 40 steps before the one completed and for a path of 4,000 steps.
# The session with its user, the step, the lock check with the row (for a quiz it also says
# whether the quiz is a test-out), the writes (PostgreSQL: one statement, engine._Writes; SQLite:
# the row, the progress version, the events) and, inside a test's transaction, SAVEPOINT and
# RELEASE for the engine's transaction.
REPORT_QUERIES = 6 if connection.vendor == "postgresql" else 8
ANSWER_QUERIES = REPORT_QUERIES
# Whether the learner's main path lists the quiz as a test-out comes with the lock check.
QUIZ_QUERIES = REPORT_QUERIES

RIGHT = {"q0": "1", "q1": "1"}  # QuizStepFactory's right answers
WRONG = {"q0": "0", "q1": "0"}


def chapter_before(learner, steps):
    """A chapter whose first ``steps`` steps the learner has done (each a view step, opened)."""
    chapter = make_chapter(steps=steps, grade=12)
    for step in chapter.steps.order_by("order_index"):
        engine.open_step(learner=learner, step=step)
    return chapter


def big_main_path(learner, steps=4000):
    return LearningPathFactory(
        user=learner, path_type=PathType.DEFAULT, steps_sequence=[f"{n:032x}" for n in range(steps)]
    )


def last_step(chapter, **kwargs):
    return StepFactory(chapter=chapter, order_index=chapter.steps.count() + 1, **kwargs)


def post(client, name, step, data=None):
    return client.post(reverse(f"progress:{name}", args=[step.pk]), data or {})


@pytest.mark.parametrize("steps", [5, 40])
def test_simulation_report_query_budget(learner_client, learner, django_assert_max_num_queries, steps):
    chapter = chapter_before(learner, steps)
    step = last_step(chapter, step_type=StepType.INTERACTIVE, required_completion_criteria={"type": "external"})
    big_main_path(learner)
    learner_client.get(step.get_absolute_url())

    with django_assert_max_num_queries(REPORT_QUERIES):
        response = post(learner_client, "step-report", step)

    assert response.status_code == 302
    assert LearningProgress.objects.get(user=learner, step=step).status == Status.COMPLETED


@pytest.mark.parametrize("steps", [5, 40])
def test_exercise_answer_query_budget(learner_client, learner, django_assert_max_num_queries, steps):
    chapter = chapter_before(learner, steps)
    step = last_step(
        chapter,
        step_type=StepType.EXERCISE,
        required_completion_criteria={"type": "submission"},
        activity={"expected_answer": "4 ohm"},
    )
    big_main_path(learner)
    learner_client.get(step.get_absolute_url())

    with django_assert_max_num_queries(ANSWER_QUERIES):
        response = post(learner_client, "step-answer", step, {"answer": "4 Ohm"})

    assert response.status_code == 302
    assert LearningProgress.objects.get(user=learner, step=step).status == Status.COMPLETED


@pytest.mark.parametrize("steps", [5, 40])
def test_quiz_query_budget_and_the_path_is_not_loaded(learner_client, learner, django_assert_max_num_queries, steps):
    chapter = chapter_before(learner, steps)
    step = QuizStepFactory(chapter=chapter, order_index=steps + 1)
    big_main_path(learner)
    learner_client.get(step.get_absolute_url())

    with django_assert_max_num_queries(QUIZ_QUERIES), CaptureQueriesContext(connection) as queries:
        response = post(learner_client, "step-quiz", step, RIGHT)

    assert response.status_code == 302
    assert LearningProgress.objects.get(user=learner, step=step).status == Status.COMPLETED
    # Neither the path's 4,000 step ids nor the session are read or written for a quiz.
    assert not [q["sql"] for q in queries.captured_queries if "steps_sequence" in q["sql"]]
    assert not [q["sql"] for q in queries.captured_queries if "learners_session" in q["sql"] and "UPDATE" in q["sql"]]


def test_quiz_sends_row_and_events_together(learner):
    step = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    engine.open_step(learner=learner, step=step)

    with CaptureQueriesContext(connection) as queries:
        result = engine.submit_quiz(learner=learner, step=step, answers={"0": 1, "1": 1})

    assert result.completed
    writes = [
        q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "WITH"))
    ]
    # PostgreSQL: one statement; SQLite: the row, the progress version, the ANSWERED and COMPLETED events.
    assert len(writes) == (1 if connection.vendor == "postgresql" else 3), writes
    kinds = ProgressEvent.objects.filter(user=learner, step=step).values_list("kind", flat=True)
    assert sorted(kinds) == sorted([EventKind.STARTED, EventKind.ANSWERED, EventKind.COMPLETED])
    row = LearningProgress.objects.get(user=learner, step=step)
    assert (row.progress_data["best_score"], len(row.progress_data["attempts"])) == (100, 1)


def test_quiz_result_shows_once_from_the_cookie(learner_client, learner):
    step = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    learner_client.get(step.get_absolute_url())

    response = post(learner_client, "step-quiz", step, WRONG)

    cookie = response.cookies[QUIZ_RESULT_COOKIE]
    assert cookie.value == f"{learner.pk}.1" and cookie["path"] == step.get_absolute_url() and cookie["httponly"]
    html = learner_client.get(step.get_absolute_url()).content.decode()
    assert "Your score: 0%" in html and html.count("not right") == 2
    assert "Right answer:" not in html  # not passed yet: the right choices stay hidden
    again = learner_client.get(step.get_absolute_url()).content.decode()
    assert "Your score" not in again and 'name="q0"' in again


def test_quiz_result_cookie_of_another_learner_or_attempt_shows_nothing(client, learner):
    other = UserFactory(username="bela", grade=12)
    step = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    engine.open_step(learner=learner, step=step)
    engine.submit_quiz(learner=learner, step=step, answers={"0": 0, "1": 0})
    client.force_login(learner)

    for forged in (f"{other.pk}.1", f"{learner.pk}.2", f"{learner.pk}.0", "junk"):
        client.cookies[QUIZ_RESULT_COOKIE] = forged
        html = client.get(step.get_absolute_url()).content.decode()
        assert "Your score" not in html, forged

    client.cookies[QUIZ_RESULT_COOKIE] = f"{learner.pk}.1"
    assert "Your score: 0%" in client.get(step.get_absolute_url()).content.decode()


def test_quiz_result_after_the_quiz_changed_shows_no_details(learner_client, learner):
    step = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    learner_client.get(step.get_absolute_url())
    post(learner_client, "step-quiz", step, WRONG)
    step.activity = {"questions": [*step.activity["questions"], {"text": "New?", "choices": ["a", "b"], "answer": 0}]}
    step.save()

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert "Your score" not in html and 'name="q2"' in html


@pytest.mark.parametrize(
    "notes, expected",
    [
        ({}, False),
        ({"QUIZ": {"test_out": True, "note": "test out"}}, True),
        ({"QUIZ": {"note": "skipped if you test out"}}, False),
        ({"OTHER": {"test_out": True}}, False),
    ],
)
def test_lists_as_test_out_agrees_with_the_loaded_path(learner, notes, expected):
    quiz = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    other = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    keys = {"QUIZ": str(quiz.pk), "OTHER": str(other.pk)}
    LearningPathFactory(
        user=learner,
        path_type=PathType.PERSONALIZED,
        steps_sequence=[str(quiz.pk)],
        step_notes={keys[k]: v for k, v in notes.items()},
    )
    # A remedial path listing the quiz as a test-out does not count: only the main path does.
    LearningPathFactory(
        user=learner, path_type=PathType.REMEDIAL, chapter=quiz.chapter, step_notes={str(quiz.pk): {"test_out": True}}
    )

    main, _remedial = learning_paths.active_paths(learner=learner)
    assert (str(quiz.pk) in learning_paths.test_out_step_ids(main)) is expected
    assert learning_paths.lists_as_test_out(learner=learner, step=quiz) is expected
    # The engine's lock check asks the same in its own statement, for a quiz only.
    for row in (None, "read", "lock"):
        facts, _progress = engine._step_facts(learner, quiz, row=row)
        assert facts.listed_test_out is expected
    plain = StepFactory(chapter=quiz.chapter, order_index=2)
    LearningPath.objects.filter(user=learner, path_type=PathType.PERSONALIZED).update(
        step_notes={str(plain.pk): {"test_out": True}})
    assert engine._step_facts(learner, plain)[0].listed_test_out is None


def test_quiz_submit_asks_about_test_out_in_the_lock_check_alone(learner):
    """No statement of its own reads the learner's paths: the lock check says whether the quiz tests out."""
    quiz = QuizStepFactory(chapter=make_chapter(steps=1, grade=12), order_index=2)
    LearningPathFactory(user=learner, path_type=PathType.PERSONALIZED, steps_sequence=[str(quiz.pk)],
                        step_notes={str(quiz.pk): {"test_out": True, "note": "test out"}})

    with CaptureQueriesContext(connection) as queries:
        result = engine.submit_quiz(learner=learner, step=quiz, answers={"0": 1, "1": 1})

    # The chapter's first step is not done: only the test-out opens the quiz.
    assert result.ok and result.completed, result.reason
    reads_of_paths = [q["sql"] for q in queries.captured_queries
                      if "progress_learningpath" in q["sql"] and "curriculum_learningstep st" not in q["sql"]
                      and q["sql"].lstrip().upper().startswith("SELECT")]
    # The test-out itself loads the main path (to move the quiz and skip the rest): one read, not two.
    assert len(reads_of_paths) == 1, reads_of_paths


def test_lists_as_test_out_ignores_an_ended_path(learner):
    quiz = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    LearningPathFactory(user=learner, is_active=False, step_notes={str(quiz.pk): {"test_out": True}})

    assert learning_paths.lists_as_test_out(learner=learner, step=quiz) is False


def test_passing_after_fewer_failures_than_the_threshold_sends_no_path_update(learner, settings):
    """One failed attempt could not have proposed a remedial path (REMEDIAL_AFTER_FAILED_ATTEMPTS = 2)."""
    settings.REMEDIAL_AFTER_FAILED_ATTEMPTS = 2
    step = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    assert not engine.submit_quiz(learner=learner, step=step, answers={"0": 0, "1": 0}).completed

    with CaptureQueriesContext(connection) as queries:
        assert engine.submit_quiz(learner=learner, step=step, answers={"0": 1, "1": 1}).completed

    assert not [q["sql"] for q in queries.captured_queries
                if "progress_learningpath" in q["sql"] and q["sql"].lstrip().upper().startswith("UPDATE")]


def test_passing_ends_a_remedial_path_the_lock_check_did_not_see(learner, settings, monkeypatch):
    """Two failed attempts may have proposed a path after the lock check's snapshot: the pass ends it anyway."""
    settings.REMEDIAL_AFTER_FAILED_ATTEMPTS = 2
    step = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    for _attempt in range(2):
        engine.submit_quiz(learner=learner, step=step, answers={"0": 0, "1": 0})
    remedial = LearningPath.objects.get(user=learner, path_type=PathType.REMEDIAL, is_active=True)
    real_facts = engine._step_facts

    def facts_without_the_path(*args, **kwargs):  # as if the path committed after the snapshot
        facts, progress = real_facts(*args, **kwargs)
        facts.has_remedial = False
        return facts, progress

    monkeypatch.setattr(engine, "_step_facts", facts_without_the_path)
    assert engine.submit_quiz(learner=learner, step=step, answers={"0": 1, "1": 1}).completed

    remedial.refresh_from_db()
    assert remedial.is_active is False


def test_passing_quiz_without_remedial_path_sends_no_path_update(learner):
    step = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    engine.open_step(learner=learner, step=step)

    with CaptureQueriesContext(connection) as queries:
        assert engine.submit_quiz(learner=learner, step=step, answers={"0": 1, "1": 1}).completed

    assert not [
        q["sql"]
        for q in queries.captured_queries
        if "progress_learningpath" in q["sql"] and q["sql"].lstrip().upper().startswith("UPDATE")
    ]


@pytest.mark.parametrize("failed_first", [False, True])
def test_passing_quiz_ends_the_chapters_remedial_path(learner, failed_first):
    step = QuizStepFactory(chapter=make_chapter(steps=0, grade=12), order_index=1)
    engine.open_step(learner=learner, step=step)
    if failed_first:
        engine.submit_quiz(learner=learner, step=step, answers={"0": 0, "1": 0})
    remedial = LearningPathFactory(
        user=learner, path_type=PathType.REMEDIAL, chapter=step.chapter, steps_sequence=[str(step.pk)]
    )

    assert engine.submit_quiz(learner=learner, step=step, answers={"0": 1, "1": 1}).completed

    remedial.refresh_from_db()
    assert not remedial.is_active and remedial.ended_at is not None
    assert not LearningPath.objects.filter(user=learner, path_type=PathType.REMEDIAL, is_active=True).exists()
