"""Sessions on shared school computers (issue #10): idle timeout, browser-close cookies, POST-only logout,
and a password change that signs the user out everywhere else.

Policy and why: docs/architecture.md, "Sessions"; code: learners/sessions.py.
"""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from learners.models import Session
from learners.sessions import REFRESHED_AT
from progress.models import LearningProgress
from tests.factories import DEFAULT_PASSWORD, UserFactory, make_chapter
from tests.test_settings import assert_refused_with_one_line, start

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-passphrase-42"
PASSWORD_PAGE_QUERIES = 3  # the session, the user; one spare for the layout (2 today)


@pytest.fixture
def pupil():
    return UserFactory(username="pupil", grade=12)


def signed_in(user, password=DEFAULT_PASSWORD):
    """A client signed in through the login form, as on a real computer."""
    client = Client()
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


def is_signed_in(client):
    return client.get(reverse("learners:profile")).status_code == 200


def session_row(client):
    return Session.objects.get(session_key=client.session.session_key)


# --------------------------------------------------------------------------
# Password change: this session stays, every other one ends
# --------------------------------------------------------------------------


def test_password_change_signs_out_every_other_session(pupil):
    here, elsewhere = signed_in(pupil), signed_in(pupil)

    response = here.post(reverse("learners:password"), {
        "old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("learners:password-done")
    assert is_signed_in(here)  # update_session_auth_hash kept the changing browser signed in
    assert not is_signed_in(elsewhere)  # its session hash no longer matches the password
    assert elsewhere.get(reverse("progress:home"))["Location"].startswith(reverse("login"))
    pupil.refresh_from_db()
    assert pupil.check_password(NEW_PASSWORD)


def test_password_change_with_a_wrong_old_password_changes_nothing(pupil):
    here, elsewhere = signed_in(pupil), signed_in(pupil)

    response = here.post(reverse("learners:password"), {
        "old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    pupil.refresh_from_db()
    assert pupil.check_password(DEFAULT_PASSWORD)
    assert is_signed_in(here) and is_signed_in(elsewhere)


def test_password_change_refuses_a_weak_new_password(pupil):
    client = signed_in(pupil)

    response = client.post(reverse("learners:password"), {
        "old_password": DEFAULT_PASSWORD, "new_password1": "12345678", "new_password2": "12345678"})

    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    pupil.refresh_from_db()
    assert pupil.check_password(DEFAULT_PASSWORD)


def test_password_pages_extend_the_site_layout_and_the_profile_links_there(pupil):
    client = signed_in(pupil)

    profile = client.get(reverse("learners:profile")).content.decode()
    page = client.get(reverse("learners:password"))
    done = client.get(reverse("learners:password-done"))

    assert f'href="{reverse("learners:password")}"' in profile
    assert page.status_code == done.status_code == 200
    assert "base.html" in [t.name for t in page.templates]
    assert "learners/password_change.html" in [t.name for t in page.templates]
    assert "base.html" in [t.name for t in done.templates]


def test_password_set_by_an_admin_signs_the_learner_out_everywhere(pupil):
    pupils_browsers = [signed_in(pupil), signed_in(pupil)]
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = admin.post(reverse("admin:auth_user_password_change", args=[pupil.pk]), {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})

    assert response.status_code == 302
    assert not any(is_signed_in(browser) for browser in pupils_browsers)
    assert is_signed_in(signed_in(pupil, NEW_PASSWORD))


# --------------------------------------------------------------------------
# Logout
# --------------------------------------------------------------------------


def test_logout_by_get_is_refused_and_keeps_the_session(pupil):
    client = signed_in(pupil)

    assert client.get(reverse("logout")).status_code == 405
    assert is_signed_in(client)


def test_logout_by_post_deletes_the_session(pupil):
    client = signed_in(pupil)
    key = client.session.session_key

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert not Session.objects.filter(session_key=key).exists()
    assert SESSION_KEY not in client.session
    assert not is_signed_in(client)


# --------------------------------------------------------------------------
# Idle timeout and browser-close cookies
# --------------------------------------------------------------------------


def test_session_settings_suit_shared_computers():
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE == 20 * 60  # the idle timeout
    assert 0 < settings.SESSION_REFRESH_SECONDS < settings.SESSION_COOKIE_AGE
    assert settings.SESSION_SAVE_EVERY_REQUEST is False  # the middleware throttles instead
    assert settings.SESSION_COOKIE_HTTPONLY is True


def test_session_cookie_ends_with_the_browser(pupil):
    client = Client()
    response = client.post(reverse("login"), {"username": pupil.username, "password": DEFAULT_PASSWORD})

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value
    assert not cookie["expires"] and not cookie["max-age"]  # a browser-session cookie: gone when the browser closes


def test_login_session_expires_after_the_idle_timeout(pupil):
    client = signed_in(pupil)
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)

    assert abs(session_row(client).expire_date - expected) < timedelta(seconds=30)


def test_idle_session_is_signed_out(pupil):
    client = signed_in(pupil)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1))

    response = client.get(reverse("progress:home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_session_in_use_is_pushed_back(pupil):
    client = signed_in(pupil)
    session = client.session
    session[REFRESHED_AT] = int(time.time()) - settings.SESSION_REFRESH_SECONDS - 1
    session.save()
    soon = timezone.now() + timedelta(seconds=60)
    Session.objects.filter(session_key=session.session_key).update(expire_date=soon)

    assert is_signed_in(client)

    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs(session_row(client).expire_date - expected) < timedelta(seconds=30)


def test_session_is_saved_at_most_once_per_refresh_interval(pupil):
    """SESSION_SAVE_EVERY_REQUEST would write on each heartbeat; this writes once per interval."""
    client = signed_in(pupil)  # the login starts the interval: the next requests must not write
    marker = timezone.now() + timedelta(seconds=600)
    Session.objects.filter(session_key=client.session.session_key).update(expire_date=marker)

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert is_signed_in(client)

    assert session_row(client).expire_date == marker
    writes = [q["sql"] for q in queries if "learners_session" in q["sql"] and not q["sql"].startswith("SELECT")]
    assert writes == []


def test_force_login_starts_the_interval_too(client, pupil):
    """Tests sign in with force_login; its first request must not pay a session write (query budgets)."""
    client.force_login(pupil)

    assert client.session[REFRESHED_AT] >= int(time.time()) - 5
    with CaptureQueriesContext(connection) as queries:
        assert is_signed_in(client)
    assert not [q for q in queries if "learners_session" in q["sql"] and not q["sql"].startswith("SELECT")]


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/openapi.json", "/accounts/login/"])
def test_anonymous_requests_get_no_session_written(client, path):
    with CaptureQueriesContext(connection) as queries:
        client.get(path)

    assert not [q for q in queries if "INSERT" in q["sql"] and "learners_session" in q["sql"]]
    assert Session.objects.count() == 0


def test_refresh_interval_must_be_below_the_idle_timeout():
    result = start(SESSION_COOKIE_AGE="600", SESSION_REFRESH_SECONDS="600")

    assert_refused_with_one_line(result, "SESSION_REFRESH_SECONDS")


@pytest.mark.parametrize("steps", [1, 40])
def test_password_page_queries_do_not_grow_with_progress(pupil, steps, django_assert_max_num_queries):
    chapter = make_chapter(steps=steps)
    for step in chapter.steps.all():
        LearningProgress.objects.create(user=pupil, step=step)
    client = Client()
    client.force_login(pupil)

    with django_assert_max_num_queries(PASSWORD_PAGE_QUERIES):
        assert client.get(reverse("learners:password")).status_code == 200
