"""POST /api/v1/steps/<uuid>/events on its hot path: how many statements an event costs, and the
hand-written lookups (api/queries.py) giving the same answers as the ORM rules they stand for."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api import queries
from api.models import ApiEvent, ApiToken
from api.views import learners
from curriculum.models import Chapter
from progress import engine
from progress.enums import EventKind
from progress.models import LearningProgress, ProgressEvent
from tests.factories import ChapterFactory, StepFactory, TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT")


def url(step):
    return f"/api/v1/steps/{step.pk}/events"


def post_counting(api, step, body):
    """POST the event; return (response, statements other than transaction control, all statements)."""
    with CaptureQueriesContext(connection) as captured:
        response = api.post(url(step), body)
    work = [q["sql"] for q in captured.captured_queries if not q["sql"].lstrip().startswith(TRANSACTION_CONTROL)]
    return response, work, captured.captured_queries


@pytest.fixture
def simulation(ohms_law, steps, learner):
    engine.open_step(learner=learner, step=steps["Theory"])
    return steps["Simulation"]


def answered(learner, score=50, event_id=None):
    return {"id": event_id or str(uuid.uuid4()), "verb": "answered", "score": score, "learner": learner.pk}


def writes(n):
    """The engine's writes go as one statement on PostgreSQL, ``n`` on SQLite (engine._Writes), plus
    there the learner's new progress version (progress/versions.py)."""
    return 1 if connection.vendor == "postgresql" else n + 1


def test_lab_event_on_a_started_step_costs_three_statements_on_postgresql(lab_api, learner, simulation):
    """The bench's case: the step with its checks, the learner's row with the lock facts, then the
    row, the ANSWERED event and the ApiEvent (one statement on PostgreSQL). The token was checked
    by the first post and is remembered. (Before: 12, then 6, plus transaction control.)"""
    lab_api.post(url(simulation), answered(learner))  # the learner's row exists from here on

    response, work, _all = post_counting(lab_api, simulation, answered(learner))

    assert response.status_code == 201
    assert len(work) == 2 + writes(3), "\n".join(work)


@pytest.mark.django_db(transaction=True)
def test_an_event_runs_one_transaction_without_savepoints(lab_api, learner, simulation):
    """Outside a test's own transaction (as in production): BEGIN ... COMMIT and no SAVEPOINT."""
    lab_api.post(url(simulation), answered(learner))

    response, _work, statements = post_counting(lab_api, simulation, answered(learner))

    assert response.status_code == 201
    sql = [q["sql"].lstrip().upper() for q in statements]
    assert not [q for q in sql if q.startswith(("SAVEPOINT", "RELEASE"))], sql
    assert ApiEvent.objects.count() == ProgressEvent.objects.filter(kind=EventKind.ANSWERED).count() == 2


def test_first_lab_event_for_a_learner_creates_the_row(lab_api, learner, other_learner, simulation):
    lab_api.post(url(simulation), answered(other_learner))  # (the token's first use also notes last_used_at)

    response, work, _all = post_counting(lab_api, simulation, answered(learner))

    assert response.status_code == 201
    # the step, the facts with no row found (one statement), INSERT ... ON CONFLICT (the row is then
    # this transaction's own: no SELECT ... FOR UPDATE), then the row, the STARTED and ANSWERED events
    # (one INSERT) and the ApiEvent
    assert len(work) == 3 + writes(3), "\n".join(work)
    assert ProgressEvent.objects.filter(user=learner, step=simulation, kind=EventKind.STARTED).count() == 1


def test_repeated_event_id_costs_one_statement_and_writes_nothing(lab_api, learner, simulation):
    body = answered(learner)
    first = lab_api.post(url(simulation), body)
    before = (ApiEvent.objects.count(), ProgressEvent.objects.count())

    response, work, all_statements = post_counting(lab_api, simulation, body)

    assert response.status_code == 200 and response.json() == first.json()
    assert len(work) == len(all_statements) == 1  # the step with the stored event and its first answer
    assert (ApiEvent.objects.count(), ProgressEvent.objects.count()) == before


