"""The benchmark's baseline page (mars_labs/bench_views.py): mounted only with MARS_BENCH_BASELINE=1."""

import importlib

import pytest
from django.urls import clear_url_caches

import mars_labs.urls
from curriculum.models import Subject


@pytest.fixture
def reload_urls():
    """Reload the URLconf after the test changed the environment; restore it afterwards."""

    def reload():
        importlib.reload(mars_labs.urls)
        clear_url_caches()

    yield reload
    reload()  # the environment is restored by monkeypatch before this teardown runs


def test_baseline_is_not_mounted_without_the_variable(client, db, monkeypatch, reload_urls):
    monkeypatch.delenv("MARS_BENCH_BASELINE", raising=False)
    reload_urls()
    assert client.get("/bench/baseline").status_code == 404


def test_baseline_with_another_value_is_not_mounted(client, db, monkeypatch, reload_urls):
    monkeypatch.setenv("MARS_BENCH_BASELINE", "yes")
    reload_urls()
    assert client.get("/bench/baseline").status_code == 404


def test_baseline_renders_from_one_query_without_session_or_cookie(
    client, db, monkeypatch, reload_urls, django_assert_num_queries
):
    Subject.objects.create(code="phy", name="Physics", order=1)
    Subject.objects.create(code="chem", name="Chemistry", order=2)
    monkeypatch.setenv("MARS_BENCH_BASELINE", "1")
    reload_urls()
    with django_assert_num_queries(1):
        response = client.get("/bench/baseline")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("Physics") < body.index("Chemistry")
    assert not response.cookies  # no session, CSRF or messages cookie
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")  # the session was never read


def test_baseline_refuses_when_the_variable_goes_away(client, db, monkeypatch, reload_urls):
    monkeypatch.setenv("MARS_BENCH_BASELINE", "1")
    reload_urls()
    monkeypatch.setenv("MARS_BENCH_BASELINE", "0")
    assert client.get("/bench/baseline").status_code == 404
