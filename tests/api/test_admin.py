"""Admin for API tokens (read-only hash, revoke action) and events (read-only)."""

import pytest
from django.urls import reverse

from api.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@school.example", "pw")
    client.force_login(admin)
    return client


@pytest.mark.parametrize("tokens", [1, 10])
def test_token_list_in_few_queries(admin_client_, learner, tokens, django_assert_max_num_queries):
    for n in range(tokens):
        ApiToken.issue(name=f"t{n}", scope="learner", user=learner)

    with django_assert_max_num_queries(8):
        response = admin_client_.get(reverse("admin:api_apitoken_changelist"))

    assert response.status_code == 200


def test_revoke_action(admin_client_, lab_token):
    response = admin_client_.post(reverse("admin:api_apitoken_changelist"),
                                  {"action": "revoke_tokens", "_selected_action": [lab_token[0].pk]})

    assert response.status_code == 302
    assert ApiToken.objects.get().is_revoked


def test_hash_is_read_only_and_add_is_off(admin_client_, lab_token):
    page = admin_client_.get(reverse("admin:api_apitoken_change", args=[lab_token[0].pk]))

    assert page.status_code == 200
    assert b'name="secret_hash"' not in page.content
    assert admin_client_.get(reverse("admin:api_apitoken_add")).status_code == 403


def test_event_list_loads(admin_client_):
    assert admin_client_.get(reverse("admin:api_apievent_changelist")).status_code == 200


def test_admin_refuses_a_learner_token_without_a_learner(admin_client_, learner):
    token, _plain = ApiToken.issue(name="t", scope="learner", user=learner)
    url = reverse("admin:api_apitoken_change", args=[token.pk])

    response = admin_client_.post(url, {"name": "t", "scope": "learner", "user": ""})

    assert response.status_code == 200  # the form again, with the message
    assert "needs the learner" in response.content.decode()
    token.refresh_from_db()
    assert token.user == learner
