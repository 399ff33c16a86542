"""POST /api/v1/steps/<uuid>/events: verbs, idempotency, locks, forged learners, one transaction."""

import uuid

import pytest
from django.db import connection

from api.models import ApiEvent
from progress import engine
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent

pytestmark = pytest.mark.django_db


def url(step):
    return f"/api/v1/steps/{step.pk}/events"


def event(verb, **fields):
    return {"id": str(uuid.uuid4()), "verb": verb, **fields}


def counts():
    return (ApiEvent.objects.count(), LearningProgress.objects.count(), ProgressEvent.objects.count())


@pytest.fixture
def open_simulation(learner, steps):
    """Theory done, so the Simulation step is available."""
    engine.open_step(learner=learner, step=steps["Theory"])
    return steps["Simulation"]


def test_started_opens_the_step(learner_api, learner, steps):
    response = learner_api.post(url(steps["Theory"]), event("started", duration="PT5S"))

    assert response.status_code == 201
    body = response.json()
    assert (body["outcome"], body["status"], body["percentage"], body["completed"]) == ("changed", "completed",
                                                                                           100, True)
    assert body["learner"] == learner.pk and body["step"] == str(steps["Theory"].pk)
    recorded = ApiEvent.objects.get()
    assert (recorded.verb, recorded.learner, recorded.duration.total_seconds()) == ("started", learner, 5)


def test_completed_meets_an_external_criterion(learner_api, open_simulation):
    response = learner_api.post(url(open_simulation), event("completed"))

    assert response.status_code == 201
    assert response.json()["status"] == Status.COMPLETED
    assert response.json()["reason"] == "reported complete by the simulation"


def test_failed_on_external_step_records_the_score_only(learner_api, learner, open_simulation):
    response = learner_api.post(url(open_simulation), event("failed", score=40))

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["completed"]) == (Status.IN_PROGRESS, False)
    row = LearningProgress.objects.get(user=learner, step=open_simulation)
    assert row.progress_data["best_score"] == 40


def test_passed_on_a_quiz_step_is_judged_by_the_steps_own_pass_mark(lab_api, learner, steps, open_simulation):
    engine.report_external(learner=learner, step=open_simulation)
    quiz = steps["Quiz"]  # min_score 70

    low = lab_api.post(url(quiz), event("passed", score=55, learner=learner.pk))
    high = lab_api.post(url(quiz), event("failed", score=80, learner=learner.pk))

    assert (low.status_code, low.json()["status"], low.json()["reason"]) == (201, "in_progress", "score 55 < 70")
    assert (high.status_code, high.json()["status"], high.json()["completed"]) == (201, "completed", True)


def test_answered_needs_a_score_and_started_takes_none(learner_api, steps):
    no_score = learner_api.post(url(steps["Theory"]), event("answered"))
    started_score = learner_api.post(url(steps["Theory"]), event("started", score=10))

    assert no_score.status_code == started_score.status_code == 400
    assert "needs a score" in no_score.json()["message"]
    assert counts() == (0, 0, 0)


def test_same_event_id_twice_is_recorded_once(learner_api, learner, open_simulation):
    body = event("completed", score=90)

    first = learner_api.post(url(open_simulation), body)
    events_after_first = ProgressEvent.objects.count()
    second = learner_api.post(url(open_simulation), body)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert ApiEvent.objects.count() == 1
    assert ProgressEvent.objects.count() == events_after_first
    row = LearningProgress.objects.get(user=learner, step=open_simulation)
    assert len(row.progress_data["external_reports"]) == 1


def test_reusing_an_event_id_for_another_event_is_409(learner_api, open_simulation):
    body = event("failed", score=10)
    learner_api.post(url(open_simulation), body)

    response = learner_api.post(url(open_simulation), {**body, "score": 99})

    assert response.status_code == 409
    assert "different event" in response.json()["message"]
    assert ApiEvent.objects.count() == 1


def test_locked_step_answers_409_with_the_reason_and_records_nothing(learner_api, steps):
    response = learner_api.post(url(steps["Simulation"]), event("completed"))

    assert response.status_code == 409
    body = response.json()
    assert body["message"] == "locked: finish 'Theory' first"
    assert (body["outcome"], body["status"], body["percentage"]) == ("locked", "not_started", 0)
    assert counts() == (0, 0, 0)


def test_a_refused_event_id_can_be_sent_again_once_the_step_opens(learner_api, learner, steps):
    body = event("completed")
    assert learner_api.post(url(steps["Simulation"]), body).status_code == 409
    engine.open_step(learner=learner, step=steps["Theory"])

    assert learner_api.post(url(steps["Simulation"]), body).status_code == 201


def test_forged_learner_on_a_learner_token_is_403_and_writes_nothing(learner_api, other_learner, steps):
    response = learner_api.post(url(steps["Theory"]), event("started", learner=other_learner.pk))

    assert response.status_code == 403
    assert counts() == (0, 0, 0)


