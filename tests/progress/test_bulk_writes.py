"""progress.bulk and the trusted MARS-labs apply built on it write exactly what the ORM wrote.

``apply_marslabs_documents`` (trusted) used to write with ``bulk_create`` /
``bulk_update``; it now writes with ``progress.bulk`` (executemany on SQLite,
COPY and ``UPDATE ... FROM unnest`` on PostgreSQL) for speed. These tests
run the ORM version (kept below as the reference) and the engine on the same
documents and compare the stored rows column by column, as the database
holds them (raw SQL, so JSON text and timestamps are compared too).
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from curriculum.enums import StepType
from progress import bulk, engine
from progress.enums import EventKind, Status
from progress.models import LearningProgress, Progress, ProgressEvent
from tests.factories import ChapterFactory, QuizStepFactory, StepFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def curriculum():
    """Physics 12: "Ohm's Law" (reading, simulation, quiz) and "Lenz Law" (reading only: no interactive step)."""
    physics = SubjectFactory(code="phy", name="Physics")
    ohm = ChapterFactory(subject=physics, grade=12, title="Ohm's Law")
    StepFactory(chapter=ohm, order_index=1, title="Theory")
    StepFactory(chapter=ohm, order_index=2, title="Simulation", step_type=StepType.INTERACTIVE,
                required_completion_criteria={"type": "external"})
    QuizStepFactory(chapter=ohm, order_index=3, title="Quiz")
    lenz = ChapterFactory(subject=physics, grade=12, title="Lenz Law")
    StepFactory(chapter=lenz, order_index=1, title="Theory")
    return ohm


def _orm_reference(documents, *, actor, now):
    """The trusted apply as it was written with the ORM (before progress.bulk): the behaviour to keep."""
    index = engine._ChapterIndex()
    reports, wanted = [], {}
    for document in documents:
        report = engine.ApplyReport(document_id=document.pk)
        for step_id in engine._document_targets(index, document, report):
            wanted.setdefault((document.user_id, step_id), document.pk)
        reports.append(report)
    by_document = {r.document_id: r for r in reports}
    existing = {(row.user_id, row.step_id): row for row in LearningProgress.objects.filter(
        user_id__in={d.user_id for d in documents})}
    new_rows, updated_rows, events = [], [], []
    for (user_id, step_id), document_id in wanted.items():
        row = existing.get((user_id, step_id))
        if row is not None and row.status == Status.COMPLETED:
            by_document[document_id].already_done += 1
            continue
        if row is None:
            row = LearningProgress(user_id=user_id, step_id=step_id, progress_data={})
            new_rows.append(row)
        else:
            updated_rows.append(row)
        row.status = Status.COMPLETED
        row.started_at = row.started_at or now
        row.completed_at = now
        row.completion_percentage = 100
        row.progress_data = {**(row.progress_data or {}), "imported": "marslabs", "document": document_id}
        by_document[document_id].completed += 1
        events.append(ProgressEvent(
            user_id=user_id, step_id=step_id, kind=EventKind.COMPLETED, actor=actor, created_at=now,
            reason="imported from MARS-labs", data={"imported": "marslabs", "document": document_id},
        ))
    LearningProgress.objects.bulk_create(new_rows)
    LearningProgress.objects.bulk_update(updated_rows, ["status", "started_at", "completed_at",
                                                        "completion_percentage", "progress_data", "updated_at"])
    ProgressEvent.objects.bulk_create(events)
    for document in documents:
        document.unmatched = by_document[document.pk].unmatched
        document.applied_at = now
    Progress.objects.bulk_update(documents, ["unmatched", "applied_at"])
    return reports


def _stored(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _snapshot():
    """Every row the apply writes, as stored; ids of new rows are random (UUID) or sequential, so left out."""
    return {
        "progress": _stored(
            "SELECT user_id, step_id, status, completion_percentage, started_at, completed_at, progress_data, "
            "created_at, updated_at FROM progress_learningprogress ORDER BY user_id, step_id"),
        "events": _stored(
            "SELECT user_id, step_id, kind, actor_id, reason, data, created_at FROM progress_progressevent "
            "ORDER BY id"),
        "documents": _stored(
            "SELECT id, user_id, progress_data, unmatched, applied_at, created_at, updated_at "
            "FROM progress_progress ORDER BY id"),
    }


def _reset(documents, started):
    """Back to before the apply: no completions, no events, documents unapplied, the started row as it was."""
    ProgressEvent.objects.all().delete()
    LearningProgress.objects.exclude(pk=started.pk).delete()
    LearningProgress.objects.filter(pk=started.pk).update(
        status=Status.IN_PROGRESS, completed_at=None, completion_percentage=40, progress_data={"attempts": 1})
    Progress.objects.filter(pk__in=[d.pk for d in documents]).update(unmatched=[], applied_at=None)
    return list(Progress.objects.filter(pk__in=[d.pk for d in documents]).order_by("pk"))


def test_trusted_apply_writes_exactly_what_the_orm_wrote(curriculum, clock):
    """New rows, an in-progress row completed, events with an actor, unmatched entries (non-ASCII, odd
    subjects, a chapter without the step), several documents per learner unioned."""
    simulation = curriculum.steps.get(title="Simulation")
    learners = [UserFactory(grade=None) for _ in range(4)]
    operator = UserFactory(is_staff=True)
    started = LearningProgress.objects.create(
        user=learners[0], step=simulation, status=Status.IN_PROGRESS, started_at=clock.now - timedelta(days=3),
        completion_percentage=40, progress_data={"attempts": 1})
    datas = [
        {"class": 12, "subject_progress": {"phy": {"completed_experiments": ["ohms law"],
                                                   "completed_quizzes": ["OHM'S LAW", "Newton's Laws"]}}},
        {"class": "12", "subject_progress": {"physics": {"completed_experiments": ["Ohms  Law", "Lenz law"]},
                                             "bio": {"completed_experiments": ["कोशिका \t\"cell\"\\"]}}},
        {"subject_progress": {"phy": {"completed_quizzes": ["ohm’s law"]}}},
        {"class": 9, "subject_progress": {}},
    ]
    documents = [Progress.objects.create(user=learners[n % 4], progress_data=data)
                 for n, data in enumerate(datas + datas[:2])]  # learners 0 and 1 have two documents each
    clock.advance(60)

    reference_reports = _orm_reference(_reset(documents, started), actor=operator, now=clock.now)
    reference = _snapshot()
    reports = engine.apply_marslabs_documents(documents=_reset(documents, started), actor=operator, now=clock.now)
    engine_rows = _snapshot()

    assert engine_rows == reference
    assert [vars(r) for r in reports] == [vars(r) for r in reference_reports]
    # learner 0: simulation (the started row) and quiz; learner 1: simulation; learner 2: quiz (’ matches ')
    assert (len(reference["progress"]), len(reference["events"])) == (4, 4)
    unmatched = [entry for row in reference["documents"]
                 for entry in (json.loads(row[3]) if isinstance(row[3], str) else row[3])]
    assert "कोशिका \t\"cell\"\\" in {entry["title"] for entry in unmatched}
    completed = LearningProgress.objects.get(pk=started.pk)  # the started row: completed, its start kept
    assert (completed.status, completed.started_at, completed.completed_at, completed.progress_data) == (
        Status.COMPLETED, started.started_at, clock.now,
        {"attempts": 1, "imported": "marslabs", "document": documents[0].pk})


def test_apply_again_changes_nothing(curriculum, clock):
    learner = UserFactory(grade=None)
    document = Progress.objects.create(user=learner, progress_data={"class": 12, "subject_progress": {
        "phy": {"completed_experiments": ["ohms law"], "completed_quizzes": ["ohms law"], }}})
    engine.apply_marslabs_documents(documents=[document], now=clock.now)
    before = _snapshot()
    clock.advance(60)

    report = engine.apply_marslabs_documents(documents=[document], now=clock.now)

    assert (report[0].completed, report[0].already_done) == (0, 2)
    after = _snapshot()
    assert (after["progress"], after["events"]) == (before["progress"], before["events"])
    assert len(after["progress"]) == 2


def test_bulk_insert_escapes_text_as_the_orm_does(clock):
    """Tabs, newlines, backslashes, quotes, NULLs and non-ASCII text survive COPY's text format and executemany."""
    learner = UserFactory()
    reasons = ["tab\there", "new\nline\r\n", "back\\slash \\N", "quote ' \" ", "देवनागरी", ""]
    ProgressEvent.objects.bulk_create([
        ProgressEvent(user=learner, kind=EventKind.SKIPPED, reason=reason, data={"n": n, "text": reason},
                      created_at=clock.now) for n, reason in enumerate(reasons)])
    reference = _stored("SELECT user_id, step_id, kind, actor_id, reason, data, created_at "
                        "FROM progress_progressevent ORDER BY id")
    ProgressEvent.objects.all().delete()

    written = bulk.insert(
        ProgressEvent, ["user_id", "reason", "data"],
        [(learner.pk, reason, bulk.db_value(ProgressEvent, "data", {"n": n, "text": reason}))
         for n, reason in enumerate(reasons)],
        constant={"kind": EventKind.SKIPPED, "step": None, "actor": None, "created_at": clock.now},
    )

    assert written == len(reasons)
    assert _stored("SELECT user_id, step_id, kind, actor_id, reason, data, created_at "
                   "FROM progress_progressevent ORDER BY id") == reference
    assert list(ProgressEvent.objects.order_by("id").values_list("reason", flat=True)) == reasons