def test_learner_token_event_budget(learner_api, learner, simulation):
    learner_api.post(url(simulation), {"id": str(uuid.uuid4()), "verb": "failed", "score": 10})

    response, work, _all = post_counting(learner_api, simulation, {"id": str(uuid.uuid4()), "verb": "failed",
                                                                  "score": 20})

    assert response.status_code == 201
    assert len(work) == 2 + writes(3), "\n".join(work)  # the token and its learner are remembered


def test_started_from_a_simulation_leaves_the_viewed_step_alone(lab_api, learner, steps):
    engine.open_step(learner=learner, step=steps["Theory"])  # the learner's page: heartbeats go here

    response = lab_api.post(url(steps["Simulation"]), {"id": str(uuid.uuid4()), "verb": "started",
                                                       "learner": learner.pk})

    assert response.status_code == 201
    learner.profile.refresh_from_db()
    assert learner.profile.viewing_step_id == steps["Theory"].pk
    assert LearningProgress.objects.get(user=learner, step=steps["Simulation"]).status == "in_progress"


def test_a_chatty_simulation_keeps_the_row_small(lab_api, learner, simulation):
    for score in range(25):
        assert lab_api.post(url(simulation), answered(learner, score=score)).status_code == 201

    data = LearningProgress.objects.get(user=learner, step=simulation).progress_data
    assert data["external_report_count"] == 25
    assert [r["score"] for r in data["external_reports"]] == list(range(5, 25))
    assert data["best_score"] == 24
    # Every report is still in the history.
    assert ProgressEvent.objects.filter(user=learner, step=simulation, kind=EventKind.ANSWERED).count() == 25


# --- queries.event_target against the ORM rules it stands for -----------------------------------------


def test_event_target_agrees_with_the_orm_rules():
    chapters = [
        ChapterFactory(grade=12), ChapterFactory(grade=11), ChapterFactory(grade=None),
        ChapterFactory(grade=12, is_active=False),
    ]
    steps = [StepFactory(chapter=chapter, order_index=1) for chapter in chapters]
    people = [
        UserFactory(grade=12), UserFactory(grade=11), UserFactory(grade=None), UserFactory(grade=12, is_active=False),
        TeacherFactory(grade=12), UserFactory(grade=12, is_superuser=True),
    ]
    seen = ApiEvent.objects.create(event_id=uuid.uuid4(), learner=people[0], step=steps[0], verb="started").event_id
    checked = 0
    for person in people:
        grade = person.profile.grade
        for step in steps:
            for event_id in (seen, uuid.uuid4()):
                found = queries.event_target(step_id=str(step.pk), learner_id=person.pk, event_id=event_id)
                assert found.pk == step.pk and found.chapter_id == step.chapter_id
                assert (found.seen and found.seen.event_id) == (event_id if event_id == seen else None)
                assert found.is_learner == learners().filter(pk=person.pk).exists()
                assert found.in_class == Chapter.objects.for_grade(grade).filter(pk=step.chapter_id).exists()
                checked += 1
    assert checked == 48
    assert queries.event_target(step_id=str(uuid.uuid4()), learner_id=people[0].pk, event_id=seen) is None
    assert queries.event_target(step_id=str(steps[0].pk), learner_id=987654, event_id=seen).is_learner is False


def test_token_lookup_reads_the_users_state(learner):
    lab, _plain = ApiToken.issue(name="lab", scope="lab", user=TeacherFactory())
    mine, _plain = ApiToken.issue(name="mine", scope="learner", user=learner)

    found = queries.token_with_prefix(mine.prefix)
    assert (found.pk, bool(found.user_is_active), found.user) == (mine.pk, True, learner)
    learner.is_active = False
    learner.save()
    assert not queries.token_with_prefix(mine.prefix).user_is_active
    assert queries.token_with_prefix(lab.prefix).user.pk == lab.user_id
    assert queries.token_with_prefix("nosuchprefix") is None
