"""API messages: MARS-labs' own stay exactly as MARS-labs had them; MARS Labs' explanations follow the language."""

import json

import pytest

from api.enums import TokenScope
from api.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DOCUMENT = {"class": 12, "subject_progress": {"phy": {"completed_experiments": [], "completed_quizzes": []}}}


@pytest.fixture
def hindi_token_client(client):
    learner = UserFactory(grade=12)
    _token, plain = ApiToken.issue(name="phone", scope=TokenScope.LEARNER, user=learner)

    def call(method, url, body=None):
        return getattr(client, method)(
            url, data=json.dumps(body) if body is not None else None, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {plain}", HTTP_ACCEPT_LANGUAGE="hi",
        )

    return call


def test_marslabs_messages_stay_english_for_a_hindi_client(hindi_token_client):
    other = UserFactory()

    not_found = hindi_token_client("post", "/api/v1/progress", {"user_id": other.pk, "progress_data": DOCUMENT})
    missing = hindi_token_client("post", "/api/v1/progress", {"user_id": other.pk})

    assert not_found.json() == {"message": "User not found"}
    assert missing.json() == {"message": "User ID and progress data are required"}


def test_mars_labs_own_explanations_follow_accept_language(hindi_token_client):
    response = hindi_token_client("get", "/api/v1/no-such-endpoint")

    assert response.status_code == 404
    assert "ऐसा कोई API एंडपॉइंट नहीं है" in json.dumps(response.json(), ensure_ascii=False)