def test_bulk_update_sets_only_the_named_columns(clock):
    learner = UserFactory()
    documents = [Progress.objects.create(user=learner, progress_data={"n": n}) for n in range(3)]
    untouched = documents[2]
    updated_at = {d.pk: d.updated_at for d in documents}
    now = timezone.now() + timedelta(hours=1)

    bulk.update(Progress, ["unmatched"], [(documents[0].pk, '[{"title": "a\\tb"}]'), (documents[1].pk, "[]")],
                constant={"applied_at": now})

    rows = {d.pk: d for d in Progress.objects.all()}
    assert rows[documents[0].pk].unmatched == [{"title": "a\tb"}]
    assert (rows[documents[1].pk].unmatched, rows[documents[1].pk].applied_at) == ([], now)
    assert (rows[untouched.pk].unmatched, rows[untouched.pk].applied_at) == ([], None)
    assert {pk: row.updated_at for pk, row in rows.items()} == updated_at  # like bulk_update: auto_now not applied


def test_apply_with_nothing_to_complete_only_saves_the_documents(curriculum, clock):
    learner = UserFactory(grade=None)
    document = Progress.objects.create(user=learner, progress_data={"subject_progress": {
        "geo": {"completed_experiments": ["Volcanoes"]}}})

    (report,) = engine.apply_marslabs_documents(documents=[document], now=clock.now)

    assert (report.completed, LearningProgress.objects.count(), ProgressEvent.objects.count()) == (0, 0, 0)
    document.refresh_from_db()
    assert document.unmatched == [{"subject": "geo", "list": "completed_experiments", "title": "Volcanoes",
                                   "reason": "no subject with code 'geo'"}]
    assert document.applied_at == clock.now
    assert bulk.insert(ProgressEvent, ["user_id"], []) == 0
