"""engine._Writes: a learner's write sends its rows together at the end of its transaction
(one statement on PostgreSQL), or nothing at all when it is refused or fails."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from progress import engine
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent
from tests.factories import StepFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db

WRITES = ("UPDATE", "INSERT", "WITH")


def writes_in(queries):
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]


@pytest.fixture
def learner():
    return UserFactory(grade=12)


@pytest.fixture
def manual_step():
    chapter = make_chapter(steps=0, grade=12)
    return StepFactory(chapter=chapter, order_index=1, required_completion_criteria={"type": "manual"})


def test_a_completion_sends_row_and_event_in_one_statement_on_postgresql(learner, manual_step):
    engine.open_step(learner=learner, step=manual_step)

    with CaptureQueriesContext(connection) as queries:
        result = engine.mark_done(learner=learner, step=manual_step)

    assert result.completed
    # SQLite: the row UPDATE, the learner's progress version (progress/versions.py), the COMPLETED INSERT
    expected = 1 if connection.vendor == "postgresql" else 3
    assert len(writes_in(queries)) == expected, writes_in(queries)
    row = LearningProgress.objects.get(user=learner, step=manual_step)
    assert (row.status, row.completion_percentage, row.progress_data["marked_done"]) == (Status.COMPLETED, 100, True)
    assert row.completed_at is not None and row.updated_at >= row.completed_at
    assert ProgressEvent.objects.filter(user=learner, step=manual_step, kind=EventKind.COMPLETED).count() == 1


def test_a_refused_write_sends_nothing(learner, manual_step):
    second = StepFactory(chapter=manual_step.chapter, order_index=2, required_completion_criteria={"type": "manual"})
    before = ProgressEvent.objects.count()

    with CaptureQueriesContext(connection) as queries:
        result = engine.mark_done(learner=learner, step=second)  # locked: the first step is not done

    assert result.outcome == engine.Outcome.LOCKED
    assert writes_in(queries) == []
    assert ProgressEvent.objects.count() == before
    assert not LearningProgress.objects.filter(user=learner, step=second).exists()


def test_a_failure_while_sending_leaves_nothing_written(learner, manual_step):
    engine.open_step(learner=learner, step=manual_step)
    before = (LearningProgress.objects.get(user=learner, step=manual_step).status, ProgressEvent.objects.count())

    def crash(execute, sql, params, many, context):
        if 'INSERT INTO "progress_progressevent"' in sql:
            raise RuntimeError("disk full")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(crash), pytest.raises(RuntimeError):
        engine.mark_done(learner=learner, step=manual_step)

    after = (LearningProgress.objects.get(user=learner, step=manual_step).status, ProgressEvent.objects.count())
    assert after == before == (Status.IN_PROGRESS, 1)


def test_a_row_changed_twice_is_updated_once_with_every_field(learner, clock):
    chapter = make_chapter(steps=0, grade=12)
    video = StepFactory(chapter=chapter, order_index=1, required_completion_criteria={"type": "time", "value": 600})
    engine.open_step(learner=learner, step=video)
    clock.advance(10)

    with CaptureQueriesContext(connection) as queries:
        result = engine.record_active_time(learner=learner, step=video, seconds=10, watched=40)

    assert result.details["credited"] == 10
    row_updates = [sql for sql in writes_in(queries) if 'UPDATE "progress_learningprogress"' in sql]
    assert len(row_updates) == 1
    row = LearningProgress.objects.get(user=learner, step=video)
    assert (row.progress_data["active_seconds"], row.progress_data["watched_percent"]) == (10, 40)
    learner.profile.refresh_from_db()
    assert learner.profile.last_heartbeat_at == clock.now
    assert ProgressEvent.objects.filter(user=learner, kind=EventKind.TIME).count() == 1
