"""engine._write_transaction: when its atomic() is the outermost one, a write on PostgreSQL sends its
COMMIT in the same round trip as its rows (a psycopg pipeline), and its BEGIN with its first read
(mars_labs/postgresql): two round trips in all. A write that fails there rolls everything back and leaves
the connection usable; inside a caller's transaction it never commits early. Round trips are read from
libpq's protocol trace (tests/pgtrace.py)."""

import contextlib
import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from api.models import ApiEvent
from progress import engine
from progress.enums import EventKind
from progress.models import LearningProgress, ProgressEvent
from tests.factories import ChapterFactory, StepFactory, UserFactory
from tests.pgtrace import protocol_trace

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


def traced():
    """The protocol trace of what the block sends on PostgreSQL; nothing to trace on SQLite (None)."""
    return protocol_trace(connection) if POSTGRESQL else contextlib.nullcontext()


def state(learner, step):
    row = LearningProgress.objects.get(user=learner, step=step)
    return (
        row.progress_data.get("external_report_count", 0),
        ProgressEvent.objects.filter(user=learner, kind=EventKind.ANSWERED).count(),
        ApiEvent.objects.count(),
    )


def api_event(learner, step, event_id):
    return lambda result: [ApiEvent(event_id=event_id, learner_id=learner.pk, step_id=step.pk, verb="answered")]


def test_an_outermost_write_commits_with_its_rows(simulation):
    learner, step = simulation

    with traced() as trace:
        result = engine.report_external(
            learner=learner, step=step, completed=False, score=40, also=api_event(learner, step, uuid.uuid4())
        )

    assert result.ok
    assert not connection.in_atomic_block and connection.get_autocommit()
    if POSTGRESQL:
        (read, write) = trace.round_trips  # BEGIN + the locked read; the rows + COMMIT
        assert read[0] == "BEGIN" and len(read) == 2
        assert write[-1] == "COMMIT" and len(write) == 2
        assert connection.connection.info.transaction_status == 0  # IDLE: the COMMIT went through
    assert state(learner, step) == (1, 1, 1)


def test_a_write_failing_with_its_commit_leaves_nothing_and_a_usable_connection(simulation):
    learner, step = simulation
    taken = uuid.uuid4()
    engine.report_external(learner=learner, step=step, completed=False, score=40, also=api_event(learner, step, taken))
    before = state(learner, step)

    with traced() as trace, pytest.raises(IntegrityError):  # the same event id: the unique index refuses it all
        engine.report_external(
            learner=learner, step=step, completed=True, score=90, also=api_event(learner, step, taken)
        )

    assert state(learner, step) == before
    assert not LearningProgress.objects.get(user=learner, step=step).progress_data.get("external_completed")
    assert not connection.in_atomic_block and connection.get_autocommit()
    if POSTGRESQL:  # the COMMIT went with the write, the server skipped it, Django rolled back
        assert trace.count("COMMIT") == 1 and trace.round_trips[-1] == ["ROLLBACK"]
    # The connection goes on working (the failed transaction was rolled back, not left open).
    assert engine.report_external(
        learner=learner, step=step, completed=False, score=50, also=api_event(learner, step, uuid.uuid4())
    ).ok
    assert state(learner, step) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_a_write_inside_a_callers_transaction_does_not_commit_early(simulation):
    learner, step = simulation
    before = state(learner, step)

    with traced() as trace, transaction.atomic():
        assert engine.report_external(learner=learner, step=step, completed=False, score=40).ok
        transaction.set_rollback(True)  # the caller changes its mind: the write must go with it

    if POSTGRESQL:
        assert trace.count("COMMIT") == 0 and trace.round_trips[-1] == ["ROLLBACK"]
    assert state(learner, step) == before


def test_a_first_write_reads_its_check_and_finds_no_row_in_one_statement():
    """No row yet: the check and the row's absence come from one statement, then the row is inserted, then
    the rows go with COMMIT: three round trips on PostgreSQL (the facts alone used to be a fourth)."""
    learner = UserFactory(grade=12)
    step = StepFactory(chapter=ChapterFactory(grade=12), order_index=1, step_type="interactive",
                       required_completion_criteria={"type": "external"})

    with traced() as trace:
        result = engine.report_external(learner=learner, step=step, completed=True)

    assert result.ok and result.completed
    assert LearningProgress.objects.get(user=learner, step=step).status == "completed"
    if POSTGRESQL:
        # (statements run often enough are prepared: the trace then names them, not their text)
        read, insert, write = trace.round_trips
        assert read[0] == "BEGIN" and len(read) == 2
        assert len(insert) == 1 and write[-1] == "COMMIT"
