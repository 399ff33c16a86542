"""API_RATE_LIMIT: a fixed window per token (or signed-in user), 429 with Retry-After beyond it."""

import pytest
from django.test import override_settings

from api import ratelimit
from api.models import ApiToken
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


@override_settings(API_RATE_LIMIT="3/minute")
def test_over_the_limit_is_429_with_retry_after(lab_api):
    statuses = [lab_api.get("/api/v1/users").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = lab_api.get("/api/v1/users")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "too many requests" in response.json()["message"]


@override_settings(API_RATE_LIMIT="2/minute")
def test_each_token_has_its_own_count(client, lab_api):
    _token, other = ApiToken.issue(name="second-lab", scope="lab")
    for _ in range(2):
        lab_api.get("/api/v1/users")

    assert lab_api.get("/api/v1/users").status_code == 429
    assert Api(client, other).get("/api/v1/users").status_code == 200


@override_settings(API_RATE_LIMIT="1/minute")
def test_session_users_are_limited_too(learner_client):
    assert learner_client.get("/api/v1/me/progress").status_code == 200
    assert learner_client.get("/api/v1/me/progress").status_code == 429


@override_settings(API_RATE_LIMIT="1/minute")
def test_the_openapi_document_is_not_limited(anon_api):
    assert {anon_api.get("/api/v1/openapi.json").status_code for _ in range(3)} == {200}


def test_the_window_resets():
    assert ratelimit.hit("k", rate="1/minute", now=120.0).allowed
    assert not ratelimit.hit("k", rate="1/minute", now=150.0).allowed
    verdict = ratelimit.hit("k", rate="1/minute", now=180.0)
    assert verdict.allowed and verdict.retry_after == 60


@pytest.mark.parametrize("text", ["600", "600/fortnight", "-1/minute", "ten/second"])
def test_parse_rate_refuses_nonsense(text):
    with pytest.raises(ValueError):
        ratelimit.parse_rate(text)


def test_parse_rate():
    assert ratelimit.parse_rate("600/minute") == (600, 60)
    assert ratelimit.parse_rate(" 5 / second ") == (5, 1)
