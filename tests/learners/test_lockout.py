"""Brute-force protection: django-axes locks a username *on one address*, for 15 minutes, after 5 failures."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCHOOL_IP = "203.0.113.7"
HOME_IP = "198.51.100.9"


def attempt(client, username, password, ip=SCHOOL_IP):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def asha():
    return UserFactory(username="asha", grade=12)


def fail_five_times(client, username="asha", ip=SCHOOL_IP):
    statuses = [attempt(client, username, "wrong-password", ip).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure is the one that locks


def test_fifth_failure_locks_the_username_with_a_friendly_page(client, asha, password):
    fail_five_times(client)

    response = attempt(client, "asha", password)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many wrong passwords" in page
    assert "paused for 15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_four_failures_then_right_password_logs_in_and_resets(client, asha, password):
    for _ in range(4):
        attempt(client, "asha", "wrong-password")

    assert attempt(client, "asha", password).status_code == 302
    assert not AccessAttempt.objects.filter(username="asha").exists()


def test_lockout_is_per_username_not_per_school_address(client, asha, password):
    UserFactory(username="ravi", grade=12)
    fail_five_times(client)

    other_pupil = attempt(client, "ravi", password)

    assert other_pupil.status_code == 302


def test_lockout_is_per_address_too(client, asha, password):
    fail_five_times(client)

    from_home = attempt(client, "asha", password, ip=HOME_IP)

    assert from_home.status_code == 302


def test_lockout_ends_after_fifteen_minutes(client, asha, password):
    fail_five_times(client)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert attempt(client, "asha", password).status_code == 302


def test_lockout_still_on_after_fourteen_minutes(client, asha, password):
    fail_five_times(client)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))

    assert attempt(client, "asha", password).status_code == 429
