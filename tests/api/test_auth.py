"""Who may call the API: bearer tokens (hashed, revocable), the browser session with CSRF, nobody else."""

import datetime
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from api.auth import authenticate, forget_verified_tokens, touch
from api.models import ApiEvent, ApiToken, hash_token
from progress.models import Progress
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db

DOCUMENT = {"class": 12, "subject_progress": {"phy": {"completed_experiments": ["ohms law"]}}}


def test_token_is_stored_only_as_its_hash(lab_token):
    token, plain = lab_token

    token.refresh_from_db()
    assert plain.startswith(f"mars_{token.prefix}_")
    assert token.secret_hash == hash_token(plain)
    stored = " ".join(str(getattr(token, f.attname)) for f in ApiToken._meta.fields)
    secret = plain.removeprefix(f"mars_{token.prefix}_")  # the secret may itself contain "_"
    assert len(secret) >= 40
    assert plain not in stored and secret not in stored


def test_anonymous_is_401_json(anon_api, learner):
    response = anon_api.get("/api/v1/me/progress")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "authentication required" in response.json()["message"]


@pytest.mark.parametrize("header", [
    "Bearer", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer nonsense", "Bearer mars_abc", "Bearer mars_abc_def",
])
def test_bad_authorization_headers_are_401(client, lab_token, header):
    response = client.get("/api/v1/users", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.json()["message"]


def test_right_prefix_wrong_secret_is_401(client, lab_token):
    token, plain = lab_token

    response = client.get("/api/v1/users", headers={"Authorization": f"Bearer mars_{token.prefix}_wrong"})

    assert response.status_code == 401
    assert response.json() == {"message": "invalid API token"}


def test_bearer_scheme_is_case_insensitive(client, lab_token):
    assert client.get("/api/v1/users", headers={"Authorization": f"bearer {lab_token[1]}"}).status_code == 200


def test_revoked_token_is_401(lab_api, lab_token):
    lab_token[0].revoke()

    response = lab_api.get("/api/v1/users")

    assert response.status_code == 401
    assert response.json() == {"message": "this API token has been revoked"}


def test_token_of_a_deactivated_learner_is_401(learner_api, learner):
    learner.is_active = False
    learner.save()

    assert learner_api.get("/api/v1/me/progress").status_code == 401


def test_a_bad_token_is_401_even_with_a_valid_session(client, learner):
    client.force_login(learner)

    response = client.get("/api/v1/me/progress", headers={"Authorization": "Bearer mars_x_y"})

    assert response.status_code == 401


def test_session_reads_work(learner_client, learner):
    response = learner_client.get("/api/v1/me/progress")

    assert response.status_code == 200
    assert response.json()["learner"]["id"] == learner.pk


def test_session_writes_need_the_csrf_token(learner, steps):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    path = f"/api/v1/steps/{steps['Theory'].pk}/events"

    refused = Api(client).post(path, {"id": str(uuid.uuid4()), "verb": "started"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    assert ApiEvent.objects.count() == 0

    # What a page of the app gives the browser: a CSRF cookie, echoed in the X-CSRFToken header.
    secret = "s3cretCsrfValue0123456789abcdefg"[:32]
    client.cookies["csrftoken"] = secret
    accepted = Api(client).post(path, {"id": str(uuid.uuid4()), "verb": "started"},
                                headers={"X-CSRFToken": secret})
    assert accepted.status_code == 201


def test_token_writes_need_no_csrf_token(client, learner_token, learner):
    csrf_client = Client(enforce_csrf_checks=True)

    response = Api(csrf_client, learner_token[1]).post(
        "/api/v1/progress", {"user_id": learner.pk, "progress_data": DOCUMENT}
    )

    assert response.status_code == 200
    assert Progress.objects.count() == 1


def test_last_used_is_written_at_most_once_a_minute(rf, lab_token, django_assert_num_queries):
    token, plain = lab_token
    now = timezone.now()
    request = rf.get("/api/v1/users", headers={"Authorization": f"Bearer {plain}"})

    with django_assert_num_queries(2):  # the lookup, and the first touch
        authenticate(request, now=now)
    with django_assert_num_queries(0):  # remembered (api/auth.py _verified) and touched a minute ago
        authenticate(request, now=now + datetime.timedelta(seconds=30))
    forget_verified_tokens()
    with django_assert_num_queries(1):  # the lookup only
        authenticate(request, now=now + datetime.timedelta(seconds=40))
    token.refresh_from_db()
    assert token.last_used_at == now


def test_touch_after_a_minute_writes_again(lab_token):
    from django.core.cache import cache

    token, _plain = lab_token
    start = timezone.now()
    touch(token, now=start)
    cache.clear()  # the cache mark has expired by then

    touch(token, now=start + datetime.timedelta(seconds=61))

    token.refresh_from_db()
    assert token.last_used_at == start + datetime.timedelta(seconds=61)


def test_learner_token_cannot_act_as_staff_even_for_a_staff_user(client, teacher, learner):
    _token, plain = ApiToken.issue(name="teacher-phone", scope="learner", user=teacher)

    assert Api(client, plain).get("/api/v1/users").status_code == 403
    assert Api(client, plain).get(f"/api/v1/learners/{learner.pk}/progress").status_code == 404


def test_learner_scope_requires_a_user_in_the_database(db):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        ApiToken.objects.create(name="x", scope="learner", prefix="p", secret_hash="h")


def test_openapi_document_is_public(anon_api):
    response = anon_api.get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")


# --- the process's memory of checked tokens (api/auth.py _verified) -------------------------------


def _later(monkeypatch, seconds):
    """Move the clock the token memory reads forward by ``seconds``."""
    import time

    real = time.monotonic
    monkeypatch.setattr("api.auth.time.monotonic", lambda: real() + seconds)


def test_a_checked_token_is_remembered_for_a_few_seconds(lab_api, lab_token, django_assert_num_queries):
    assert lab_api.get("/api/v1/users").status_code == 200  # checked, remembered, touched

    with django_assert_num_queries(1):  # the users only: no token lookup
        assert lab_api.get("/api/v1/users").status_code == 200


def test_a_token_revoked_elsewhere_stops_working_within_the_ttl(lab_api, lab_token, monkeypatch, settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    assert lab_api.get("/api/v1/users").status_code == 200
    # Another process (the admin's bulk action: no signal reaches this one) revokes it.
    ApiToken.objects.filter(pk=lab_token[0].pk).update(revoked_at=timezone.now())

    assert lab_api.get("/api/v1/users").status_code == 200  # still remembered here: the documented price
    _later(monkeypatch, 6)
    response = lab_api.get("/api/v1/users")

    assert response.status_code == 401
    assert response.json() == {"message": "this API token has been revoked"}


def test_a_token_revoked_in_this_process_stops_working_at_once(lab_api, lab_token):
    assert lab_api.get("/api/v1/users").status_code == 200

    lab_token[0].revoke()

    assert lab_api.get("/api/v1/users").status_code == 401


def test_deactivating_the_tokens_user_in_this_process_takes_effect_at_once(learner_api, learner):
    assert learner_api.get("/api/v1/me/progress").status_code == 200

    learner.is_active = False
    learner.save()

    assert learner_api.get("/api/v1/me/progress").status_code == 401


def test_a_wrong_secret_never_matches_a_remembered_token(client, lab_token):
    token, plain = lab_token
    assert client.get("/api/v1/users", headers={"Authorization": f"Bearer {plain}"}).status_code == 200

    forged = f"mars_{token.prefix}_{'x' * 43}"

    assert client.get("/api/v1/users", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_token_memory_off_checks_every_request(lab_api, settings, django_assert_num_queries):
    settings.API_TOKEN_CACHE_SECONDS = 0
    assert lab_api.get("/api/v1/users").status_code == 200

    with django_assert_num_queries(2):  # the token, the users
        assert lab_api.get("/api/v1/users").status_code == 200
