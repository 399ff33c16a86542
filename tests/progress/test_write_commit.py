"""engine._write_transaction: when its atomic() is the outermost one, a write on PostgreSQL sends its
COMMIT in the same round trip as its rows (a psycopg pipeline). A write that fails there rolls everything
back and leaves the connection usable; inside a caller's transaction it never commits early."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from api.models import ApiEvent
from progress import engine
from progress.enums import EventKind
from progress.models import LearningProgress, ProgressEvent
from tests.factories import ChapterFactory, StepFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # outside a test transaction, as in production

POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def simulation():
    learner = UserFactory(grade=12)
    step = StepFactory(
        chapter=ChapterFactory(grade=12),
        order_index=1,
        step_type="interactive",
        required_completion_criteria={"type": "external"},
    )
    engine.open_step(learner=learner, step=step)
    return learner, step


@pytest.fixture
def pipelines(monkeypatch):
    """How many psycopg pipelines were opened (none on SQLite)."""
    opened = []
    if POSTGRESQL:
        connection.ensure_connection()
        cls = type(connection.connection)
        original = cls.pipeline
        monkeypatch.setattr(cls, "pipeline", lambda self: opened.append(1) or original(self))
    return opened


def state(learner, step):
    row = LearningProgress.objects.get(user=learner, step=step)
    return (
        row.progress_data.get("external_report_count", 0),
        ProgressEvent.objects.filter(user=learner, kind=EventKind.ANSWERED).count(),
        ApiEvent.objects.count(),
    )


def api_event(learner, step, event_id):
    return lambda result: [ApiEvent(event_id=event_id, learner_id=learner.pk, step_id=step.pk, verb="answered")]


def test_an_outermost_write_commits_with_its_rows(simulation, pipelines):
    learner, step = simulation

    result = engine.report_external(
        learner=learner, step=step, completed=False, score=40, also=api_event(learner, step, uuid.uuid4())
    )

    assert result.ok
    assert len(pipelines) == (1 if POSTGRESQL else 0)
    assert not connection.in_atomic_block and connection.get_autocommit()
    if POSTGRESQL:
        assert connection.connection.info.transaction_status == 0  # IDLE: the COMMIT went through
    assert state(learner, step) == (1, 1, 1)


def test_a_write_failing_with_its_commit_leaves_nothing_and_a_usable_connection(simulation, pipelines):
    learner, step = simulation
    taken = uuid.uuid4()
    engine.report_external(learner=learner, step=step, completed=False, score=40, also=api_event(learner, step, taken))
    before = state(learner, step)

    with pytest.raises(IntegrityError):  # the same event id again: the unique index refuses the whole write
        engine.report_external(
            learner=learner, step=step, completed=True, score=90, also=api_event(learner, step, taken)
        )

    assert state(learner, step) == before
    assert not LearningProgress.objects.get(user=learner, step=step).progress_data.get("external_completed")
    assert not connection.in_atomic_block and connection.get_autocommit()
    assert len(pipelines) == (2 if POSTGRESQL else 0)
    # The connection goes on working (the failed transaction was rolled back, not left open).
    assert engine.report_external(
        learner=learner, step=step, completed=False, score=50, also=api_event(learner, step, uuid.uuid4())
    ).ok
    assert state(learner, step) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_a_write_inside_a_callers_transaction_does_not_commit_early(simulation, pipelines):
    learner, step = simulation
    before = state(learner, step)

    with transaction.atomic():
        assert engine.report_external(learner=learner, step=step, completed=False, score=40).ok
        transaction.set_rollback(True)  # the caller changes its mind: the write must go with it

    assert pipelines == []
    assert state(learner, step) == before
