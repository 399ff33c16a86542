"""Bad input: each a clear 4xx JSON answer that writes nothing."""

import json
import uuid

import pytest
from django.test import RequestFactory

from api import views
from api.http import MAX_BODY_BYTES
from api.models import ApiEvent
from progress.models import LearningProgress, Progress, ProgressEvent

pytestmark = pytest.mark.django_db


def nothing_written():
    return (Progress.objects.count(), LearningProgress.objects.count(), ProgressEvent.objects.count(),
            ApiEvent.objects.count()) == (0, 0, 0, 0)


def event_url(steps):
    return f"/api/v1/steps/{steps['Theory'].pk}/events"


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2]", '"text"', "null", '{"a": NaN}', '{"a": Infinity}',
                                 "[" * 5000 + "]" * 5000, b"\xff\xfe\x00garbage"])
def test_body_not_a_json_object_is_400(lab_api, learner, raw):
    response = lab_api.post("/api/v1/progress", raw=raw)

    assert response.status_code == 400
    assert response.json()["message"]
    assert nothing_written()


def test_non_json_content_type_is_415(lab_api, learner):
    response = lab_api.post("/api/v1/progress", raw="user_id=1", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert nothing_written()


@pytest.mark.parametrize("text", ["nul\x00inside", "lone \ud800 surrogate"])
def test_text_postgresql_cannot_store_is_400(lab_api, learner, text):
    body = {"user_id": learner.pk, "progress_data": {"subject_progress": {"phy": {"completed_quizzes": [text]}}}}

    response = lab_api.post("/api/v1/progress", raw=json.dumps(body))  # json.dumps escapes both

    assert response.status_code == 400
    assert "text cannot contain" in response.json()["message"]
    assert nothing_written()


def test_nul_in_a_key_is_400(lab_api, learner):
    body = {"user_id": learner.pk, "progress_data": {"subject_progress": {}, "x\x00": 1}}

    assert lab_api.post("/api/v1/progress", body).status_code == 400
    assert nothing_written()


@pytest.mark.parametrize("body", [
    {"user_id": "one", "progress_data": {"subject_progress": {}}},
    {"user_id": 1.5, "progress_data": {"subject_progress": {}}},
    {"user_id": [1], "progress_data": {"subject_progress": {}}},
    {"user_id": 1, "progress_data": "text"},
    {"user_id": 1, "progress_data": {"subject_progress": []}},
    {"user_id": 1, "progress_data": {"subject_progress": {"phy": {"completed_quizzes": [1, 2]}}}},
])
def test_wrong_types_are_400(lab_api, learner, body):
    response = lab_api.post("/api/v1/progress", body)

    assert response.status_code == 400
    assert nothing_written()


def test_wrong_types_in_events_are_400(learner_api, steps):
    response = learner_api.post(event_url(steps), {"id": str(uuid.uuid4()), "verb": 3, "score": "high"})

    assert response.status_code == 400
    assert len(response.json()["errors"]) == 2
    assert nothing_written()


def test_unknown_fields_in_events_are_400(learner_api, steps):
    response = learner_api.post(event_url(steps), {"id": str(uuid.uuid4()), "verb": "started", "object": "x"})

    assert response.status_code == 400
    assert "unknown fields: object" in response.json()["message"]
    assert nothing_written()


def test_body_over_one_megabyte_is_413_by_content_length(lab_api, learner):
    padding = "x" * MAX_BODY_BYTES
    body = {"user_id": learner.pk, "progress_data": {"subject_progress": {}, "padding": padding}}

    response = lab_api.post("/api/v1/progress", body)

    assert response.status_code == 413
    assert response.json()["message"] == f"the request body is larger than {MAX_BODY_BYTES} bytes"
    assert nothing_written()


def test_body_over_one_megabyte_is_413_by_the_actual_read(lab_token, learner):
    """Content-Length understates the body: the read itself stops at the limit."""
    raw = json.dumps({"user_id": learner.pk, "progress_data": {"subject_progress": {}, "p": "x" * MAX_BODY_BYTES}})
    request = RequestFactory().post("/api/v1/progress", raw, content_type="application/json",
                                    headers={"Authorization": f"Bearer {lab_token[1]}"})
    request.META["CONTENT_LENGTH"] = "100"  # the stream still holds the whole body

    response = views.progress_collection(request)

    assert response.status_code == 413
    assert nothing_written()


def test_body_just_under_the_limit_is_read(lab_api, learner):
    body = {"user_id": learner.pk, "progress_data": {"subject_progress": {}, "p": ""}}
    body["progress_data"]["p"] = "x" * (MAX_BODY_BYTES - len(json.dumps(body)))

    response = lab_api.post("/api/v1/progress", body)

    assert response.status_code == 200


def test_unknown_learner_is_404(lab_api, steps):
    response = lab_api.post(event_url(steps), {"id": str(uuid.uuid4()), "verb": "started", "learner": 424242})

    assert response.status_code == 404
    assert nothing_written()


def test_unknown_step_is_404(learner_api):
    response = learner_api.post(f"/api/v1/steps/{uuid.uuid4()}/events", {"id": str(uuid.uuid4()), "verb": "started"})

    assert response.status_code == 404
    assert nothing_written()


def test_forged_learner_on_a_learner_token_is_403(learner_api, other_learner, steps):
    response = learner_api.post(event_url(steps), {"id": str(uuid.uuid4()), "verb": "started",
                                                   "learner": other_learner.pk})

    assert response.status_code == 403
    assert nothing_written()


def test_wrong_method_is_405_json_with_allow(lab_api, learner):
    response = lab_api.client.delete(f"/api/v1/progress/{learner.pk}")

    assert response.status_code == 405
    assert response["Allow"] == "GET, PUT"
    assert response.json()["message"]


def test_unknown_api_path_is_json_404(lab_api):
    response = lab_api.get("/api/v1/progress/1/extra")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_unknown_format_is_400(lab_api, learner):
    assert lab_api.get(f"/api/v1/learners/{learner.pk}/progress", {"format": "csv"}).status_code == 400
