"""The signed-in request's own cost: the session (mars_labs/session_store.py) and the user with their
profile (learners/backends.py), each one hand-written statement giving what Django's ORM versions give."""

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from learners.backends import ProfileModelBackend
from learners.models import UserProfile
from mars_labs.session_store import SessionStore
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_get_user_loads_the_user_and_profile_in_one_query(django_assert_num_queries):
    learner = UserFactory(grade=11)
    learner.profile.preferred_language = "hi"
    learner.profile.save()

    with django_assert_num_queries(1):
        user = ProfileModelBackend().get_user(str(learner.pk))  # the session keeps the id as text
        assert (user.pk, user.username, user.profile.grade, user.profile.preferred_language) == (
            learner.pk, learner.username, 11, "hi")
        assert user.profile.user is user
    assert user.date_joined == learner.date_joined and user.password == learner.password


def test_get_user_without_a_profile_raises_without_a_query(django_assert_num_queries):
    learner = UserFactory()
    UserProfile.objects.filter(user=learner).delete()

    user = ProfileModelBackend().get_user(learner.pk)
    with django_assert_num_queries(0), pytest.raises(UserProfile.DoesNotExist):
        user.profile  # noqa: B018


@pytest.mark.parametrize("user_id", ["abc", "", None, "999999"])
def test_get_user_for_a_bad_or_unknown_id_is_none(user_id):
    assert ProfileModelBackend().get_user(user_id) is None


def test_get_user_refuses_a_deactivated_user():
    learner = UserFactory(is_active=False)

    assert ProfileModelBackend().get_user(learner.pk) is None


def test_session_store_reads_a_live_session_in_one_query(django_assert_num_queries):
    store = SessionStore()
    store["answer"] = 42
    store.create()

    with django_assert_num_queries(1):
        assert SessionStore(store.session_key)["answer"] == 42


def test_session_store_ignores_expired_and_deleted_sessions():
    store = SessionStore()
    store["answer"] = 42
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=timezone.now())

    expired = SessionStore(store.session_key)
    assert expired.get("answer") is None
    assert expired.session_key is None  # a new key on save, as Django's db engine does

    Session.objects.all().delete()
    assert SessionStore(store.session_key).get("answer") is None


def test_signed_in_page_reads_session_and_user_once_each(client):
    learner = UserFactory(grade=12)
    client.force_login(learner)

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/profile/").status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([q for q in sql if "django_session" in q]) == 1
    assert len([q for q in sql if "FROM learners_user u LEFT JOIN" in q]) == 1
