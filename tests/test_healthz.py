"""/healthz: what load balancers and monitors see."""

import pytest
from django.db import OperationalError, connection
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_database(monkeypatch):
    """The database refuses every query, as when PostgreSQL is down."""

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)


def test_healthz_ok_with_database(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_needs_no_login(client):
    response = client.get("/healthz")

    assert response.status_code == 200


def test_healthz_503_when_database_broken(client, broken_database):
    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable", "detail": "OperationalError"}


def test_healthz_503_does_not_leak_error_text(client, broken_database):
    response = client.get(reverse("healthz"))

    assert "connection refused" not in response.content.decode()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_healthz_only_get_allowed(client, method):
    response = getattr(client, method)(reverse("healthz"))

    assert response.status_code == 405
    assert response["Allow"] == "GET"


@pytest.mark.parametrize("broken", [False, True], ids=["ok", "database broken"])
def test_healthz_never_cached(client, request, broken):
    if broken:
        request.getfixturevalue("broken_database")

    response = client.get(reverse("healthz"))

    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-cache", "no-store", "must-revalidate", "private"} <= cache_control
    assert "max-age=0" in cache_control
    assert "Expires" in response