def test_own_learner_id_on_a_learner_token_is_fine(learner_api, learner, steps):
    assert learner_api.post(url(steps["Theory"]), event("started", learner=learner.pk)).status_code == 201


def test_lab_token_reports_for_any_learner_as_its_owner(client, learner, teacher, steps):
    from api.models import ApiToken
    from tests.api.conftest import Api

    _token, plain = ApiToken.issue(name="owned", scope="lab", user=teacher)
    response = Api(client, plain).post(url(steps["Theory"]), event("started", learner=learner.pk))

    assert response.status_code == 201
    recorded = ApiEvent.objects.get()
    assert (recorded.learner, recorded.reporter, recorded.token.name) == (learner, teacher, "owned")


def test_lab_token_needs_a_learner(lab_api, steps):
    response = lab_api.post(url(steps["Theory"]), event("started"))

    assert response.status_code == 400
    assert counts() == (0, 0, 0)


def test_lab_token_unknown_learner_is_404(lab_api, steps):
    response = lab_api.post(url(steps["Theory"]), event("started", learner=987654))

    assert response.status_code == 404
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("step_id", [str(uuid.uuid4()), "not-a-uuid", str(uuid.uuid4()).upper()])
def test_unknown_step_is_404(learner_api, steps, step_id):
    response = learner_api.post(f"/api/v1/steps/{step_id}/events", event("started"))

    assert response.status_code == 404
    assert response.json() == {"message": "No such step."}
    assert counts() == (0, 0, 0)


def test_step_of_another_class_is_404_for_a_learner_but_not_for_a_lab(learner_api, lab_api, learner, steps):
    ohms_law = steps["Theory"].chapter
    ohms_law.grade = 11
    ohms_law.save()

    assert learner_api.post(url(steps["Theory"]), event("started")).status_code == 404
    assert lab_api.post(url(steps["Theory"]), event("started", learner=learner.pk)).status_code == 201


@pytest.mark.parametrize("body", [
    {"verb": "started"},
    {"id": "nope", "verb": "started"},
    {"id": "3f2b6c1e8a4d4e2f9b1a0c5d7e9f1a2b", "verb": "started"},
    {"id": str(uuid.uuid4()), "verb": "jumped"},
    {"id": str(uuid.uuid4())},
    {"id": str(uuid.uuid4()), "verb": "failed", "score": 101},
    {"id": str(uuid.uuid4()), "verb": "failed", "score": "90"},
    {"id": str(uuid.uuid4()), "verb": "failed", "score": True},
    {"id": str(uuid.uuid4()), "verb": "started", "duration": "42 seconds"},
    {"id": str(uuid.uuid4()), "verb": "started", "duration": "PT"},
    {"id": str(uuid.uuid4()), "verb": "started", "learner": "1"},
    {"id": str(uuid.uuid4()), "verb": "started", "result": {"success": True}},
    {"id": 5, "verb": ["started"]},
])
def test_bad_event_bodies_are_400_and_write_nothing(learner_api, steps, body):
    response = learner_api.post(url(steps["Theory"]), body)

    assert response.status_code == 400
    assert response.json()["message"]
    assert counts() == (0, 0, 0)


def test_unknown_fields_are_named(learner_api, steps):
    response = learner_api.post(url(steps["Theory"]), event("started", actor="me", context={}))

    assert response.status_code == 400
    assert "unknown fields: actor, context" in response.json()["message"]


def test_event_row_and_engine_write_commit_together(learner_api, learner, steps):
    """A crash after the engine's write but before the event row leaves neither.

    The database itself refuses the statement that inserts the ApiEvent (on
    SQLite it follows the engine's own statements; on PostgreSQL it is one
    statement with them)."""

    def crash(execute, sql, params, many, context):
        if 'INSERT INTO "api_apievent"' in sql:
            raise RuntimeError("disk full")
        return execute(sql, params, many, context)

    learner_api.client.raise_request_exception = True

    with connection.execute_wrapper(crash), pytest.raises(RuntimeError):
        learner_api.post(url(steps["Theory"]), event("started"))

    assert counts() == (0, 0, 0)


def test_durations_are_parsed(learner_api, steps):
    learner_api.post(url(steps["Theory"]), event("started", duration="P1DT2H3M4.5S"))

    assert ApiEvent.objects.get().duration.total_seconds() == 86400 + 2 * 3600 + 3 * 60 + 4.5


def test_started_events_complete_a_view_step_once_and_log_the_engine_events(learner_api, learner, steps):
    learner_api.post(url(steps["Theory"]), event("started"))
    learner_api.post(url(steps["Theory"]), event("started"))

    kinds = sorted(ProgressEvent.objects.filter(user=learner).values_list("kind", flat=True))
    assert kinds == [EventKind.COMPLETED, EventKind.STARTED]
    assert ApiEvent.objects.count() == 2
    assert [e.response["outcome"] for e in ApiEvent.objects.order_by("created_at", "id")] == ["changed", "unchanged"]
