"""The signed-in request's own cost: the session, its user and their profile in one hand-written statement
(mars_labs/session_store.py, learners/backends.py), giving what Django's ORM versions give; Django's
get_user still decides who is signed in."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from learners.backends import ProfileModelBackend
from learners.models import Session, UserProfile
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


def test_signed_in_page_reads_session_user_and_profile_in_one_statement(client):
    learner = UserFactory(grade=12)
    client.force_login(learner)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/profile/")
    assert response.status_code == 200 and response.wsgi_request.user.pk == learner.pk
    sql = [q["sql"] for q in queries.captured_queries]
    (session_read,) = [q for q in sql if "learners_session" in q]
    assert "LEFT JOIN learners_user u" in session_read and "LEFT JOIN learners_userprofile p" in session_read
    assert not [q for q in sql if "FROM learners_user u LEFT JOIN" in q]  # the backend asked nothing more


def test_the_session_row_names_its_user_from_login_to_logout(client):
    learner = UserFactory()
    client.get("/accounts/login/")  # an anonymous session row, if any, names nobody
    assert not Session.objects.exclude(user=None).exists()

    client.force_login(learner)
    key = client.session.session_key
    assert Session.objects.get(session_key=key).user_id == learner.pk

    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()


def test_deleting_a_user_deletes_their_sessions(client):
    learner = UserFactory()
    client.force_login(learner)

    learner.delete()

    assert not Session.objects.exists()
    assert client.get("/profile/").status_code == 302  # signed out


def test_a_row_naming_another_user_never_signs_in_as_them(client):
    """The session's data decides who is signed in; the joined user is only used when it is that user."""
    learner, other = UserFactory(), UserFactory()
    client.force_login(learner)
    Session.objects.filter(session_key=client.session.session_key).update(user=other)

    response = client.get("/profile/")

    assert response.status_code == 200 and response.wsgi_request.user.pk == learner.pk


def test_a_deactivated_user_read_with_the_session_is_signed_out(client):
    learner = UserFactory()
    client.force_login(learner)
    type(learner).objects.filter(pk=learner.pk).update(is_active=False)

    assert client.get("/profile/").status_code == 302
